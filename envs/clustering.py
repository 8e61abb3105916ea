"""Unlabelled points as a batched environment: clustering (DESIGN §1).

Each sub-env shows one point; the action is the cluster index the agent gives it
(``Discrete(num_clusters)``); the reward is minus the squared distance from the point to
the mean of the points that the action put in the same cluster within the batch. So a
batch's summed reward is minus its k-means inertia (within-cluster sum of squares), and
the reward is a value only: actions are indices, with no gradient. The true labels never
reach ``obs``, ``reward`` or ``info``; they only score a clustering at evaluation
(adjusted Rand index, NMI).

The dataset mechanism is ``SupervisedEnv``'s: the split lives on the device, batches come
from a stream of random permutations, every step ends every one-step episode (SAME_STEP
autoreset), and ``state_dict`` resumes the batch order exactly. A batch as large as the
split (full-batch Lloyd k-means) is the whole split each step, without a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector.utils import batch_space
from sklearn import datasets as sk_datasets
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from torch import Tensor

from envs.supervised import SupervisedEnv
from sandbox.spaces import ActionChecker
from sandbox.core import UsageError

CHUNK = 16384
"""Rows per slice when a batch is large (full-batch Lloyd on 200k points)."""


def cluster_sums(X: Tensor, assignment: Tensor, num_clusters: int) -> tuple[Tensor, Tensor]:
    """Per-cluster sums of the points and counts: ``(k, d)`` and ``(k,)``, float.

    Example:
        >>> sums, counts = cluster_sums(torch.tensor([[0.0], [2.0], [10.0]]),
        ...                             torch.tensor([0, 0, 1]), 3)
        >>> sums.flatten().tolist(), counts.tolist()
        ([2.0, 10.0, 0.0], [2.0, 1.0, 0.0])
    """
    sums = X.new_zeros(num_clusters, X.shape[1]).index_add_(0, assignment, X)  # (k, d)
    return sums, cluster_sizes(X, assignment, num_clusters)


def cluster_sizes(X: Tensor, assignment: Tensor, num_clusters: int) -> Tensor:
    """The number of points in each cluster, ``(k,)`` in ``X``'s float dtype."""
    if len(X) < 2**24:
        # Ones added up: exact in float32 below 2^24 points, and a tenth of a Lloyd
        # iteration on digits faster than bincount, which first reads the input's min and max.
        return X.new_zeros(num_clusters).index_add_(0, assignment, X.new_ones(len(X)))
    return torch.bincount(assignment, minlength=num_clusters).to(X.dtype)


def cluster_means(X: Tensor, assignment: Tensor, num_clusters: int) -> tuple[Tensor, Tensor]:
    """Each cluster's mean ``(k, d)`` and its number of points ``(k,)`` (empty: mean 0).

    Example:
        >>> means, counts = cluster_means(torch.tensor([[0.0], [2.0], [7.0]]),
        ...                               torch.tensor([1, 1, 0]), 3)
        >>> means.flatten().tolist(), counts.tolist()
        ([7.0, 1.0, 0.0], [1.0, 2.0, 0.0])
    """
    sums, counts = cluster_sums(X, assignment, num_clusters)
    return sums / counts.clamp(min=1).unsqueeze(1), counts


def sq_dist_to_means(X: Tensor, assignment: Tensor, means: Tensor) -> Tensor:
    """Each point's squared distance to the mean of its cluster, ``means[assignment]``: ``(N,)``."""
    # index_select rather than means[assignment]: the same rows, 2-6x faster on CPU; the
    # points subtracted from them in place: one (N, d) temporary, not two.
    if len(X) <= CHUNK:
        return means.index_select(0, assignment).sub_(X).square_().sum(dim=1)  # (N,)
    # A large batch in slices: the (CHUNK, d) temporaries stay in cache (2x faster on CPU).
    out = X.new_empty(len(X))  # (N,)
    slices = zip(X.split(CHUNK), assignment.split(CHUNK), out.split(CHUNK), strict=True)
    for X_c, a_c, out_c in slices:
        torch.sum(means.index_select(0, a_c).sub_(X_c).square_(), dim=1, out=out_c)
    return out


def within_cluster_sq_dist(X: Tensor, assignment: Tensor, num_clusters: int) -> Tensor:
    """Each point's squared distance to the mean of its cluster's points in ``X``: ``(N,)``.

    Minus this is the env's reward; its sum is the batch's k-means inertia.

    Example:
        >>> within_cluster_sq_dist(torch.tensor([[0.0], [2.0], [10.0]]),
        ...                        torch.tensor([0, 0, 1]), 2).tolist()
        [1.0, 1.0, 0.0]
    """
    return sq_dist_to_means(X, assignment, cluster_means(X, assignment, num_clusters)[0])


class ClusteringEnv(SupervisedEnv):
    """Any points as a clustering env: ``ClusteringEnv(X, labels, num_clusters=k, num_envs=N)``.

    Observation ``(N, d)``: a batch of points. Action ``(N,)`` int: a cluster index per point,
    in ``[0, num_clusters)``. Reward ``(N,)``: minus each point's squared distance to the mean
    of its batch-mates in the same cluster. ``score(policy)`` clusters the whole split once
    and returns ``inertia`` (summed, as scikit-learn's ``inertia_``) and, when labels were
    given, ``ari`` (the headline ``score``) and ``nmi``; without labels ``score`` is minus
    the mean squared distance per point.

    Args:
        X: points ``(num_points, d)``, an array or a tensor.
        labels: hidden class of each point ``(num_points,)``, for evaluation only; or ``None``.
        num_clusters: ``k``, the size of the action space.
        num_envs: points per step (a batch); the whole train split for full-batch Lloyd.
        device: where the split lives and every tensor is returned.
        split: ``"train"`` or ``"test"`` (held-out points, assigned but never learnt from).
        test_fraction: share of the points held out; ``0`` evaluates on the train split.
        data_seed: seed of the split (not of the batch order).
        image_shape: ``(C, H, W)`` of a point seen as an image, for the ``media`` hook.
    """

    def __init__(
        self,
        X: Tensor | np.ndarray,
        labels: Tensor | np.ndarray | None = None,
        *,
        num_clusters: int,
        num_envs: int,
        device: str | torch.device = "cpu",
        split: str = "train",
        test_fraction: float = 0.2,
        data_seed: int = 0,
        image_shape: tuple[int, ...] | None = None,
    ) -> None:
        X = torch.as_tensor(X, dtype=torch.float32)
        if X.ndim != 2:
            raise UsageError(
                "ClusteringEnv needs points of shape (num_points, num_features), "
                f"got {tuple(X.shape)}"
            )
        if not isinstance(num_clusters, int) or num_clusters < 1:
            raise UsageError(f"num_clusters must be a positive integer, got {num_clusters!r}")
        if not 0 <= test_fraction < 1:
            raise UsageError(f"test_fraction must be in [0, 1), got {test_fraction}")
        # "cuda" -> "cuda:0": tensors report an indexed device, and the ActionChecker
        # compares devices exactly (sandbox.resolve_device returns "cuda" unindexed).
        device = torch.empty(0, device=device).device
        self.has_labels = labels is not None
        # Labels only ever reach score(); without them the parent holds zeros.
        y = torch.zeros(len(X)) if labels is None else torch.as_tensor(labels)
        self.num_clusters, self.image_shape = num_clusters, image_shape
        super().__init__(
            X,
            y,
            num_envs=num_envs,
            device=device,
            split=split,
            val_fraction=0.0,
            test_fraction=test_fraction,
            data_seed=data_seed,
        )
        self.single_action_space = spaces.Discrete(num_clusters)
        self.action_space = batch_space(self.single_action_space, num_envs)  # MultiDiscrete
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)

    def eval_env(self) -> ClusteringEnv:
        """The held-out points; the train split itself when ``test_fraction`` is 0."""
        return self.with_split("test" if len(self._parts["test"]) else "train")

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Reward the batch's assignment (labels unused), then show the next batch.

        ``info["cluster_means"]`` ``(k, d)`` and ``info["cluster_sizes"]`` ``(k,)`` are what the
        reward was measured against: the batch's mean and number of points per cluster under
        this action (derived from the obs and the action alone). A k-means agent's update
        step needs exactly these, so it reads them rather than making a second pass.
        """
        self._check_action(action)
        if self._check_action.check_values:
            means, sizes = cluster_means(self._obs, action, self.num_clusters)
            reward = sq_dist_to_means(self._obs, action, means).neg_()  # (N,)
        else:
            reward, means, sizes = self._masked_reward(action)
        final_obs = self._obs
        obs = self._next_batch()
        info = {
            "final_obs": final_obs,
            "_final_obs": self._terminated,
            "cluster_means": means,
            "cluster_sizes": sizes,
        }
        return obs, reward, self._terminated, self._truncated, info

    def _masked_reward(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # On an accelerator the checker does not read values (a host sync): an index out of
        # range would crash the device in index_add_. It gets NaN instead, which the loop's
        # per-interval non-finite check reports (docs/architecture.md).
        valid = (action >= 0) & (action < self.num_clusters)  # (N,)
        action = torch.where(valid, action, 0)
        means, sizes = cluster_means(self._obs, action, self.num_clusters)
        distance = sq_dist_to_means(self._obs, action, means)
        return torch.where(valid, -distance, torch.nan), means, sizes

    def _next_batch(self) -> Tensor:
        if self.num_envs < len(self.X) or self.split != "train":
            return super()._next_batch()
        # Full batch: the whole split every step, as it lies (order does not change the
        # reward of any point), so nothing is shuffled or copied. Do not modify the obs.
        self.epoch += 1
        if len(self._order) != len(self.X):
            self._order = torch.arange(len(self.X), device=self.device)  # (n,)
        self._pos = len(self.X)
        self._idx, self._obs = self._order, self.X
        return self._obs

    # --- evaluation ---------------------------------------------------------------------
    @torch.inference_mode()
    def assign(self, policy: Any, batch_size: int = 65536) -> Tensor:
        """The policy's cluster index for every point of the split, in order: ``(n,)``."""
        starts = range(0, len(self.X), batch_size)
        assignment = torch.cat([policy(self.X[i : i + batch_size]) for i in starts])
        ActionChecker(self.single_action_space, len(self.X), self.device)(assignment)
        return assignment

    def score(self, policy: Any, batch_size: int = 65536) -> dict[str, Tensor]:
        """Cluster the split once; ``{"score", "inertia", "ari", "nmi"}`` as 0-d tensors."""
        assignment = self.assign(policy, batch_size)  # (n,)
        inertia = within_cluster_sq_dist(self.X, assignment, self.num_clusters).sum()
        if not self.has_labels:
            return {"score": -inertia / len(self.X), "inertia": inertia}
        # scikit-learn's metrics, on the host: one transfer per evaluation, never per step.
        true, pred = self.y.long().cpu().numpy(), assignment.cpu().numpy()
        ari = torch.tensor(adjusted_rand_score(true, pred), device=self.device)
        nmi = torch.tensor(normalized_mutual_info_score(true, pred), device=self.device)
        return {"score": ari, "inertia": inertia, "ari": ari, "nmi": nmi}

    @torch.inference_mode()
    def media(self, agent: Any) -> dict[str, Tensor]:
        """The mean of the points the agent puts in each cluster, as images (k, C, H, W).

        Only for points that are images (``image_shape``); scaled by the data's range to
        [0, 1]. Any agent has them, not only one with centres (an RL agent too).
        """
        if self.image_shape is None:
            return {}
        assignment = self.assign(lambda x: agent.act(x, deterministic=True))
        means, _ = cluster_means(self.X, assignment, self.num_clusters)  # empty: black
        low, high = self.X.min(), self.X.max()
        images = (means - low) / (high - low).clamp(min=1e-12)
        return {"cluster_centers": images.reshape(self.num_clusters, *self.image_shape)}


@dataclass(frozen=True)
class BlobsConfig:
    """Isotropic Gaussian blobs (scikit-learn's ``make_blobs``), labelled by blob."""

    num_clusters: int = 10
    """k: the action space is Discrete(k)."""
    num_samples: int = 10_000
    """Points generated."""
    num_features: int = 16
    """Dimensions of a point."""
    num_centers: int = 10
    """Blobs generated (the hidden labels)."""
    cluster_std: float = 1.0
    """Standard deviation of each blob (centres are drawn in [-10, 10]^d)."""
    test_fraction: float = 0.2
    """Share of the points held out for evaluation (0: evaluate on the train split)."""
    data_seed: int = 0
    """Seed of the data and the split (not of the batch order)."""

    def __post_init__(self) -> None:
        _check_options(self.num_clusters, self.test_fraction)
        if min(self.num_samples, self.num_features, self.num_centers) < 1:
            raise ValueError(
                "num_samples, num_features and num_centers must be >= 1, got "
                f"{self.num_samples}, {self.num_features}, {self.num_centers}"
            )
        if not self.cluster_std > 0:
            raise ValueError(f"cluster_std must be > 0, got {self.cluster_std}")


@dataclass(frozen=True)
class DigitsClustersConfig:
    """scikit-learn's 1,797 handwritten digits, 8×8 pixels scaled to [0, 1], as 64-D points."""

    num_clusters: int = 10
    """k: the action space is Discrete(k)."""
    test_fraction: float = 0.2
    """Share of the points held out for evaluation (0: evaluate on the train split)."""
    data_seed: int = 0
    """Seed of the split (not of the batch order)."""

    def __post_init__(self) -> None:
        _check_options(self.num_clusters, self.test_fraction)


@dataclass(frozen=True)
class IrisClustersConfig:
    """Fisher's 150 irises, 4 measurements in cm, 3 hidden species."""

    num_clusters: int = 3
    """k: the action space is Discrete(k)."""
    test_fraction: float = 0.2
    """Share of the points held out for evaluation (0: evaluate on the train split)."""
    data_seed: int = 0
    """Seed of the split (not of the batch order)."""

    def __post_init__(self) -> None:
        _check_options(self.num_clusters, self.test_fraction)


def _check_options(num_clusters: int, test_fraction: float) -> None:
    if num_clusters < 1:
        raise ValueError(f"num_clusters must be >= 1, got {num_clusters}")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")


class BlobsEnv(ClusteringEnv):
    """``sandbox/Blobs-v0``: find the Gaussian blobs without their labels."""

    Config = BlobsConfig

    def __init__(
        self,
        num_envs: int = 256,
        *,
        device: str | torch.device = "cpu",
        split: str = "train",
        **config: Any,
    ) -> None:
        self.config = cfg = BlobsConfig(**config)
        X, labels = sk_datasets.make_blobs(
            n_samples=cfg.num_samples,
            n_features=cfg.num_features,
            centers=cfg.num_centers,
            cluster_std=cfg.cluster_std,
            random_state=cfg.data_seed,
        )
        super().__init__(
            X,
            labels,
            num_clusters=cfg.num_clusters,
            num_envs=num_envs,
            device=device,
            split=split,
            test_fraction=cfg.test_fraction,
            data_seed=cfg.data_seed,
        )


class DigitsClustersEnv(ClusteringEnv):
    """``sandbox/DigitsClusters-v0``: group handwritten digits; centres are logged as images."""

    Config = DigitsClustersConfig

    def __init__(
        self,
        num_envs: int = 256,
        *,
        device: str | torch.device = "cpu",
        split: str = "train",
        **config: Any,
    ) -> None:
        self.config = cfg = DigitsClustersConfig(**config)
        digits = sk_datasets.load_digits()
        super().__init__(
            digits.data / 16.0,  # pixel intensities 0..16 -> [0, 1]
            digits.target,
            num_clusters=cfg.num_clusters,
            num_envs=num_envs,
            device=device,
            split=split,
            test_fraction=cfg.test_fraction,
            data_seed=cfg.data_seed,
            image_shape=(1, 8, 8),
        )


class IrisClustersEnv(ClusteringEnv):
    """``sandbox/IrisClusters-v0``: recover the three species from four measurements."""

    Config = IrisClustersConfig

    def __init__(
        self,
        num_envs: int = 30,
        *,
        device: str | torch.device = "cpu",
        split: str = "train",
        **config: Any,
    ) -> None:
        self.config = cfg = IrisClustersConfig(**config)
        iris = sk_datasets.load_iris()
        super().__init__(
            iris.data,
            iris.target,
            num_clusters=cfg.num_clusters,
            num_envs=num_envs,
            device=device,
            split=split,
            test_fraction=cfg.test_fraction,
            data_seed=cfg.data_seed,
        )
