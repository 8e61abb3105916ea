"""Unlabelled points as a batched environment: clustering (DESIGN §1).

Each sub-env shows one point; the action is the cluster index the agent gives it
(``Discrete(num_clusters)``); the reward is minus the squared distance from the point to
the mean of the points that the action put in the same cluster within the batch. So a
batch's summed reward is minus its k-means inertia (within-cluster sum of squares), and
the reward is a value only: actions are indices, with no gradient. The true labels never
reach ``obs``, ``reward`` or ``info``; they only score a clustering at evaluation
(adjusted Rand index, NMI).

The points of a split live on the device and batches come from a stream of random
permutations (``envs/sampler.py``); every step ends every one-step episode (SAME_STEP
autoreset), and ``state_dict`` resumes the batch order exactly. A batch as large as the
split (full-batch Lloyd k-means) is the whole split each step, in order, without a copy.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from torch import Tensor

from envs.cluster_stats import cluster_means, sq_dist_to_means, within_cluster_sq_dist
from envs.loaders import load_sklearn, make_blobs, split_indices
from envs.sampler import Sampler
from sandbox.device import canonical_device
from sandbox.errors import UsageError
from sandbox.spaces import ActionChecker

SPLITS = ("train", "test")


class ClusteringEnv(gymnasium.vector.VectorEnv):
    """Any points as a clustering env: ``ClusteringEnv(X, labels, num_clusters=k, num_envs=N)``.

    Observation ``(N, d)``: a batch of points. Action ``(N,)`` int: a cluster index per point,
    in ``[0, num_clusters)``. Reward ``(N,)``: minus each point's squared distance to the mean
    of its batch-mates in the same cluster. ``info`` holds ``final_obs`` and its mask, and the
    batch's ``cluster_means``, ``cluster_sizes`` and ``batch_inertia``, on every device.
    ``score(policy)`` clusters the whole split once and returns ``inertia`` (summed, as
    scikit-learn's ``inertia_``) and, when labels were given, ``ari`` (the headline ``score``)
    and ``nmi``; without labels ``score`` is minus the mean squared distance per point.

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

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
    RESERVED_KWARGS = ("split",)
    """Constructor keywords that are not fields of ``Config``."""

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
        self._points = _check_points(X, labels, num_clusters, test_fraction, split)
        self.device = canonical_device(device)
        self.num_envs, self.num_clusters, self.image_shape = num_envs, num_clusters, image_shape
        self.options = dict(
            num_clusters=num_clusters, test_fraction=test_fraction, data_seed=data_seed
        )
        self._parts = split_indices(len(self._points[0]), 0.0, test_fraction, data_seed)
        self.single_observation_space = spaces.Box(
            -np.inf, np.inf, (self._points[0].shape[1],), np.float32
        )
        self.single_action_space = spaces.Discrete(num_clusters)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)  # MultiDiscrete
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)
        # Every step ends every one-step episode. Returned as is each step: do not modify.
        self._terminated = torch.ones(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._truncated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._use_split(split)

    def _use_split(self, split: str, rank: int = 0, world_size: int = 1) -> None:
        X, labels = self._points
        rows = self._parts[split]
        train, whole = split == "train", self.num_envs == len(rows)
        # A full batch shows the split in order: the reward of no point depends on the order.
        self.sampler = Sampler(
            (X[rows],), self.num_envs, device=self.device, shuffle=train and not whole, strict=train
        )
        self.sampler.shard(rank, world_size)
        self.split = split
        self.X = self.sampler.tensors[0]  # (n, d) on the device
        self.labels = None if labels is None else labels[rows]  # (n,) on the CPU, for score

    def shard(self, rank: int, world_size: int) -> None:
        """Show this rank its slice of each global batch (``Sampler.shard``)."""
        self.sampler.shard(rank, world_size)

    def with_split(self, split: str) -> ClusteringEnv:
        """The same points and options on another split."""
        if split not in SPLITS:
            raise UsageError(f"split must be one of {SPLITS}, got {split!r}")
        other = copy.copy(self)
        other._use_split(split, self.sampler.rank, self.sampler.world_size)
        return other

    def eval_env(self) -> ClusteringEnv:
        """The held-out points; the train split itself when ``test_fraction`` is 0."""
        return self.with_split("test" if len(self._parts["test"]) else "train")

    # --- the vector env API -------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Start a fresh epoch; ``seed`` reseeds the batch order."""
        self.sampler.reset(seed)
        (self._obs,) = self.sampler.next_batch()
        return self._obs, {}

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Reward the batch's assignment (labels unused), then show the next batch.

        ``info`` reveals what the reward was computed from, once: ``cluster_means`` ``(k, d)``
        and ``cluster_sizes`` ``(k,)`` of the batch under the action, and ``batch_inertia``
        (0-d, minus the summed reward), so an agent need not pass over the points again.
        """
        self._check_action(action)
        reward, means, sizes = self.reward_and_means(self._obs, action)
        info = {
            "final_obs": self._obs,
            "_final_obs": self._terminated,
            "cluster_means": means,
            "cluster_sizes": sizes,
            "batch_inertia": -reward.sum(),
        }
        (self._obs,) = self.sampler.next_batch()
        return self._obs, reward, self._terminated, self._truncated, info

    def reward(self, X: Tensor, action: Tensor) -> Tensor:
        """Minus each point's squared distance to its cluster's mean in the batch: ``(N,)``."""
        return self.reward_and_means(X, action)[0]

    def reward_and_means(self, X: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The reward ``(N,)`` and the batch's cluster means ``(k, d)`` and sizes ``(k,)``.

        An index out of range gets NaN, which the loop's per-interval non-finite check reports
        (docs/architecture.md): on an accelerator the action check does not read values (a
        host sync), and such an index would crash the device in ``index_add_``.
        """
        valid = (action >= 0) & (action < self.num_clusters)  # (N,)
        action = torch.where(valid, action, 0)
        means, sizes = cluster_means(X, action, self.num_clusters)  # (k, d), (k,)
        reward = torch.where(valid, sq_dist_to_means(X, action, means).neg_(), torch.nan)
        return reward, means, sizes

    # --- evaluation and resume ----------------------------------------------------------
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
        if self.labels is None:
            return {"score": -inertia / len(self.X), "inertia": inertia}
        # scikit-learn's metrics, on the host: one transfer per evaluation, never per step.
        true, pred = self.labels.numpy(), assignment.cpu().numpy()
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

    def state_dict(self) -> dict[str, Any]:
        """The batch order and position: enough to continue exactly."""
        return {"sampler": self.sampler.state_dict(), "split": self.split}

    def load_state_dict(self, state: dict[str, Any]) -> Tensor:
        """Restore ``state_dict``; return the current batch to act on."""
        if state["split"] != self.split:
            raise UsageError(f"env state is for split {state['split']!r}, not {self.split!r}")
        self.sampler.load_state_dict(state["sampler"])
        (self._obs,) = self.sampler.batch()
        return self._obs

    def config_dict(self) -> dict[str, Any]:
        """The env's options, for the run's config table and checkpoint."""
        config = getattr(self, "config", None)
        return dict(self.options) if config is None else dataclasses.asdict(config)


def _check_points(
    X: Any, labels: Any, num_clusters: Any, test_fraction: float, split: str
) -> tuple[Tensor, Tensor | None]:
    """The points as float32 ``(n, d)`` and the labels as long ``(n,)`` (or ``None``), checked."""
    X = torch.as_tensor(X, dtype=torch.float32)
    if X.ndim != 2:
        raise UsageError(
            f"ClusteringEnv needs points of shape (num_points, num_features), got {tuple(X.shape)}"
        )
    if labels is not None:
        labels = torch.as_tensor(labels).long()
        if labels.shape != (len(X),):
            raise UsageError(
                f"labels must be one per point, ({len(X)},), got {tuple(labels.shape)}"
            )
    if not isinstance(num_clusters, int) or num_clusters < 1:
        raise UsageError(f"num_clusters must be a positive integer, got {num_clusters!r}")
    if not 0 <= test_fraction < 1:
        raise UsageError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if split not in SPLITS:
        raise UsageError(f"split must be one of {SPLITS}, got {split!r}")
    return X, labels


# --- the registered datasets ------------------------------------------------------------------
DATASETS = {  # name -> (number of hidden classes, default batch); blobs: its num_centers
    "blobs": (None, 256),
    "digits": (10, 256),
    "iris": (3, 30),
}
BLOBS_ONLY = ("num_samples", "num_features", "num_centers", "cluster_std")


@dataclass(frozen=True)
class ClusteringConfig:
    """Options of the registered clustering envs (Blobs, DigitsClusters, IrisClusters)."""

    num_clusters: int | None = None
    """k: the action space is Discrete(k); None: the dataset's classes (digits 10, iris 3,
    blobs num_centers)."""
    test_fraction: float = 0.2
    """Share of the points held out for evaluation (0: evaluate on the train split)."""
    data_seed: int = 0
    """Seed of the split and of generated blobs (not of the batch order)."""
    num_samples: int = 10_000
    """Blobs only: points generated."""
    num_features: int = 16
    """Blobs only: dimensions of a point."""
    num_centers: int = 10
    """Blobs only: blobs generated (the hidden labels)."""
    cluster_std: float = 1.0
    """Blobs only: standard deviation of each blob (centres are drawn in [-10, 10]^d)."""

    def __post_init__(self) -> None:
        if self.num_clusters is not None and self.num_clusters < 1:
            raise ValueError(f"num_clusters must be >= 1, got {self.num_clusters}")
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if min(self.num_samples, self.num_features, self.num_centers) < 1:
            raise ValueError(
                "num_samples, num_features and num_centers must be >= 1, got "
                f"{self.num_samples}, {self.num_features}, {self.num_centers}"
            )
        if not self.cluster_std > 0:
            raise ValueError(f"cluster_std must be > 0, got {self.cluster_std}")


def load_points(dataset: str, cfg: ClusteringConfig) -> tuple[Tensor, Tensor, int]:
    """A named dataset's points ``(n, d)``, hidden labels ``(n,)`` and number of classes."""
    if dataset == "blobs":
        X, labels = make_blobs(
            cfg.num_samples, cfg.num_centers, cfg.num_features, cfg.cluster_std, cfg.data_seed
        )
        return X, labels, cfg.num_centers
    default = ClusteringConfig()
    changed = [name for name in BLOBS_ONLY if getattr(cfg, name) != getattr(default, name)]
    if changed:
        raise UsageError(
            f"{', '.join(changed)} generate the blobs only; the {dataset} points are fixed"
        )
    X, labels = load_sklearn(dataset)
    if dataset == "digits":
        X = X / 16.0  # pixel intensities 0..16 -> [0, 1]
    return X, labels, DATASETS[dataset][0]


class ClusterDatasetEnv(ClusteringEnv):
    """A named dataset clustered (``DATASETS``); each registered id below pins one."""

    Config = ClusteringConfig
    dataset = "blobs"

    def __init__(
        self,
        num_envs: int | None = None,
        *,
        device: str | torch.device = "cpu",
        split: str = "train",
        **config: Any,
    ) -> None:
        self.config = cfg = ClusteringConfig(**config)
        X, labels, num_classes = load_points(self.dataset, cfg)
        super().__init__(
            X,
            labels,
            num_clusters=cfg.num_clusters or num_classes,
            num_envs=num_envs or DATASETS[self.dataset][1],
            device=device,
            split=split,
            test_fraction=cfg.test_fraction,
            data_seed=cfg.data_seed,
            image_shape=(1, 8, 8) if self.dataset == "digits" else None,
        )


class BlobsEnv(ClusterDatasetEnv):
    """``sandbox/Blobs-v0``: find scikit-learn's isotropic Gaussian blobs without their labels."""

    dataset = "blobs"


class DigitsClustersEnv(ClusterDatasetEnv):
    """``sandbox/DigitsClusters-v0``: group 1,797 8×8 digits as 64-D points in [0, 1]; centres
    are logged as images."""

    dataset = "digits"


class IrisClustersEnv(ClusterDatasetEnv):
    """``sandbox/IrisClusters-v0``: recover Fisher's three species from four measurements."""

    dataset = "iris"
