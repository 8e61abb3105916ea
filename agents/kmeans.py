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

from envs.cluster_stats import CHUNK, cluster_means, sq_dist_to_means
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
    # ||x||² is the same for every centre, so the argmin skips it: scores ||c||² - 2 x.c.
    # In slices of CHUNK points, into one reused (CHUNK, k) buffer that stays in cache: the
    # whole (N, k) matrix would go out to memory and be read back for the min. min's indices
    # are argmin's, the first of tied minima.
    c2 = centers.square().sum(1)  # (k,)
    nearest = torch.empty(len(X), dtype=torch.long, device=X.device)  # (N,)
    scores = X.new_empty(min(len(X), CHUNK), len(centers))  # (CHUNK, k)
    lowest = X.new_empty(len(scores))  # (CHUNK,) the min scores, unused
    for start in range(0, len(X), CHUNK):
        X_c = X[start : start + CHUNK]  # (n, d), n <= CHUNK
        n = len(X_c)
        torch.addmm(c2, X_c, centers.T, alpha=-2, out=scores[:n])
        torch.min(scores[:n], dim=1, out=(lowest[:n], nearest[start : start + n]))
    return nearest


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
    centers: Tensor, means: Tensor, counts: Tensor, frozen: Tensor | bool = False
) -> tuple[Tensor, Tensor]:
    """Lloyd's update step: each centre to the mean of its points; an empty one stays.

    Args:
        frozen: ``True`` (a bool tensor, to stay on the device) keeps every centre in place.

    Returns:
        The new centres ``(k, d)`` and their summed squared shift (0-d).

    Example:
        >>> c, shift = lloyd_update(torch.tensor([[0.0], [5.0]]),
        ...     torch.tensor([[1.0], [0.0]]), torch.tensor([3.0, 0.0]))
        >>> c.flatten().tolist(), shift.item()
        ([1.0, 5.0], 1.0)
    """
    move = (counts > 0) & ~torch.as_tensor(frozen, device=centers.device)  # (k,)
    new = torch.where(move.unsqueeze(1), means, centers)  # (k, d)
    return new, (new - centers).square().sum()


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

    def _batch(self, t: Transition) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The batch's points ``(N, d)``, the mean ``(k, d)`` and size ``(k,)`` of each cluster
        under the assignment the agent acted with, and the inertia (0-d) against the centres
        it acted with (before they move).

        The clustering env reveals the means, sizes and within-cluster inertia it computed
        for its reward (``info``); from any other env, the agent computes them itself.
        """
        if self.centers is None:
            raise UsageError(f"agent {self.name!r} must act before it learns")
        X = t.obs.flatten(1)  # (N, d)
        if "cluster_means" not in t.info:
            means, counts = cluster_means(X, t.action, self.num_clusters)
            inertia = sq_dist_to_means(X, t.action, self.centers).sum()
            return X, means, counts, inertia
        means, counts = t.info["cluster_means"], t.info["cluster_sizes"]
        # Inertia against the centres from the inertia against the means, with no pass over
        # the points: sum |x - c|² = sum |x - m|² + sum_j n_j |m_j - c_j|² (m_j the mean).
        offset = counts @ (means - self.centers).square().sum(1)  # (k,) . (k,) -> 0-d
        return X, means, counts, t.info["batch_inertia"] + offset


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
        # 1. the batch's cluster means and inertia, under the assignment the agent acted with
        X, means, counts, inertia = self._batch(transition)
        # 2. Sculley's update, the batch at once
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
        # 1. the split's cluster means and this iteration's inertia, under the assignment the
        # agent acted with
        X, means, counts, inertia = self._batch(transition)
        if self.tol is None:  # scikit-learn's tol is relative to the mean feature variance
            self.tol = self.config.tol * X.var(dim=0, correction=0).mean()
        # 2. the update step, until a step barely moves the centres: then they stay, as in
        # scikit-learn, whose fit stops there
        self.centers, shift = lloyd_update(self.centers, means, counts, frozen=self.converged)
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
