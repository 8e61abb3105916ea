"""Any Gymnasium env as a sandbox env: numpy vector env in, torch tensors on the device out.

A registered id (``"CartPole-v1"``, a third-party ``"pkg/Env-v0"``), a ``"module:Env-v0"`` id
(the module is imported first, also inside async workers), an env class or an env instance
is vectorised with Gymnasium's own ``SyncVectorEnv`` or ``AsyncVectorEnv`` in SAME_STEP
autoreset mode (the finished episode's last obs in ``info["final_obs"]``), and every array
crosses to torch once per step (``torch.from_numpy``, no copy on the CPU). Episode return
and length of every sub-env are reported as ``info["episode"] = {"r", "l"}`` with the mask
``info["_episode"]``, as Gymnasium's ``RecordEpisodeStatistics`` does.

Observations keep their space: a float Box arrives as float32, a uint8 Box (pixels) as
uint8, Discrete, MultiDiscrete and MultiBinary as their integers (the agents' encoders
one-hot them); a Dict or Tuple arrives as one flat vector of its parts (a ``Flattened``
space, ``sandbox/spaces.py``), which the encoders split again. An env that gives
``info["action_mask"]`` (Gymnasium's convention: Taxi) has it moved into the observation as
a Dict's ``action_mask`` part, where the policies read it. ``ALE/`` ids get the standard
Atari preprocessing (``atari_preprocessing``). Actions: Box, Discrete, MultiDiscrete or
MultiBinary.
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
from sandbox.spaces import MASK_KEY, ActionChecker, Flattened

UNSUPPORTED_OBS = (spaces.Text, spaces.Graph, spaces.Sequence, spaces.OneOf)
STRUCTURED_OBS = (spaces.Dict, spaces.Tuple)


@dataclass(frozen=True)
class GymConfig:
    """Options of the Gymnasium adapter (``--env.*`` on the command line)."""

    vectorization: Literal["sync", "async"] = "sync"
    """sync: sub-envs stepped in this process; async: one worker process per sub-env."""
    eval_num_envs: int = 10
    """Sub-envs of the evaluation copy (one evaluation episode each by default)."""
    action_mask: bool = True
    """Honour the env's info["action_mask"]: moved into the observation for the policies."""
    atari_preprocessing: bool = True
    """ALE/ ids: AtariPreprocessing (noop_max 30, frame_skip 4 on the env's frameskip=1, 84x84
    grey, no end on life loss) and a stack of the last 4 frames, as SB3's make_atari_env."""

    def __post_init__(self) -> None:
        if self.eval_num_envs < 1:
            raise ValueError(f"eval_num_envs must be >= 1, got {self.eval_num_envs}")


# optional packages some Gymnasium envs need, and the extra of pyproject.toml that installs them
EXTRAS = {"ale_py": "atari", "opencv": "atari", "mujoco": "mujoco", "Box2D": "box2d"}


def missing_extra(env_name: str, error: Exception) -> UsageError:
    """One line naming the pip extra that installs what ``error`` (an import failure) lacks."""
    text = str(error)
    named = [m for m in EXTRAS if m.lower() in text.lower()]
    if not named and env_name.startswith("ALE/"):
        named = ["ale_py"]
    if named:
        return UsageError(
            f"env {env_name!r} needs the optional package {named[0]!r}, which is not "
            f"installed: pip install -e .[{EXTRAS[named[0]]}]"
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
    """Refuse observation spaces that have no fixed-size vector (Text, Graph, ...), naming
    the part of a Dict or Tuple that has none and the way around it."""
    if isinstance(space, STRUCTURED_OBS):
        try:
            Flattened(space)
        except UsageError as e:
            raise UsageError(f"env {env_name!r}: {e}") from None
    elif not isinstance(
        space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary
    ):
        raise UsageError(
            f"env {env_name!r} has an unsupported observation space {space}: the sandbox takes "
            "Box, Discrete, MultiDiscrete, MultiBinary, and Dict/Tuple of these; convert it "
            "with a wrapper"
        )


def info_mask(mask: Any, action_space: spaces.Space) -> np.ndarray:
    """Gymnasium's ``info["action_mask"]`` as one flag per class of each action part,
    ``(sum(nvec),)`` int8: Discrete's ``(n,)`` as it is; MultiDiscrete's tuple of per-part
    masks concatenated; MultiBinary's ``(n,)`` of 0 (bit must be 0), 1 (must be 1) or 2
    (either), the meaning ``MultiBinary.sample(mask)`` gives it, as two flags per bit."""
    if isinstance(action_space, spaces.MultiDiscrete) and isinstance(mask, tuple | list):
        mask = np.concatenate([np.asarray(m).ravel() for m in mask])
    mask = np.asarray(mask).ravel()
    if isinstance(action_space, spaces.MultiBinary) and mask.size == action_space.n:
        mask = np.stack([mask != 1, mask != 0], -1).ravel()  # (n, 2): allow 0, allow 1
    return mask.astype(np.int8)


def mask_size(action_space: spaces.Space) -> int:
    """Flags of an action mask: one per class of each part (a MultiBinary bit has 2)."""
    if isinstance(action_space, spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, spaces.MultiDiscrete):
        return int(action_space.nvec.sum())
    if isinstance(action_space, spaces.MultiBinary):
        return 2 * int(np.prod(action_space.shape))
    raise UsageError(
        f"the env gives info['action_mask'], but its action space {action_space} has no "
        "classes to mask; pass --env.no-action-mask to ignore it"
    )


class FlatObservation(gymnasium.Wrapper):
    """One sub-env whose Dict or Tuple observation (with ``info["action_mask"]`` moved in as
    the Dict part ``action_mask``, the env's own observation then under ``obs`` unless it is
    a Dict) leaves as the flat vector of a ``Flattened`` space."""

    def __init__(self, env: gymnasium.Env, with_mask: bool) -> None:
        super().__init__(env)
        inner, self.with_mask = env.observation_space, with_mask
        if with_mask:
            mask = spaces.MultiBinary(mask_size(env.action_space))
            own = dict(inner.spaces) if isinstance(inner, spaces.Dict) else {"obs": inner}
            inner = spaces.Dict({**own, MASK_KEY: mask})
        self.observation_space = Flattened(inner)

    def _flat(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        if self.with_mask:
            own = dict(obs) if isinstance(self.env.observation_space, spaces.Dict) else {"obs": obs}
            mask = info_mask(info[MASK_KEY], self.env.action_space)
            if mask.size != self.observation_space.parts[MASK_KEY][0].n:
                raise UsageError(
                    f"info['action_mask'] has {mask.size} entries, expected "
                    f"{self.observation_space.parts[MASK_KEY][0].n} for the action space "
                    f"{self.env.action_space}"
                )
            obs = {**own, MASK_KEY: mask}
        return self.observation_space.flatten(obs)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return self._flat(obs, info), info

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._flat(obs, info), reward, terminated, truncated, info


def atari(env_id: str, env_kwargs: dict[str, Any]) -> gymnasium.Env:
    """An ALE env with the standard preprocessing (``GymConfig.atari_preprocessing``):
    ``(4, 84, 84)`` uint8 observations, the last 4 grey frames. The env's ``frameskip``
    (4 for v5 ids) is AtariPreprocessing's, which max-pools the last two frames it skips; the
    emulator itself then steps one frame at a time."""
    kwargs = dict(env_kwargs)
    skip = kwargs.pop("frameskip", 4)
    if not isinstance(skip, int) or skip < 1:
        raise UsageError(f"{env_id}: frameskip must be a positive integer, got {skip!r}")
    env = gymnasium.make(env_id, frameskip=1, **kwargs)
    env = gymnasium.wrappers.AtariPreprocessing(
        env, noop_max=30, frame_skip=skip, screen_size=84, terminal_on_life_loss=False
    )
    return gymnasium.wrappers.FrameStackObservation(env, 4)


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
    resolve_spec = staticmethod(resolve_spec)  # for the registry: ALE/ ids import ale-py
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        env: str | type[gymnasium.Env] | gymnasium.Env,
        num_envs: int = 8,
        *,
        device: str | torch.device = "cpu",
        vectorization: str = "sync",
        eval_num_envs: int = 10,
        action_mask: bool = True,
        atari_preprocessing: bool = True,
        **env_kwargs: Any,
    ) -> None:
        self.config = GymConfig(vectorization, eval_num_envs, action_mask, atari_preprocessing)  # type: ignore[arg-type]
        self._source, self._env_kwargs = env, env_kwargs
        self.num_envs, self.device = num_envs, canonical_device(device)
        name, make_one = self._single_env_factory(env, env_kwargs, atari_preprocessing)
        try:
            probe = make_one()  # one env to read the spaces from (closed again below)
        except (ImportError, gymnasium.error.DependencyNotInstalled) as e:
            raise missing_extra(name, e) from None
        check_obs_space(probe.observation_space, name)
        check_action_space(probe.action_space, name)
        # a mask in the first reset's info (Gymnasium's convention) makes it a part of the obs
        with_mask = action_mask and MASK_KEY in probe.reset(seed=0)[1]
        flatten = with_mask or isinstance(probe.observation_space, STRUCTURED_OBS)
        probe.close()
        vector_cls = (
            gymnasium.vector.AsyncVectorEnv
            if vectorization == "async"
            else gymnasium.vector.SyncVectorEnv
        )
        fns = [make_one] * num_envs
        if isinstance(env, gymnasium.Env):  # the instance itself serves as sub-env 0
            fns = [lambda: env] + [lambda: copy.deepcopy(env)] * (num_envs - 1)
        if flatten:
            fns = [self._flattened(f, with_mask) for f in fns]
        self._vec = vector_cls(fns, autoreset_mode=AutoresetMode.SAME_STEP)
        self.metadata = {**self._vec.metadata, "autoreset_mode": AutoresetMode.SAME_STEP}

        obs_space = self._vec.single_observation_space
        if isinstance(obs_space, spaces.Box) and obs_space.dtype not in (np.uint8, np.float32):
            # a float64 or other Box arrives as float32 (pixels and Flattened keep theirs)
            low = np.broadcast_to(obs_space.low, obs_space.shape).astype(np.float32)
            high = np.broadcast_to(obs_space.high, obs_space.shape).astype(np.float32)
            obs_space = spaces.Box(low, high, obs_space.shape, np.float32)
        self.single_observation_space = obs_space
        self._obs_dtype = obs_space.dtype
        self.single_action_space = self._vec.single_action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.spec = self._spec(name)
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)
        self._action_dtype = self.single_action_space.dtype
        self._return = np.zeros(num_envs)  # (N,) return of the running episode
        self._length = np.zeros(num_envs, dtype=np.int64)  # (N,)

    @staticmethod
    def _flattened(fn: Callable[[], gymnasium.Env], with_mask: bool) -> Callable[[], gymnasium.Env]:
        return lambda: FlatObservation(fn(), with_mask)

    @staticmethod
    def _single_env_factory(
        env: Any, env_kwargs: dict[str, Any], atari_preprocessing: bool = True
    ) -> tuple[str, Callable[[], gymnasium.Env]]:
        if isinstance(env, str):
            resolve_spec(env)  # a clear error now rather than in a worker
            if env.startswith("ALE/") and atari_preprocessing:
                return env, lambda: atari(env, env_kwargs)
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
        return self._to_device(obs.astype(self._obs_dtype, copy=False))

    def eval_env(self) -> GymAdapter:
        """A fresh copy of the env for evaluation (``eval_num_envs`` sub-envs, synchronous)."""
        return GymAdapter(
            self._source,
            self.config.eval_num_envs,
            device=self.device,
            **{**self._options(), **self._env_kwargs},
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
            **{**self._options(), **self._env_kwargs, "render_mode": "rgb_array"},
        )
        env.reset(seed=0)
        try:
            env.frames(1)
        except gymnasium.error.DependencyNotInstalled as e:  # pygame, for classic control
            raise UsageError(f"--capture-video on {name}: {e}") from None
        return env

    def _options(self) -> dict[str, Any]:
        """The adapter's options of an evaluation copy: synchronous, as this one otherwise."""
        return {**dataclasses.asdict(self.config), "vectorization": "sync"}

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
