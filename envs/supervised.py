"""A labelled dataset as a batched environment (DESIGN §1, d2l §3.1–3.3 and §4.1).

Each sub-env shows one sample; the action is the agent's answer for it; the env, which alone
holds the labels, turns the answer into a reward. What the reward reveals is the option
``feedback``:

- ``gradient`` (default): minus the loss — squared error for regression, cross-entropy on
  logits for classes, BCE-with-logits on one logit per sample for two classes — with its
  autograd graph back to the action: full information, for a gradient learner;
- ``bandit``: the action is one class index; the reward is 1 if right, else 0, without
  gradient and without the label — a contextual bandit, for RL agents;
- ``label``: minus the loss, detached, and the batch's labels in ``info["target"]`` after
  acting — the online-learning protocol, for learners that want labels.

Every step ends every one-step episode and the next batch is the new episodes' first
observations (SAME_STEP autoreset). The whole split lives on the device and batches are
drawn by indexing a stream of random permutations (``envs/sampler.py``), so an epoch sees
every training sample once and nothing is copied to the device per step.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from torch import Tensor

from envs import augment, representation, wrappers
from envs.feedback import (  # noqa: F401  the rewards, importable from here as before
    FEEDBACK,
    binary_cross_entropy_reward,
    cross_entropy_reward,
    hit_reward,
    reward_and_action_space,
    squared_error_reward,
)
from envs.loaders import SPLITS, as_tensors, class_count, feature_stats, split_indices
from envs.sampler import Sampler
from sandbox import distributed
from sandbox.device import canonical_device
from sandbox.errors import UsageError
from sandbox.registry import build_config
from sandbox.spaces import ActionChecker


@dataclass(frozen=True)
class SupervisedConfig:
    """Options of every dataset env: what it reveals, how it splits, what it does to train data."""

    feedback: Literal["gradient", "bandit", "label"] = "gradient"
    """gradient: reward -loss with its graph; bandit: 1 if the class index is right, else 0, no
    gradient, no label; label: -loss detached, the labels in info['target'] after acting."""
    standardize: bool = True
    """Standardize features (and regression targets) with statistics of the train split only."""
    val_fraction: float = 0.1
    """Fraction of the samples held out for validation."""
    test_fraction: float = 0.2
    """Fraction held out for testing (a dataset with an official test set uses that instead)."""
    data_seed: int = 0
    """Seed of the split, of generated data and of the corruptions (not of the batch order)."""
    label_noise: float = 0.0
    """Fraction of training labels set to another class at random (garbage in)."""
    feature_noise: float = 0.0
    """Std of Gaussian noise added once to the (standardized) training features."""
    imbalance: float = 1.0
    """Long-tailed train split: class c keeps imbalance**(c/(C-1)) of its samples (1: as is)."""
    augment: str = ""
    """Images: augment each training batch, per sample, e.g. 'crop:4,flip,rotate:10,jitter:0.2'
    (envs/augment.py); from Python also any callable on (N, C, H, W) images in [0, 1]."""

    def __post_init__(self) -> None:
        if self.feedback not in FEEDBACK:
            raise ValueError(f"feedback must be one of {FEEDBACK}, got {self.feedback!r}")
        for name in ("val_fraction", "test_fraction", "label_noise"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                "val_fraction + test_fraction must leave a train split, got "
                f"{self.val_fraction} + {self.test_fraction}"
            )
        if self.feature_noise < 0:
            raise ValueError(f"feature_noise must be >= 0, got {self.feature_noise}")
        augment.pipeline(self.augment)  # a bad transform name or value: one line, now
        if not 0 < self.imbalance <= 1:
            raise ValueError(f"imbalance must be in (0, 1], got {self.imbalance}")


class SupervisedEnv(gymnasium.vector.VectorEnv):
    """A dataset ``(X, y)`` as a batched env: regression or classification, three feedbacks.

    Observation ``(N, *feature_shape)`` (images ``(N, C, H, W)``). Action and reward by task
    and ``feedback`` (module docstring): predictions ``(N, *target_shape)``, logits
    ``(N, C)``, one logit ``(N,)`` for two classes, or class indices ``(N,)`` as a bandit.
    ``score(policy)`` passes over the split exactly once and returns ``eval/*`` figures:
    accuracy for classes, R² for regression.

    Args:
        X: features ``(n, ...)``, or a ``torch.utils.data.Dataset`` of ``(x, y)`` pairs.
        y: labels ``(n,)`` (integers: classes) or targets ``(n, ...)`` (floats: regression).
        num_envs: the batch, samples per step.
        device: where the split's tensors live.
        split: ``"train"``, ``"val"`` or ``"test"``.
        config: a ``SupervisedConfig``; or give its fields as keyword ``options`` (then
            ``standardize`` defaults to ``False``: your data is shown as given).
        num_classes: classes, when not all of them appear in ``y`` (default ``max(y) + 1``).
        num_test: the last ``num_test`` samples are the official test set (0: split at random).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
    RESERVED_KWARGS = ("split",)
    """Constructor keywords that are not fields of ``Config``."""

    def __init__(
        self,
        X: Any,
        y: Any = None,
        *,
        num_envs: int = 32,
        device: str | torch.device = "cpu",
        split: str = "train",
        config: SupervisedConfig | None = None,
        num_classes: int | None = None,
        num_test: int = 0,
        **options: Any,
    ) -> None:
        if config is not None and options:
            raise UsageError(f"pass config= or its fields as options, not both: {list(options)}")
        # Your own data is shown as given unless you ask; the named datasets standardize.
        options = {"standardize": False, **options}
        self.options = cfg = config or build_config(SupervisedConfig, options, "SupervisedEnv")
        if split not in SPLITS:
            raise UsageError(f"split must be one of {SPLITS}, got {split!r}")
        X, y = as_tensors(X, y)
        self.device = canonical_device(device)
        self.num_envs, self.split = num_envs, split
        self.feedback = cfg.feedback
        self.num_classes = class_count(y, num_classes)
        self.task = "regression" if self.num_classes is None else "classification"
        self._check_options(X)
        self._parts = _split(len(X), num_test, cfg)
        self._data = self._standardize(X, y)  # the full dataset on the CPU; splits go to device
        self._reward_fn, action_space = reward_and_action_space(y, self.num_classes, cfg.feedback)
        self._detach = self.feedback == "label"
        self._augment = augment.pipeline(cfg.augment)
        self.single_observation_space = spaces.Box(-np.inf, np.inf, tuple(X.shape[1:]), np.float32)
        self.single_action_space = action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)
        # Every step ends every one-step episode. Returned as is each step: do not modify.
        self._terminated = torch.ones(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._truncated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._use_split(split)

    def _check_options(self, X: Tensor) -> None:
        cfg, classes = self.options, self.task == "classification"
        if not classes and (cfg.feedback == "bandit" or cfg.label_noise or cfg.imbalance < 1):
            raise UsageError(
                "bandit feedback, label_noise and imbalance need class labels (integer y), "
                "but this dataset is a regression (float y)"
            )
        if cfg.augment and X.ndim != 4:
            raise UsageError(
                f"augment needs images (n, C, H, W), got features of shape {tuple(X.shape)}"
            )

    def _standardize(self, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Statistics of the train split only, so nothing of val/test leaks into training.

        Features are standardized as each split is moved to the device (``_use_split``), so
        uint8 images stay compact here; regression targets are standardized at once.
        """
        train = self._parts["train"]
        self._stats = feature_stats(X[train]) if self.options.standardize else None
        if self.options.augment:  # the pixels' range, which augmentation maps to [0, 1]
            self._pixel_range = float(X[train].amin()), float(X[train].amax())
        if self.options.standardize and self.task == "regression":
            y = (y - y[train].mean(0)) / y[train].std(0).clamp_min(1e-8)
        return X, y

    def _use_split(self, split: str, rank: int = 0, world_size: int = 1) -> None:
        X, y = (t[self._parts[split]] for t in self._data)
        X = X.float()
        if self._stats is not None:
            mean, std = self._stats
            X = (X - mean) / std
        train = split == "train"
        if train:
            X, y = self._corrupt(X, y)
        self.sampler = Sampler(
            (X, y), self.num_envs, device=self.device, shuffle=train, strict=train
        )
        self.sampler.shard(rank, world_size)
        self.split = split
        self.X, self.y = self.sampler.tensors  # (n, *feature_shape), (n, *target_shape)
        self._augment_generator = torch.Generator(self.device)
        if self._augment is not None:
            self._unit = self._unit_map()

    def _unit_map(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(a, b, 1 / a, -b / a)``, each ``(C, 1, 1)`` on the device: ``X * a + b`` is the
        pixels of ``X`` scaled to [0, 1] by the train split's range (0 is its black), as
        augmentation sees them; the last two map back."""
        low, high = self._pixel_range
        mean, std = self._stats if self._stats is not None else (torch.zeros(1), torch.ones(1))
        a = std / max(high - low, 1e-8)
        b = (mean - low) / max(high - low, 1e-8)
        a, b = a.view(-1, 1, 1).to(self.device), b.view(-1, 1, 1).to(self.device)
        return a, b, 1 / a, -b / a

    def augmented(self, X: Tensor, generator: torch.Generator) -> Tensor:
        """``X`` ``(N, C, H, W)`` as the pipeline transforms it, in the env's units."""
        a, b, back_a, back_b = self._unit
        unit = torch.addcmul(b, X, a)  # (N, C, H, W) in [0, 1]
        return torch.addcmul(back_b, self._augment(unit, generator), back_a)  # (Y - b) / a

    def _corrupt(self, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """The garbage-in options, on the train split only, fixed by ``data_seed``."""
        cfg = self.options
        g = torch.Generator().manual_seed(cfg.data_seed)
        if cfg.imbalance < 1:
            keep = wrappers.imbalance_indices(y, cfg.imbalance, self.num_classes, g)
            X, y = X[keep], y[keep]
        if cfg.label_noise:
            y = wrappers.flip_labels(y, cfg.label_noise, self.num_classes, g)
        if cfg.feature_noise:
            X = wrappers.add_feature_noise(X, cfg.feature_noise, g)
        return X, y

    def shard(self, rank: int, world_size: int) -> None:
        """Show this rank its slice of each global batch (a data-parallel run, ``Sampler.shard``).

        Each sample is shown once per epoch across the ranks; ``score`` then scores this rank's
        share of the split and sums the figures over the ranks.
        """
        self.sampler.shard(rank, world_size)

    def with_split(self, split: str) -> SupervisedEnv:
        """The same dataset and options on another split."""
        if split not in SPLITS:
            raise UsageError(f"split must be one of {SPLITS}, got {split!r}")
        other = copy.copy(self)
        other._use_split(split, self.sampler.rank, self.sampler.world_size)
        return other

    def eval_env(self) -> SupervisedEnv:
        """The held-out env the loop evaluates on: the test split."""
        return self.with_split("test")

    # --- the vector env API -------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Start a fresh epoch; ``seed`` reseeds the batch order and the augmentation."""
        self.sampler.reset(seed)
        if seed is not None:
            self._augment_generator.manual_seed(seed + 1)
        return self._next_batch(), {}

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Reward the answer for the current batch, then show the next batch."""
        self._check_action(action)
        y = self._y  # (N, *target_shape) the labels acted on
        reward = self.reward(action, y)  # (N,)
        info = {"final_obs": self._obs, "_final_obs": self._terminated}
        if self._detach:  # label feedback: the labels, after acting
            info["target"], info["_target"] = y, self._terminated
        obs = self._next_batch()
        return obs, reward, self._terminated, self._truncated, info

    def reward(self, action: Tensor, y: Tensor) -> Tensor:
        """The reward of ``feedback`` for answers ``action`` to samples labelled ``y``: (N,)."""
        reward = self._reward_fn(action, y)
        return reward.detach() if self._detach else reward

    def _next_batch(self) -> Tensor:
        self._obs, self._y = self.sampler.next_batch()  # (N, *feature_shape), (N, *target)
        if self._augment is not None and self.split == "train":
            self._obs = self.augmented(self._obs, self._augment_generator)
        return self._obs

    @property
    def _idx(self) -> Tensor:
        """The current batch's rows of the split, ``(N,)``."""
        return self.sampler.indices

    # --- evaluation and resume ----------------------------------------------------------
    @torch.inference_mode()
    def score(self, policy: Any, batch_size: int = 1024) -> dict[str, Tensor]:
        """Pass over the split exactly once; the figures as 0-d tensors.

        Regression: ``{"score": R², "r2", "mse"}``. Classification: ``{"score": accuracy,
        "accuracy", "mean_reward"}``, the last comparable with the training ``reward/mean``.
        Sharded (``shard``): each rank answers for every ``world_size``-th sample from its
        rank on, and the figures are those of the whole split, from sums over the ranks.
        """
        # this rank's share of the split: the whole split in one process
        rank, world_size = self.sampler.rank, self.sampler.world_size
        X, y = self.X[rank::world_size], self.y[rank::world_size]
        starts = range(0, len(X), batch_size)
        y_hat = torch.cat([policy(X[i : i + batch_size]) for i in starts])  # (n, *action)
        if tuple(y_hat.shape[1:]) != self.single_action_space.shape:
            raise UsageError(
                f"policy answers of shape {tuple(y_hat.shape[1:])} per sample, expected "
                f"{self.single_action_space.shape} ({self.single_action_space})"
            )
        return self._split_figures(y_hat, y)

    def _split_figures(self, y_hat: Tensor, y: Tensor) -> dict[str, Tensor]:
        """``score``'s figures for the whole split from each rank's share, as sums reduced
        over the ranks (``all_reduce_sum`` leaves them as they are in one process)."""
        n = torch.tensor([float(len(y))], device=self.device)
        if self.task == "regression":  # R² needs the split's mean target first
            first = distributed.all_reduce_sum(torch.cat([y.sum(0).flatten(), n]))
            y_mean = (first[:-1] / first[-1]).view(y.shape[1:])  # (*target_shape)
            sums = torch.stack(
                [(y - y_hat).square().sum(), (y - y_mean).square().sum(), n[0] * y[0].numel()]
            )
            ss_res, ss_tot, count = distributed.all_reduce_sum(sums).unbind()
            r2 = 1.0 - ss_res / ss_tot
            return {"score": r2, "r2": r2, "mse": ss_res / count}
        correct = (self.predict(y_hat) == y).float().sum()
        sums = torch.stack([correct, self._reward_fn(y_hat, y).sum(), n[0]])
        correct, reward, count = distributed.all_reduce_sum(sums).unbind()
        accuracy = correct / count
        return {"score": accuracy, "accuracy": accuracy, "mean_reward": reward / count}

    def predict(self, action: Tensor) -> Tensor:
        """The class each answer names: argmax of logits, ``logit > 0``, or the index itself."""
        if self.feedback == "bandit":
            return action
        if self.num_classes == 2:
            return (action > 0).long()
        return action.argmax(dim=-1)

    def media(self, agent: Any) -> dict[str, Tensor]:
        """Images for TensorBoard: with augmentation on, 16 images as training shows them; for
        an agent with a conv net, each conv layer's feature maps of the first image."""
        images = {}
        if self._augment is not None:  # as the pipeline leaves them: in [0, 1], black 0
            a, b = self._unit[:2]
            X = self._augment(self.X[:16] * a + b, torch.Generator(self.device).manual_seed(0))
            images["augmented"] = X.clamp(0, 1)  # (16, C, H, W)
        if self.X.dim() == 4:
            images.update(representation.agent_feature_maps(agent, self.X[0]))
        return images

    def embedding(self, agent: Any, num_samples: int = 512) -> dict[str, Any] | None:
        """The projector's view of what the agent's net learnt: its penultimate features of
        held-out samples, with their labels and (for images) the images as sprites."""
        if self.task != "classification":
            return None
        return representation.agent_embedding(agent, self.X[:num_samples], self.y[:num_samples])

    def state_dict(self) -> dict[str, Any]:
        """Batch order, position, generators and the current batch: enough to continue exactly."""
        return {
            "sampler": self.sampler.state_dict(),
            "augment_generator": self._augment_generator.get_state(),
            "split": self.split,
            "obs": self._obs,  # as augmented
        }

    def load_state_dict(self, state: dict[str, Any]) -> Tensor:
        """Restore ``state_dict``; return the current batch's observation to act on."""
        if state["split"] != self.split:
            raise UsageError(f"env state is for split {state['split']!r}, not {self.split!r}")
        self.sampler.load_state_dict(state["sampler"])
        self._augment_generator.set_state(state["augment_generator"])
        _, self._y = self.sampler.batch()
        self._obs = state["obs"].to(self.device)
        return self._obs

    def config_dict(self) -> dict[str, Any]:
        """The env's options, for the run's config table and checkpoint."""
        options = dataclasses.asdict(getattr(self, "config", self.options))
        if self._augment is not None:  # a callable is stored by name (checkpoints hold no code)
            options["augment"] = self._augment.spec
        return options


def _split(num_samples: int, num_test: int, cfg: SupervisedConfig) -> dict[str, Tensor]:
    """Row indices per split: the last ``num_test`` rows are an official test set (if any)."""
    random_test = 0.0 if num_test else cfg.test_fraction
    parts = split_indices(num_samples - num_test, cfg.val_fraction, random_test, cfg.data_seed)
    if num_test:
        parts["test"] = torch.arange(num_samples - num_test, num_samples)
    return parts
