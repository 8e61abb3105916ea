"""Your own batched torch env: every sub-env stepped at once, as tensors on the env's device.

A Gymnasium env (``scripts/custom_env.py``) steps one copy per sub-env in Python; a batched
torch env steps all ``num_envs`` of them in a few tensor operations, on a GPU too. It is a
``gymnasium.vector.VectorEnv`` whose arrays are torch tensors on ``env.device``, with
SAME_STEP autoreset (a finished sub-env's next obs is already its new episode's first) and
``info["episode"]`` for the episodes that ended. It registers with ``sandbox.register_env`` at
import, so the command line names it as ``module:Id``:

    sandbox check custom_torch_env:user/LineWalk-v0
    sandbox run custom_torch_env:user/LineWalk-v0 ppo --steps 20000

(from the directory holding this file), or from Python:

    .venv/bin/python scripts/custom_torch_env.py
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from torch import Tensor

import sandbox


@dataclass(frozen=True)
class LineWalkConfig:
    """Options of LineWalk (``--env.size``, ``--env.max-steps``)."""

    size: int = 10
    """Cells on the line."""
    max_steps: int = 40
    """Steps before an episode is truncated."""

    def __post_init__(self) -> None:
        if self.size < 2 or self.max_steps < 1:
            raise ValueError(f"size >= 2 and max_steps >= 1 are needed, got {self}")


class LineWalkEnv(gymnasium.vector.VectorEnv):
    """Walk left or right along a line to a goal cell; both are drawn at random.

    Observation: (position, goal) scaled to [0, 1]; actions: 0 left, 1 right; reward 1 at
    the goal (terminated), -0.01 per other step; truncated after ``max_steps``.
    """

    Config = LineWalkConfig
    RESERVED_KWARGS = ()  # keyword arguments of __init__ that are not Config fields
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 16, *, device: str | torch.device = "cpu", **config: Any):
        self.config = LineWalkConfig(**config)
        self.num_envs, self.device = num_envs, torch.device(device)
        self.single_observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._generator = torch.Generator(self.device).manual_seed(0)
        zeros = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._pos, self._goal, self._t = zeros.clone(), zeros.clone(), zeros.clone()  # (N,)
        self._return = torch.zeros(num_envs, device=self.device)  # (N,)

    def _obs(self) -> Tensor:
        return torch.stack([self._pos, self._goal], -1).float() / (self.config.size - 1)

    def _new_episodes(self, where: Tensor) -> None:
        """Draw a start and a different goal for the sub-envs in ``where`` (N,) bool."""
        size, n = self.config.size, self.num_envs
        pos = torch.randint(size, (n,), generator=self._generator, device=self.device)
        offset = torch.randint(1, size, (n,), generator=self._generator, device=self.device)
        self._pos = torch.where(where, pos, self._pos)
        self._goal = torch.where(where, (pos + offset) % size, self._goal)  # never the start
        self._t = torch.where(where, 0, self._t)
        self._return = torch.where(where, 0.0, self._return)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        if seed is not None:
            self._generator.manual_seed(seed)
        self._new_episodes(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return self._obs(), {}

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        if action.shape != (self.num_envs,) or action.dtype.is_floating_point:
            raise sandbox.ActionError(
                f"LineWalk takes ({self.num_envs},) integer actions, got {tuple(action.shape)} "
                f"{action.dtype}"
            )
        move = action.to(self.device).long() * 2 - 1  # (N,) -1 left, +1 right
        self._pos = (self._pos + move).clamp(0, self.config.size - 1)
        self._t += 1
        terminated = self._pos == self._goal  # (N,)
        truncated = ~terminated & (self._t >= self.config.max_steps)
        reward = torch.where(terminated, 1.0, -0.01)  # (N,)
        self._return += reward
        done = terminated | truncated
        info = {
            "final_obs": self._obs(),
            "_final_obs": done,
            "episode": {"r": self._return.clone(), "l": self._t.clone()},
            "_episode": done,
        }
        self._new_episodes(done)  # SAME_STEP autoreset
        return self._obs(), reward, terminated, truncated, info

    def eval_env(self) -> LineWalkEnv:
        """A fresh copy for evaluation, so training episodes are not cut short."""
        return LineWalkEnv(self.num_envs, device=self.device, **vars(self.config))


# Registered at import: "custom_torch_env:user/LineWalk-v0" imports this module first.
sandbox.register_env(
    "user/LineWalk-v0",
    f"{__name__}:LineWalkEnv",
    paradigm="RL",
    description="walk a line to a goal cell (a user's batched torch env)",
    num_envs=16,
)


def main() -> None:
    env = sandbox.make("user/LineWalk-v0", num_envs=16)
    agent = sandbox.make_agent("ppo", env, num_steps=32, lr=1e-3)
    result = sandbox.train(env, agent, steps=20_000, seed=0, logdir="runs")
    print(f"eval/score {result.metrics['eval/score']:.2f} (1 - 0.01 per extra step is the best)")


if __name__ == "__main__":
    main()
