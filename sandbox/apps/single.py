"""The reverse adapter: a sandbox env seen as one plain ``gymnasium.Env`` with NumPy arrays.

Third-party agents (Stable-Baselines3) and ``gymnasium.utils.env_checker.check_env`` expect
a single env that returns NumPy arrays and is reset by its caller. This view runs the
sandbox env with ``num_envs=1`` and translates: tensors become arrays, and SAME_STEP
autoreset is undone (a finished episode returns its final observation; the new episode's
first observation waits for the caller's ``reset``).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch

from sandbox.core import Env, env_device


def _numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy().copy()  # never share memory with the env (check_env)
    return x


def _first(info: dict[str, Any], num_envs: int) -> dict[str, Any]:
    """A vector info (arrays over sub-envs, ``"_key"`` masks) as the one sub-env's info.

    A figure of the whole batch (no leading sub-env axis: a clustering batch's cluster means
    or inertia) has no one-sub-env form and is left out.
    """
    out = {}
    for key, value in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        if isinstance(value, dict):
            out[key] = _first(value, num_envs)
        elif len(getattr(value, "shape", ())) and len(value) == num_envs:
            out[key] = _numpy(value[0])
    return out


class SingleEnvView(gymnasium.Env):
    """One sub-env of a sandbox env, with Gymnasium's single-env API and NumPy arrays.

    Args:
        env: a sandbox env with ``num_envs == 1`` (``sandbox.make(id, num_envs=1)``).

    Example:
        >>> import sandbox
        >>> view = SingleEnvView(sandbox.make("sandbox/LinReg-v0", num_envs=1))
        >>> obs, info = view.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((2,), dtype('float32'))
        >>> obs, reward, terminated, truncated, info = view.step(np.zeros(1, np.float32))
        >>> type(reward), terminated
        (<class 'float'>, True)
    """

    metadata = {"render_modes": []}

    def __init__(self, env: Env) -> None:
        if env.num_envs != 1:
            raise ValueError(f"SingleEnvView needs an env with num_envs=1, got {env.num_envs}")
        self.env = env
        self.device = env_device(env)
        self.observation_space = env.single_observation_space
        self.action_space = env.single_action_space
        self.spec = None
        self._pending: np.ndarray | None = None  # the autoreset obs, for the next reset()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: the pending autoreset obs, or a real reset when seeded."""
        super().reset(seed=seed)
        if seed is not None or options is not None or self._pending is None:
            obs, info = self.env.reset(seed=seed, options=options)
            self._pending = None
            return _numpy(obs[0]), _first(info, self.env.num_envs)
        obs, self._pending = self._pending, None
        return obs, {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Step the one sub-env with a NumPy (or Python) action."""
        batch = torch.as_tensor(np.asarray(action), device=self.device).unsqueeze(0)  # (1, ...)
        obs, reward, terminated, truncated, info = self.env.step(batch)
        done = bool(terminated[0]) or bool(truncated[0])
        if done:  # undo SAME_STEP autoreset: show the final obs, keep the new one for reset()
            self._pending = _numpy(obs[0])
            obs = info["final_obs"]
        return (
            _numpy(obs[0]),
            float(reward[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            _first(info, self.env.num_envs),
        )

    def close(self) -> None:
        """Close the underlying env."""
        self.env.close()
