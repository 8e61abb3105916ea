"""Any Gymnasium env as a sandbox env: numpy vector env in, torch tensors on the device out.

A registered id (``"CartPole-v1"``, a third-party ``"pkg/Env-v0"``), a ``"module:Env-v0"`` id
(the module is imported first, also inside async workers), an env class or an env instance
is vectorised with Gymnasium's own ``SyncVectorEnv`` or ``AsyncVectorEnv`` in SAME_STEP
autoreset mode (the finished episode's last obs in ``info["final_obs"]``), and every array
crosses to torch once per step (``torch.from_numpy``, no copy on the CPU). Episode return
and length of every sub-env are reported as ``info["episode"] = {"r", "l"}`` with the mask
``info["_episode"]``, as Gymnasium's ``RecordEpisodeStatistics`` does. Observations arrive as
float32; Discrete, MultiDiscrete, MultiBinary, Dict and Tuple observations are flattened
(one-hot for the discrete parts). Actions: Box, Discrete, MultiDiscrete or MultiBinary.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from torch import Tensor

from sandbox.device import canonical_device
from sandbox.errors import UsageError
from sandbox.spaces import ActionChecker

UNSUPPORTED_OBS = (spaces.Text, spaces.Graph, spaces.Sequence, spaces.OneOf)
FLATTENED_OBS = (
    spaces.Discrete,
    spaces.MultiDiscrete,
    spaces.MultiBinary,
    spaces.Dict,
    spaces.Tuple,
)


@dataclass(frozen=True)
class GymConfig:
    """Options of the Gymnasium adapter (``--env.*`` on the command line)."""

    vectorization: Literal["sync", "async"] = "sync"
    """sync: sub-envs stepped in this process; async: one worker process per sub-env."""
    eval_num_envs: int = 10
    """Sub-envs of the evaluation copy (one evaluation episode each by default)."""

    def __post_init__(self) -> None:
        if self.eval_num_envs < 1:
            raise ValueError(f"eval_num_envs must be >= 1, got {self.eval_num_envs}")


# optional packages some Gymnasium envs need, and the extra of pyproject.toml that installs them
EXTRAS = {"ale_py": "atari", "mujoco": "mujoco", "Box2D": "box2d"}


def missing_extra(env_name: str, error: Exception) -> UsageError:
    """One line naming the pip extra that installs what ``error`` (an import failure) lacks."""
    text = str(error)
    for module, extra in EXTRAS.items():
        if module.lower() in text.lower() or (extra == "atari" and env_name.startswith("ALE/")):
            return UsageError(
                f"env {env_name!r} needs the optional package {module!r}, which is not "
                f"installed: pip install -e .[{extra}]"
            )
    return UsageError(f"env {env_name!r} cannot be made: {text.splitlines()[0]}")


def resolve_spec(env_id: str) -> gymnasium.envs.registration.EnvSpec:
    """The Gymnasium spec of ``env_id``; ``UsageError`` naming the cause when there is none."""
    if env_id.startswith("ALE/"):  # ale-py registers the ALE/ ids when imported
        try:
            gymnasium.register_envs(importlib.import_module("ale_py"))
        except ImportError as e:
            raise missing_extra(env_id, e) from None
    module, sep, name = env_id.partition(":")
    if sep:  # "module:Env-v0": importing the module registers Env-v0 (as gymnasium.make does)
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise UsageError(f"env id {env_id!r}: cannot import module {module!r} ({e})") from None
    try:
        spec = gymnasium.spec(name if sep else env_id)
    except gymnasium.error.Error as e:
        raise UsageError(f"unknown env id {env_id!r}: {e}") from None
    if spec.entry_point is None:
        raise UsageError(f"Gymnasium env {env_id!r} has no single-env entry point to vectorise")
    return spec


def check_obs_space(space: spaces.Space, env_name: str) -> None:
    """Refuse observation spaces that have no fixed-size float vector (Text, Graph, ...)."""
    if isinstance(space, UNSUPPORTED_OBS):
        raise UsageError(
            f"env {env_name!r} has an unsupported observation space {space}: the sandbox takes "
            "Box, Discrete, MultiDiscrete, MultiBinary, and Dict/Tuple of these"
        )
    if isinstance(space, spaces.Dict | spaces.Tuple):
        for sub in space.spaces.values() if isinstance(space, spaces.Dict) else space.spaces:
            check_obs_space(sub, env_name)
    elif not isinstance(space, (spaces.Box, *FLATTENED_OBS)):
        raise UsageError(f"env {env_name!r} has an unsupported observation space {space}")


def check_action_space(space: spaces.Space, env_name: str) -> None:
    """Refuse action spaces the sandbox's agents cannot act in."""
    if not isinstance(
        space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary
    ):
        raise UsageError(
            f"env {env_name!r} has an unsupported action space {space}: the sandbox's agents "
            "act in Box, Discrete, MultiDiscrete or MultiBinary spaces"
        )


class GymAdapter(gymnasium.vector.VectorEnv):
    """A Gymnasium env (id, ``"module:Id"``, class or instance) as a batched torch env.

    Args:
        env: a registered id, ``"module:Env-v0"``, an ``gymnasium.Env`` subclass or instance
            (an instance is deep-copied for sub-envs after the first).
        num_envs: sub-envs stepped together.
        device: where the returned tensors live.
        vectorization: ``"sync"`` or ``"async"`` (see ``GymConfig``).
        eval_num_envs: sub-envs of ``eval_env()``.
        **env_kwargs: passed to the env's constructor (``gymnasium.make(id, **env_kwargs)``).

    Example:
        >>> env = GymAdapter("CartPole-v1", num_envs=4)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        (torch.Size([4, 4]), torch.float32)
    """

    Config = GymConfig
    RESERVED_KWARGS = ()
    missing_extra = staticmethod(missing_extra)  # for the registry, which reads entry points
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        env: str | type[gymnasium.Env] | gymnasium.Env,
        num_envs: int = 8,
        *,
        device: str | torch.device = "cpu",
        vectorization: str = "sync",
        eval_num_envs: int = 10,
        **env_kwargs: Any,
    ) -> None:
        self.config = GymConfig(vectorization, eval_num_envs)  # type: ignore[arg-type]
        self._source, self._env_kwargs = env, env_kwargs
        self.num_envs, self.device = num_envs, canonical_device(device)
        name, make_one = self._single_env_factory(env, env_kwargs)
        try:
            probe = make_one()  # one env to read the spaces from (closed again below)
        except (ImportError, gymnasium.error.DependencyNotInstalled) as e:
            raise missing_extra(name, e) from None
        check_obs_space(probe.observation_space, name)
        check_action_space(probe.action_space, name)
        self._flatten = isinstance(probe.observation_space, FLATTENED_OBS)
        probe.close()
        if self._flatten:
            inner = make_one
            make_one = lambda: gymnasium.wrappers.FlattenObservation(inner())  # noqa: E731
        vector_cls = (
            gymnasium.vector.AsyncVectorEnv
            if vectorization == "async"
            else gymnasium.vector.SyncVectorEnv
        )
        fns = [make_one] * num_envs
        if isinstance(env, gymnasium.Env):  # the instance itself serves as sub-env 0
            fns = [lambda: env] + [lambda: copy.deepcopy(env)] * (num_envs - 1)
            fns = [self._wrapped(f) for f in fns] if self._flatten else fns
        self._vec = vector_cls(fns, autoreset_mode=AutoresetMode.SAME_STEP)
        self.metadata = {**self._vec.metadata, "autoreset_mode": AutoresetMode.SAME_STEP}

        obs_space = self._vec.single_observation_space
        low = np.broadcast_to(obs_space.low, obs_space.shape).astype(np.float32)
        high = np.broadcast_to(obs_space.high, obs_space.shape).astype(np.float32)
        self.single_observation_space = spaces.Box(low, high, obs_space.shape, np.float32)
        self.single_action_space = self._vec.single_action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.spec = self._spec(name)
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)
        self._action_dtype = self.single_action_space.dtype
        self._return = np.zeros(num_envs)  # (N,) return of the running episode
        self._length = np.zeros(num_envs, dtype=np.int64)  # (N,)

    @staticmethod
    def _wrapped(fn: Callable[[], gymnasium.Env]) -> Callable[[], gymnasium.Env]:
        return lambda: gymnasium.wrappers.FlattenObservation(fn())

    @staticmethod
    def _single_env_factory(
        env: Any, env_kwargs: dict[str, Any]
    ) -> tuple[str, Callable[[], gymnasium.Env]]:
        if isinstance(env, str):
            resolve_spec(env)  # a clear error now rather than in a worker
            # The id, not the spec, crosses to async workers: they import "module:" again.
            return env, lambda: gymnasium.make(env, **env_kwargs)
        if isinstance(env, type) and issubclass(env, gymnasium.Env):
            return env.__name__, lambda: env(**env_kwargs)
        if isinstance(env, gymnasium.Env):
            if env_kwargs:
                raise UsageError("an env instance takes no constructor keywords")
            return type(env).__name__, lambda: copy.deepcopy(env)
        given = f"the class {env.__name__}" if isinstance(env, type) else type(env).__name__
        raise UsageError(
            "expected a Gymnasium id, a gymnasium.Env subclass or instance (observation_space, "
            f"action_space, reset, step), got {given}, which is not a gymnasium.Env"
        )

    def _spec(self, name: str) -> gymnasium.envs.registration.EnvSpec:
        """Gymnasium's spec under the id as given, so a resumed run rebuilds the same env."""
        if isinstance(self._source, str):
            return dataclasses.replace(resolve_spec(self._source), id=self._source)
        return gymnasium.envs.registration.EnvSpec(id=name, entry_point=None)

    # --- the vector env API -------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Reset every sub-env (sub-env ``i`` seeded with ``seed + i``)."""
        obs, info = self._vec.reset(seed=seed, options=options)
        self._return[:] = 0
        self._length[:] = 0
        return self._to_torch(obs), info

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Step every sub-env; tensors out, SAME_STEP autoreset, episode statistics."""
        self._check_action(action)
        np_action = action.detach().cpu().numpy().astype(self._action_dtype, copy=False)
        obs, reward, terminated, truncated, np_info = self._vec.step(np_action)
        self._return += reward
        self._length += 1
        done = terminated | truncated  # (N,) bool
        info: dict[str, Any] = {}
        if done.any():  # a host-side check: these are numpy arrays
            final_obs = obs.copy()  # (N, *obs_shape); rows of running sub-envs are unused
            final_obs[done] = np.stack(np_info["final_obs"][done])
            mask = self._to_device(done.copy())
            info["final_obs"], info["_final_obs"] = self._to_torch(final_obs), mask
            info["episode"] = {
                "r": self._to_device(self._return.astype(np.float32)),
                "l": self._to_device(self._length.copy()),
            }
            info["_episode"] = mask
            final_info = np_info.get("final_info", {})
            if "is_success" in final_info:  # the finished episodes' success, SB3's is_success
                has = final_info.get("_is_success", np.ones_like(done)) & done  # (N,) bool
                success = np.asarray(final_info["is_success"], dtype=np.float32)  # (N,)
                info["episode"]["is_success"] = self._to_device(success)
                info["episode"]["_is_success"] = self._to_device(has)
            self._return[done] = 0
            self._length[done] = 0
        return (
            self._to_torch(obs),
            self._to_device(reward.astype(np.float32)),
            self._to_device(terminated),
            self._to_device(truncated),
            info,
        )

    def _to_device(self, array: np.ndarray) -> Tensor:
        # from_numpy shares memory: the vector env returns fresh arrays each step (copy=True).
        return torch.from_numpy(array).to(self.device)

    def _to_torch(self, obs: np.ndarray) -> Tensor:
        return self._to_device(obs.astype(np.float32, copy=False))

    def eval_env(self) -> GymAdapter:
        """A fresh copy of the env for evaluation (``eval_num_envs`` sub-envs, synchronous)."""
        return GymAdapter(
            self._source,
            self.config.eval_num_envs,
            device=self.device,
            eval_num_envs=self.config.eval_num_envs,
            **self._env_kwargs,
        )

    def video_env(self) -> GymAdapter:
        """The eval copy made with ``render_mode="rgb_array"``, checked to draw a frame."""
        name = self.spec.id
        if "rgb_array" not in self._vec.metadata.get("render_modes", ()):
            raise UsageError(
                f"--capture-video needs rgb_array rendering; {name} renders "
                f"{list(self._vec.metadata.get('render_modes', ())) or 'nothing'}"
            )
        env = GymAdapter(
            self._source,
            self.config.eval_num_envs,
            device=self.device,
            eval_num_envs=self.config.eval_num_envs,
            **{**self._env_kwargs, "render_mode": "rgb_array"},
        )
        env.reset(seed=0)
        try:
            env.frames(1)
        except gymnasium.error.DependencyNotInstalled as e:  # pygame, for classic control
            raise UsageError(f"--capture-video on {name}: {e}") from None
        return env

    def frames(self, num: int) -> Tensor:
        """The first ``num`` sub-envs' ``render()`` now: ``(num, H, W, 3)`` uint8."""
        frames = self._vec.render()[:num]  # a tuple of (H, W, 3) arrays, one per sub-env
        return torch.from_numpy(np.stack(frames)).to(self.device)

    def config_dict(self) -> dict[str, Any]:
        """The adapter's options and the env's constructor keywords, for the run's config."""
        return {**dataclasses.asdict(self.config), **self._env_kwargs}

    def close_extras(self, **kwargs: Any) -> None:
        """Close the Gymnasium vector env; ``terminate=True`` kills its worker processes."""
        self._vec.close(**kwargs)
