"""Tiny envs for learning tests: a contextual bandit shaped like a supervised env in bandit mode.

``ToyBanditEnv``: each sub-env shows a point drawn near one of ``num_classes`` centres; the
action is a class index; the reward is 1 if it names the point's class, else 0; every step
ends every one-step episode (SAME_STEP autoreset). This is the shape of a classification
dataset seen as a bandit (DESIGN §1), small enough for an RL agent to learn in seconds.
"""

from __future__ import annotations

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

from sandbox.device import canonical_device
from sandbox.spaces import ActionChecker


@dataclass(frozen=True)
class ToyBanditConfig:
    """Options of the toy contextual bandit."""

    num_classes: int = 4
    """Classes (and actions)."""
    num_features: int = 8
    """Features per observation."""
    noise: float = 0.3
    """Standard deviation of the points around their class centre."""

    def __post_init__(self) -> None:
        if self.num_classes < 2 or self.num_features < 1 or self.noise < 0:
            raise ValueError("num_classes >= 2, num_features >= 1 and noise >= 0 are needed")


class ToyBanditEnv(gymnasium.vector.VectorEnv):
    """``sandbox/ToyBandit-v0``: name the class of a noisy point; reward 1 if right, else 0."""

    Config = ToyBanditConfig
    RESERVED_KWARGS = ()
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 32, *, device: str | torch.device = "cpu", **config: Any):
        self.config = cfg = ToyBanditConfig(**config)
        self.num_envs, self.device = num_envs, canonical_device(device)
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (cfg.num_features,), np.float32)
        self.single_action_space = spaces.Discrete(cfg.num_classes)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)
        g = torch.Generator().manual_seed(0)  # the centres are part of the task: fixed
        self.centres = torch.randn(cfg.num_classes, cfg.num_features, generator=g).to(self.device)
        self._generator = torch.Generator(self.device).manual_seed(0)
        self._terminated = torch.ones(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._truncated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._draw()

    def _draw(self) -> Tensor:
        n, cfg = self.num_envs, self.config
        self._label = torch.randint(
            cfg.num_classes, (n,), generator=self._generator, device=self.device
        )  # (N,)
        noise = torch.randn(n, cfg.num_features, generator=self._generator, device=self.device)
        self._obs = self.centres[self._label] + cfg.noise * noise  # (N, num_features)
        return self._obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Draw new points (reseeding the env's generator if ``seed``)."""
        if seed is not None:
            self._generator.manual_seed(seed)
        return self._draw(), {}

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Reward 1 where ``action`` names the class; every one-step episode ends."""
        self._check_action(action)
        reward = (action == self._label).float()  # (N,)
        final_obs = self._obs
        info = {
            "final_obs": final_obs,
            "_final_obs": self._terminated,
            "episode": {"r": reward, "l": torch.ones_like(self._label)},
            "_episode": self._terminated,
        }
        return self._draw(), reward, self._terminated, self._truncated, info

    def eval_env(self) -> ToyBanditEnv:
        """A fresh copy for evaluation (its own draws)."""
        return ToyBanditEnv(self.num_envs, device=self.device, **dataclasses.asdict(self.config))
