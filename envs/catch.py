"""bsuite's Catch (Osband et al., 2020) as a torch-native batched pixel env.

A ball falls from a random column of the top row of a ``rows x columns`` board, one row a
step; the agent moves a paddle along the bottom row (0 left, 1 stay, 2 right). When the ball
reaches the bottom row the episode ends with reward +1 if the paddle is under it, else -1.
Observations are uint8 pixels ``(rows, columns, 1)`` (HWC, 255 where the ball or paddle is),
so the agents read them with their CNN encoder; a CPU learns it in seconds.
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
class CatchConfig:
    """Options of Catch."""

    rows: int = 10
    """Rows of the board (the episode lasts rows - 1 steps)."""
    columns: int = 5
    """Columns of the board."""

    def __post_init__(self) -> None:
        if self.rows < 2 or self.columns < 1:
            raise ValueError("rows >= 2 and columns >= 1 are needed")


class CatchEnv(gymnasium.vector.VectorEnv):
    """``sandbox/Catch-v0``: move the paddle under the falling ball; +1 caught, -1 missed."""

    Config = CatchConfig
    RESERVED_KWARGS = ()
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 16, *, device: str | torch.device = "cpu", **config: Any):
        self.config = cfg = CatchConfig(**config)
        self.num_envs, self.device = num_envs, canonical_device(device)
        shape = (cfg.rows, cfg.columns, 1)
        self.single_observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.single_action_space = spaces.Discrete(3)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)
        self._generator = torch.Generator(self.device).manual_seed(0)
        self._rows = torch.arange(num_envs, device=self.device)  # (N,) batch index
        self._truncated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._ball_row = torch.zeros(num_envs, dtype=torch.long, device=self.device)  # (N,)
        self._ball_col = torch.zeros_like(self._ball_row)  # (N,)
        self._paddle = torch.zeros_like(self._ball_row)  # (N,) column on the bottom row
        self._new_episodes(torch.ones(num_envs, dtype=torch.bool, device=self.device))

    def _new_episodes(self, done: Tensor) -> None:
        """Restart the sub-envs where ``done`` (N,) bool: ball on top, paddle in the middle."""
        col = torch.randint(
            self.config.columns, (self.num_envs,), generator=self._generator, device=self.device
        )
        self._ball_row = torch.where(done, 0, self._ball_row)
        self._ball_col = torch.where(done, col, self._ball_col)
        self._paddle = torch.where(done, self.config.columns // 2, self._paddle)

    def _obs(self) -> Tensor:
        cfg = self.config
        board = torch.zeros(
            self.num_envs, cfg.rows, cfg.columns, 1, dtype=torch.uint8, device=self.device
        )  # (N, rows, columns, 1)
        board[self._rows, self._ball_row, self._ball_col, 0] = 255
        board[self._rows, cfg.rows - 1, self._paddle, 0] = 255
        return board

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Start every sub-env's episode (reseeding the env's generator if ``seed``)."""
        if seed is not None:
            self._generator.manual_seed(seed)
        self._new_episodes(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return self._obs(), {}

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Move the paddle, drop the ball one row; score and restart where it lands."""
        self._check_action(action)
        cfg = self.config
        self._paddle = (self._paddle + action.long() - 1).clamp(0, cfg.columns - 1)
        self._ball_row = self._ball_row + 1
        terminated = self._ball_row == cfg.rows - 1  # (N,) the ball reached the paddle's row
        caught = self._ball_col == self._paddle
        reward = torch.where(terminated, torch.where(caught, 1.0, -1.0), 0.0)  # (N,)
        final_obs = self._obs()
        info = {
            "final_obs": final_obs,
            "_final_obs": terminated,
            "episode": {"r": reward, "l": torch.full_like(self._ball_row, cfg.rows - 1)},
            "_episode": terminated,
        }
        self._new_episodes(terminated)
        return self._obs(), reward, terminated, self._truncated, info

    def eval_env(self) -> CatchEnv:
        """A fresh copy for evaluation (its own draws)."""
        return CatchEnv(self.num_envs, device=self.device, **dataclasses.asdict(self.config))
