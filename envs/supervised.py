"""A labelled dataset as a batched environment (DESIGN §1, d2l §3.1–3.3).

Each sub-env shows one sample; the action is the agent's prediction for it; the reward is
minus the loss, computed by the env, which alone holds the labels. Every step ends every
one-step episode and the next batch is the new episodes' first observations (SAME_STEP
autoreset). The whole split lives on the device and batches are drawn by indexing a stream
of random permutations, so an epoch sees every training sample once and nothing is copied
to the device per step.
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
from torch import Tensor

from sandbox.checks import ActionChecker
from sandbox.core import UsageError

SPLITS = ("train", "val", "test")


def split_indices(
    num_samples: int, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, Tensor]:
    """Disjoint random index sets for train / val / test, fixed by ``seed``.

    Example:
        >>> parts = split_indices(10, 0.2, 0.3, seed=0)
        >>> [len(parts[s]) for s in SPLITS]
        [5, 2, 3]
    """
    perm = torch.randperm(num_samples, generator=torch.Generator().manual_seed(seed))
    num_val, num_test = round(num_samples * val_fraction), round(num_samples * test_fraction)
    num_train = num_samples - num_val - num_test
    return {
        "train": perm[:num_train],
        "val": perm[num_train : num_train + num_val],
        "test": perm[num_train + num_val :],
    }


def r2_score(y_hat: Tensor, y: Tensor) -> Tensor:
    """Coefficient of determination over all targets, as scikit-learn's ``r2_score`` (flattened).

    Example:
        >>> float(r2_score(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0])))
        1.0
    """
    ss_res = (y - y_hat).square().sum()
    ss_tot = (y - y.mean(dim=0)).square().sum()
    return 1.0 - ss_res / ss_tot


class SupervisedEnv(gymnasium.vector.VectorEnv):
    """A dataset ``(X, y)`` as a batched env; this version reveals the regression loss.

    Observation ``(N, *feature_shape)``; action: predictions ``(N, *target_shape)``; reward
    ``-sum((y_hat - y)**2)`` per sample, with its autograd graph back to the action.
    ``score(policy)`` passes over the split exactly once and returns ``eval/*`` figures.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
    RESERVED_KWARGS = ("split",)
    """Constructor keywords that are not fields of ``Config``."""

    def __init__(
        self,
        X: Tensor | np.ndarray,
        y: Tensor | np.ndarray,
        *,
        num_envs: int,
        device: str | torch.device = "cpu",
        split: str = "train",
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        data_seed: int = 0,
    ) -> None:
        X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        if len(X) != len(y):
            raise UsageError(f"X and y need the same number of samples, got {len(X)} and {len(y)}")
        if split not in SPLITS:
            raise UsageError(f"split must be one of {SPLITS}, got {split!r}")
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.split = split
        self._parts = split_indices(len(X), val_fraction, test_fraction, data_seed)
        self._data = (X, y)  # the full dataset on the CPU; each split is copied to the device once
        self.single_observation_space = spaces.Box(-np.inf, np.inf, tuple(X.shape[1:]), np.float32)
        self.single_action_space = spaces.Box(-np.inf, np.inf, tuple(y.shape[1:]), np.float32)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)
        # Every step ends every one-step episode. Returned as is each step: do not modify.
        self._terminated = torch.ones(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._truncated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._use_split(split)

    def _use_split(self, split: str) -> None:
        idx = self._parts[split]
        if self.num_envs > len(idx) and split == "train":
            raise UsageError(
                f"num_envs (the batch, {self.num_envs}) is larger than the "
                f"train split ({len(idx)} samples); use at most {len(idx)}"
            )
        X, y = self._data
        self.split = split
        self.X = X[idx].to(self.device)  # (n, *feature_shape)
        self.y = y[idx].to(self.device)  # (n, *target_shape)
        self._generator = torch.Generator(self.device)
        self._order = torch.empty(0, dtype=torch.long, device=self.device)
        self._pos = 0
        self.epoch = 0

    def with_split(self, split: str) -> SupervisedEnv:
        """The same dataset and options on another split."""
        other = copy.copy(self)
        other._use_split(split)
        return other

    def eval_env(self) -> SupervisedEnv:
        """The held-out env the loop evaluates on: the test split."""
        return self.with_split("test")

    # --- the vector env API -------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Start a fresh epoch (reseeding the batch order when ``seed`` is given)."""
        if seed is not None:
            self._generator.manual_seed(seed)
        self._order = self._order[:0]
        self._pos = 0
        return self._next_batch(), {}

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Reward the prediction for the current batch, then show the next batch."""
        self._check_action(action)
        reward = self.reward(action, self.y[self._idx])  # (N,)
        final_obs = self._obs
        obs = self._next_batch()
        info = {"final_obs": final_obs, "_final_obs": self._terminated}
        return obs, reward, self._terminated, self._truncated, info

    def reward(self, action: Tensor, y: Tensor) -> Tensor:
        """Minus the squared error per sample, summed over target dimensions: (N,)."""
        return -(action - y).square().reshape(len(y), -1).sum(dim=1)

    def _next_batch(self) -> Tensor:
        if self._pos + self.num_envs > len(self._order):
            # The tail of this epoch, then the next epoch's order: every batch is full and
            # every sample is shown once per epoch.
            self._order = torch.cat([self._order[self._pos :], self._epoch_order()])
            self._pos = 0
        self._idx = self._order[self._pos : self._pos + self.num_envs]  # (N,)
        self._pos += self.num_envs
        self._obs = self.X[self._idx]  # (N, *feature_shape)
        return self._obs

    def _epoch_order(self) -> Tensor:
        self.epoch += 1
        n = len(self.X)
        if self.split != "train":
            return torch.arange(n, device=self.device)
        return torch.randperm(n, generator=self._generator, device=self.device)

    # --- evaluation and resume ----------------------------------------------------------
    @torch.inference_mode()
    def score(self, policy: Any, batch_size: int = 1024) -> dict[str, Tensor]:
        """Pass over the split exactly once; return ``{"score", "r2", "mse"}`` as 0-d tensors."""
        starts = range(0, len(self.X), batch_size)
        y_hat = torch.cat([policy(self.X[i : i + batch_size]) for i in starts])  # (n, *target)
        r2 = r2_score(y_hat, self.y)
        return {"score": r2, "r2": r2, "mse": (y_hat - self.y).square().mean()}

    def state_dict(self) -> dict[str, Any]:
        """Batch order, position and generator: enough to continue the epoch exactly."""
        return {
            "generator": self._generator.get_state(),
            "order": self._order,
            "pos": self._pos,
            "epoch": self.epoch,
            "split": self.split,
        }

    def load_state_dict(self, state: dict[str, Any]) -> Tensor:
        """Restore ``state_dict``; return the current batch's observation to act on."""
        if state["split"] != self.split:
            raise UsageError(f"env state is for split {state['split']!r}, not {self.split!r}")
        self._generator.set_state(state["generator"])
        self._order = state["order"].to(self.device)
        self._pos, self.epoch = state["pos"], state["epoch"]
        self._idx = self._order[self._pos - self.num_envs : self._pos]
        self._obs = self.X[self._idx]
        return self._obs


@dataclass(frozen=True)
class LinRegConfig:
    """d2l §3.4's synthetic linear regression data."""

    num_samples: int = 1000
    """Samples generated (split 70/10/20 into train/val/test)."""
    noise: float = 0.01
    """Standard deviation of the Gaussian noise on y."""
    true_w: tuple[float, ...] = (2.0, -3.4)
    """The weights to recover."""
    true_b: float = 4.2
    """The bias to recover."""
    data_seed: int = 0
    """Seed of the data and of the split (not of the batch order)."""

    def __post_init__(self) -> None:
        if self.num_samples < 10:
            raise ValueError(f"num_samples must be at least 10, got {self.num_samples}")
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")


def synthetic_linear(cfg: LinRegConfig) -> tuple[Tensor, Tensor]:
    """d2l's ``synthetic_data``: ``X ~ N(0, 1)``, ``y = Xw + b + N(0, noise²)``; y is (n, 1)."""
    g = torch.Generator().manual_seed(cfg.data_seed)
    w = torch.tensor(cfg.true_w)
    X = torch.randn(cfg.num_samples, len(w), generator=g)  # (n, d)
    y = X @ w + cfg.true_b + cfg.noise * torch.randn(cfg.num_samples, generator=g)  # (n,)
    return X, y.reshape(-1, 1)


class LinRegEnv(SupervisedEnv):
    """``sandbox/LinReg-v0``: recover ``w = [2, -3.4]``, ``b = 4.2`` from rewards -(y_hat - y)²."""

    Config = LinRegConfig

    def __init__(
        self,
        num_envs: int = 10,
        *,
        device: str | torch.device = "cpu",
        split: str = "train",
        **config: Any,
    ) -> None:
        self.config = LinRegConfig(**config)
        X, y = synthetic_linear(self.config)
        super().__init__(
            X, y, num_envs=num_envs, device=device, split=split, data_seed=self.config.data_seed
        )

    def config_dict(self) -> dict[str, Any]:
        """The env's options, for the run's config table and checkpoint."""
        return dataclasses.asdict(self.config)
