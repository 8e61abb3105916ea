"""k-means as agents: mini-batch k-means (Sculley 2010) and Lloyd's full-batch k-means.

Sculley, "Web-scale k-means clustering", WWW 2010, Algorithm 1; Lloyd, "Least squares
quantization in PCM", 1982; Arthur & Vassilvitskii, "k-means++", SODA 2007.
Acting is the assignment step: each point gets its nearest centre. Learning is the update
step. Lloyd moves every centre to the mean of its points, the whole split being one batch;
mini-batch k-means moves each centre towards its batch mean at a per-centre rate 1/v (v:
the points it has been given so far), a running mean, so the centres settle as v grows.
d2l has no k-means section: this is the unsupervised counterpart of §3.4's minibatch SGD.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from gymnasium import spaces
from torch import Tensor

from sandbox.core import Env, Transition, UsageError, env_device


@dataclass(frozen=True)
class KMeansConfig:
    """Hyperparameters of mini-batch k-means (Sculley's algorithm has no learning rate)."""

    init: Literal["k-means++", "random"] = "k-means++"
    """Initial centres drawn from the first batch: k-means++ seeding, or k random points."""


@dataclass(frozen=True)
class LloydConfig:
    """Hyperparameters of Lloyd's full-batch k-means."""

    init: Literal["k-means++", "random"] = "k-means++"
    """Initial centres drawn from the first batch: k-means++ seeding, or k random points."""
    tol: float = 1e-4
    """Converged when the centres' summed squared shift is at most tol x the data's mean
    feature variance (scikit-learn's rule); the centres then stay where they are."""

    def __post_init__(self) -> None:
        if self.tol < 0:
            raise ValueError(f"tol must be >= 0, got {self.tol}")


def sq_distances(X: Tensor, centers: Tensor) -> Tensor:
    """Squared Euclidean distances ``(N, k)`` from points ``(N, d)`` to centres ``(k, d)``.

    Example:
        >>> sq_distances(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0], [0.0, 1.0]]))
        tensor([[25.,  1.]])
    """
    # ||x||² - 2 x.c + ||c||²: one matmul instead of an (N, k, d) difference tensor.
    d2 = torch.addmm(centers.square().sum(1), X, centers.T, alpha=-2)  # (N, k)
    return d2.add_(X.square().sum(1, keepdim=True)).clamp_(min=0)


def assign(X: Tensor, centers: Tensor) -> Tensor:
    """The index of each point's nearest centre: ``(N,)`` long (the assignment step).

    Example:
        >>> assign(torch.tensor([[0.0], [9.0]]), torch.tensor([[10.0], [1.0]])).tolist()
        [1, 0]
    """
    # ||x||² is the same for every centre, so the argmin skips it. Laid out (k, N), the
    # matmul and the min over centres both run 2-3x faster on CPU than in (N, k) for small k
    # (bench/kmeans.py); min's indices are argmin's, the first of tied minima.
    scores = torch.addmm(centers.square().sum(1, keepdim=True), centers, X.T, alpha=-2)  # (k, N)
    return scores.min(dim=0).indices  # (N,)


def kmeans_plusplus(X: Tensor, num_clusters: int, init: str = "k-means++") -> Tensor:
    """Initial centres ``(k, d)`` drawn from the points ``X`` with torch's global RNG.

    ``"k-means++"``: the first centre uniformly, each next one by D² sampling, keeping the
    best of ``2 + ln k`` candidates (greedy k-means++, as scikit-learn). ``"random"``: k
    distinct points.

    Example:
        >>> X = torch.tensor([[0.0], [0.1], [10.0], [10.1], [20.0], [20.1]])
        >>> sorted(round(float(c) / 10) for c in kmeans_plusplus(X, 3))
        [0, 1, 2]
    """
    num_points = len(X)
    if num_points < num_clusters:
        raise UsageError(f"k-means needs at least k = {num_clusters} points, got {num_points}")
    if init == "random":
        return X[torch.randperm(num_points, device=X.device)[:num_clusters]].clone()
    num_trials = 2 + int(math.log(num_clusters))
    centers = [X[torch.randint(num_points, (1,), device=X.device)]]  # [(1, d)]
    closest = sq_distances(X, centers[0]).squeeze(1)  # (N,) D² to the nearest chosen centre
    for _ in range(1, num_clusters):
        # All points at distance 0 (fewer distinct points than k): sample uniformly.
        weights = torch.where(closest.sum() > 0, closest, torch.ones_like(closest))
        candidates = torch.multinomial(weights, num_trials, replacement=True)  # (T,)
        trial = torch.minimum(closest.unsqueeze(1), sq_distances(X, X[candidates]))  # (N, T)
        best = trial.sum(0).argmin()  # the candidate that lowers the potential most
        closest = trial[:, best]
        centers.append(X[candidates[best]].unsqueeze(0))
    return torch.cat(centers)  # (k, d)


def batch_stats(X: Tensor, assignment: Tensor, num_clusters: int) -> tuple[Tensor, Tensor]:
    """Each cluster's mean ``(k, d)`` in the batch and its count ``(k,)`` (0: mean is 0).

    Example:
        >>> means, counts = batch_stats(torch.tensor([[0.0], [2.0], [7.0]]),
        ...                             torch.tensor([1, 1, 0]), 3)
        >>> means.flatten().tolist(), counts.tolist()
        ([7.0, 1.0, 0.0], [1.0, 2.0, 0.0])
    """
    sums = X.new_zeros(num_clusters, X.shape[1]).index_add_(0, assignment, X)  # (k, d)
    counts = torch.bincount(assignment, minlength=num_clusters).to(X.dtype)  # (k,)
    return sums / counts.clamp(min=1).unsqueeze(1), counts


def inertia_from_reward(reward: Tensor, centers: Tensor, means: Tensor, counts: Tensor) -> Tensor:
    """The batch's inertia against ``centers``, from the env's reward (parallel-axis theorem).

    The reward is minus each point's squared distance to its batch mean ``m``; moving the
    reference point from ``m`` to the centre ``c`` adds ``n_c ||m_c - c||²`` per cluster, so
    ``sum ||x - c_a||² = -sum(reward) + sum_c n_c ||m_c - c_c||²`` with no pass over the batch.

    Example:
        >>> float(inertia_from_reward(torch.tensor([-1.0, -1.0]), torch.tensor([[0.0]]),
        ...                           torch.tensor([[1.0]]), torch.tensor([2.0])))
        4.0
    """
    return -reward.sum() + (counts * (means - centers).square().sum(1)).sum()


def minibatch_update(
    centers: Tensor, seen: Tensor, means: Tensor, counts: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Sculley's per-point update ``c <- (1 - 1/v) c + x / v`` for a whole batch at once.

    With the assignments fixed for the batch, the per-point updates of one centre are a
    running mean, so they sum to ``c <- c + (n / v) (m - c)``: ``n`` the batch's points in
    that cluster, ``m`` their mean, ``v`` the points given to it so far, batch included.

    Returns:
        The new centres ``(k, d)``, the new counts ``v`` ``(k,)`` and each centre's rate ``n/v``.

    Example:
        >>> c, v, rate = minibatch_update(torch.tensor([[0.0]]), torch.tensor([2.0]),
        ...                               torch.tensor([[3.0]]), torch.tensor([1.0]))
        >>> c.item(), v.item(), round(rate.item(), 4)
        (1.0, 3.0, 0.3333)
    """
    seen = seen + counts  # (k,)
    rate = counts / seen.clamp(min=1)  # (k,) per-centre learning rate; 0 for an unused centre
    return centers + rate.unsqueeze(1) * (means - centers), seen, rate


def lloyd_update(
    centers: Tensor, means: Tensor, counts: Tensor, reward: Tensor, frozen: Tensor | bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """Lloyd's update step: each centre to the mean of its points; an empty one stays.

    One per-centre figure, ``gap_c = ||m_c - c_c||²``, gives both the iteration's inertia
    against the old centres (``inertia_from_reward``: ``-sum(reward) + sum_c n_c gap_c``) and
    the centres' summed squared shift (the gaps of the centres that move), in a dozen small
    ops: a Lloyd iteration on small data is mostly per-op overhead (bench/kmeans.py).

    Args:
        frozen: ``True`` (a bool tensor, to stay on the device) keeps every centre in place.

    Returns:
        The new centres ``(k, d)``, the inertia (0-d) and the summed squared shift (0-d).

    Example:
        >>> c, inertia, shift = lloyd_update(torch.tensor([[0.0], [5.0]]),
        ...     torch.tensor([[1.0], [0.0]]), torch.tensor([3.0, 0.0]), torch.tensor([-2.0]))
        >>> c.flatten().tolist(), inertia.item(), shift.item()
        ([1.0, 5.0], 5.0, 1.0)
    """
    diff = means - centers  # (k, d)
    gap = torch.linalg.vecdot(diff, diff)  # (k,)
    inertia = torch.dot(counts, gap) - reward.sum()
    move = (counts > 0) & ~torch.as_tensor(frozen, device=centers.device)  # (k,)
    shift = torch.dot(gap, move.to(gap.dtype))
    return torch.where(move.unsqueeze(1), means, centers), inertia, shift


class _Centers:
    """What both k-means agents share: the spaces check, the centres and acting."""

    name = "k-means"

    def __init__(self, env: Env, config: Any, centers: Tensor | None) -> None:
        self.config = config
        act_space, obs_space = env.single_action_space, env.single_observation_space
        if not isinstance(act_space, spaces.Discrete) or not isinstance(obs_space, spaces.Box):
            raise UsageError(
                f"agent {self.name!r} needs points (a Box observation space) and a cluster "
                f"index per point (a Discrete action space); the env has {obs_space} and "
                f"{act_space}"
            )
        self.device = env_device(env)
        self.num_clusters = int(act_space.n)
        num_features = math.prod(obs_space.shape)
        if centers is not None:
            centers = torch.as_tensor(centers, dtype=torch.float32, device=self.device).clone()
            if centers.shape != (self.num_clusters, num_features):
                raise UsageError(
                    f"initial centres must have shape ({self.num_clusters}, {num_features}) "
                    f"(k x features), got {tuple(centers.shape)}"
                )
        self.centers: Tensor | None = centers  # (k, d); drawn from the first batch if None

    def act(self, obs: Tensor, *, deterministic: bool = False) -> Tensor:
        """Each point's nearest centre ``(N,)``; k-means does not explore."""
        X = obs.flatten(1)  # (N, d)
        if self.centers is None:
            self.centers = kmeans_plusplus(X, self.num_clusters, self.config.init)
        return assign(X, self.centers)

    def _batch(self, t: Transition) -> tuple[Tensor, Tensor]:
        """The batch's cluster means and sizes under the action: the env's, when it says
        (a clustering env measures its reward against them), else computed here."""
        if self.centers is None:
            raise UsageError(f"agent {self.name!r} must act before it learns")
        if "cluster_means" in t.info:
            return t.info["cluster_means"], t.info["cluster_sizes"]
        return batch_stats(t.obs.flatten(1), t.action, self.num_clusters)


class KMeansAgent(_Centers):
    """Mini-batch k-means (Sculley 2010): each centre a running mean of the points it got.

    Args:
        env: a clustering env (Box points in, one Discrete cluster index per point out).
        config: hyperparameters; defaults to ``KMeansConfig()``.
        centers: initial centres ``(k, d)``; by default drawn from the first batch.
    """

    Config = KMeansConfig
    name = "kmeans"

    def __init__(
        self, env: Env, config: KMeansConfig | None = None, *, centers: Tensor | None = None
    ) -> None:
        super().__init__(env, config or KMeansConfig(), centers)
        self.seen = torch.zeros(self.num_clusters, device=self.device)  # (k,) points per centre

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """Move each centre towards its batch mean at its own rate n/v."""
        # 1. the batch's cluster means, under the assignment the agent acted
        means, counts = self._batch(transition)
        # 2. the batch's inertia against the centres it acted with (before they move)
        inertia = inertia_from_reward(transition.reward, self.centers, means, counts)
        # 3. Sculley's update, the batch at once
        self.centers, self.seen, rate = minibatch_update(self.centers, self.seen, means, counts)
        used = (counts > 0).sum().clamp(min=1)
        return {"train/inertia": inertia, "train/learning_rate": rate.sum() / used}

    def state_dict(self) -> dict[str, Any]:
        """Centres, per-centre counts and the config as a plain dict."""
        return {
            "centers": self.centers,
            "seen": self.seen,
            "config": dataclasses.asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``."""
        centers = state["centers"]
        self.centers = None if centers is None else centers.to(self.device)
        self.seen = state["seen"].to(self.device)


class LloydAgent(_Centers):
    """Lloyd's k-means: one step is one iteration over the whole split (num_envs = its size).

    ``act`` is the assignment step and ``learn`` the update step, so one Lloyd iteration
    consumes the split once on the samples axis, as it costs one pass over the data. Once
    an update barely moves the centres, ``converged`` turns true (``train/converged``) and
    the centres stay; a caller that wants to stop early reads it.

    Args:
        env: a clustering env whose batch is its whole train split.
        config: hyperparameters; defaults to ``LloydConfig()``.
        centers: initial centres ``(k, d)``; by default drawn from the first batch.
    """

    Config = LloydConfig
    name = "lloyd"

    def __init__(
        self, env: Env, config: LloydConfig | None = None, *, centers: Tensor | None = None
    ) -> None:
        super().__init__(env, config or LloydConfig(), centers)
        num_points = len(getattr(env, "X", ()))
        if num_points and env.num_envs != num_points:
            raise UsageError(
                f"agent 'lloyd' sees the whole split as one batch: build the env with "
                f"num_envs={num_points} (--num-envs {num_points}), got {env.num_envs}; "
                "agent 'kmeans' learns from smaller batches"
            )
        self.tol: Tensor | None = None  # absolute tolerance, from the data's variance
        self.converged = torch.zeros((), dtype=torch.bool, device=self.device)

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """Move every centre to the mean of the points assigned to it."""
        # 1. the split's cluster means, under the assignment the agent acted
        means, counts = self._batch(transition)
        if self.tol is None:
            # scikit-learn's tol is relative to the data's mean feature variance: the
            # inertia about the grand mean, again from the reward (no pass over the data)
            grand_mean = (counts @ means / counts.sum()).expand_as(means)  # (k, d)
            total = inertia_from_reward(transition.reward, grand_mean, means, counts)
            self.tol = self.config.tol * total / (counts.sum() * means.shape[1])
        # 2. the update step and this iteration's inertia (against the centres it assigned
        # with), until a step barely moves the centres: then they stay, as in scikit-learn,
        # whose fit stops there
        self.centers, inertia, shift = lloyd_update(
            self.centers, means, counts, transition.reward, frozen=self.converged
        )
        self.converged = self.converged | (shift <= self.tol)
        return {
            "train/inertia": inertia,
            "train/center_shift": shift,
            "train/converged": self.converged,  # a bool, averaged as a float when logged
        }

    def state_dict(self) -> dict[str, Any]:
        """Centres, tolerance, convergence flag and the config as a plain dict."""
        return {
            "centers": self.centers,
            "tol": self.tol,
            "converged": self.converged,
            "config": dataclasses.asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``."""
        move = lambda t: None if t is None else t.to(self.device)  # noqa: E731
        self.centers, self.tol = move(state["centers"]), move(state["tol"])
        self.converged = state["converged"].to(self.device)
