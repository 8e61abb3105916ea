"""Names to classes: envs through Gymnasium's registry, agents through ours.

Sandbox envs register with ``gymnasium.register(..., vector_entry_point="pkg.mod:Class")``
so ``gymnasium.make_vec("sandbox/LinReg-v0")`` works for anyone; this module keeps the
extra facts ``sandbox list`` prints (paradigm, description, default batch). Entry points are
strings, so ``sandbox`` never imports ``envs`` or ``agents`` until one is made.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium
import torch

from sandbox.core import Agent, Env, UsageError
from sandbox.device import resolve_device
from sandbox.errors import closest


@dataclass(frozen=True)
class EnvEntry:
    """A registered sandbox env: what ``sandbox list`` shows and how to build it."""

    id: str
    """Gymnasium id, ``sandbox/<Name>-v<N>``."""
    entry_point: str
    """``"package.module:Class"`` of a ``gymnasium.vector.VectorEnv`` subclass."""
    paradigm: str
    """regression, classification, clustering, GAN game, RL, ..."""
    description: str
    """One line."""
    num_envs: int
    """Default batch: sub-envs (samples) per step."""


@dataclass(frozen=True)
class AgentEntry:
    """A registered agent: what ``sandbox list`` shows and how to build it."""

    name: str
    """The name ``sandbox run ENV AGENT`` takes."""
    entry_point: str
    """``"package.module:Class"``; the class has a ``Config`` dataclass."""
    learns_from: str
    """What of the reward it uses: its gradient, or its value only."""
    description: str
    """One line."""


ENVS: dict[str, EnvEntry] = {}
AGENTS: dict[str, AgentEntry] = {}


def register_env(
    id: str, entry_point: str, *, paradigm: str, description: str, num_envs: int = 32
) -> None:
    """Register a sandbox env with Gymnasium (vector entry point) and with ``sandbox list``.

    Example:
        >>> register_env("demo/LinReg-v0", "envs.datasets:LinRegEnv",
        ...              paradigm="regression", description="y = Xw + b + noise", num_envs=10)
        >>> gymnasium.make_vec("demo/LinReg-v0", num_envs=4).num_envs
        4
        >>> del ENVS["demo/LinReg-v0"], gymnasium.registry["demo/LinReg-v0"]
    """
    ENVS[id] = EnvEntry(id, entry_point, paradigm, description, num_envs)
    gymnasium.register(id=id, vector_entry_point=entry_point)


def register_agent(name: str, entry_point: str, *, learns_from: str, description: str) -> None:
    """Register an agent class under ``name`` for ``make_agent`` and the CLI.

    Example:
        >>> register_agent("my-gradient", "agents.gradient:GradientAgent",
        ...                learns_from="reward gradient", description="model + optimizer")
        >>> agent_class("my-gradient").__name__
        'GradientAgent'
        >>> del AGENTS["my-gradient"]
    """
    AGENTS[name] = AgentEntry(name, entry_point, learns_from, description)


def load_entry_point(entry_point: str) -> Any:
    """Import ``"package.module:Attr"`` and return the attribute.

    Example:
        >>> load_entry_point("math:pi")
        3.141592653589793
    """
    module_name, _, attr = entry_point.partition(":")
    if not attr:
        raise UsageError(f"entry point {entry_point!r}: expected 'package.module:Name'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise UsageError(f"cannot load entry point {entry_point!r}: {e}") from None


GYM_ADAPTER = "envs.gym_adapter:GymAdapter"
"""Entry point of the adapter that serves every Gymnasium env that is not a sandbox one."""

PETTINGZOO_BOARD = "envs.board:PettingZooEnv"
"""Entry point of the env that serves a PettingZoo game (``pettingzoo.*``) to one learner."""


def _is_gym_id(env_id: str) -> bool:
    """A Gymnasium id with a single-env entry point (``"module:Id"`` imports the module)."""
    try:
        return gymnasium.spec(env_id).entry_point is not None
    except (gymnasium.error.Error, ImportError):
        return False


def sandbox_id(env_id: str) -> str | None:
    """The registered sandbox id ``env_id`` names, or ``None`` for any other env.

    ``"module:Id"`` imports ``module`` first, so a user's module that calls ``register_env``
    at import names its own batched torch env from the command line, as a Gymnasium id does.

    Example:
        >>> sandbox_id("sandbox/LinReg-v0"), sandbox_id("CartPole-v1")
        ('sandbox/LinReg-v0', None)
    """
    if env_id in ENVS:
        return env_id
    module, sep, name = env_id.partition(":")
    if not sep or not module:
        return None
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise UsageError(f"env id {env_id!r}: cannot import module {module!r} ({e})") from None
    return name if name in ENVS else None


def env_class(env_id: str) -> type:
    """The class behind an env id; ``UsageError`` with the closest ids if unknown.

    Sandbox ids (``"module:Id"`` too, for an id the module registers with ``register_env``)
    map to their own class; any other Gymnasium id (``"CartPole-v1"``, ``"module:MyEnv-v0"``)
    maps to the Gymnasium adapter.

    Example:
        >>> env_class("sandbox/LinReg-v0").__name__
        'LinRegEnv'
        >>> env_class("CartPole-v1").__name__
        'GymAdapter'
    """
    own = sandbox_id(env_id)
    if own is not None:
        return load_entry_point(ENVS[own].entry_point)
    if env_id.startswith("pettingzoo."):  # a board game, from its learner's seats
        return load_entry_point(PETTINGZOO_BOARD)
    # the adapter names a "module:Id" import error, and a missing ale-py for ALE/ ids
    if ":" in env_id or env_id.startswith("ALE/") or _is_gym_id(env_id):
        return load_entry_point(GYM_ADAPTER)
    known = list(ENVS) + list(gymnasium.registry)
    raise UsageError(
        f"unknown env id {env_id!r}{closest(env_id, known)}; "
        "`sandbox list` shows the sandbox's envs"
    )


def env_config_class(env_id: str) -> type | None:
    """The dataclass of an env's options (``--env.*``): a sandbox env's ``Config``; for a
    Gymnasium env, the adapter's options plus the keyword arguments of the env's constructor
    that have plain defaults (``--env.is-slippery False`` for FrozenLake), defaults taken
    from the id's registration.

    Example:
        >>> cfg = env_config_class("FrozenLake-v1")()
        >>> cfg.map_name, cfg.is_slippery, cfg.vectorization
        ('4x4', True, 'sync')
    """
    cls = env_class(env_id)
    config = getattr(cls, "Config", None)
    if cls is not load_entry_point(GYM_ADAPTER) or config is None:
        return config
    if env_id.startswith("ALE/"):  # importing ale-py registers its ids (or names the extra)
        cls.resolve_spec(env_id)
    try:  # "module:Id": env_class imported the module, which registered Id
        spec = gymnasium.spec(env_id.partition(":")[2] or env_id)
    except gymnasium.error.Error:
        return config  # the adapter names what is wrong when the env is made
    constructor = spec.entry_point
    if isinstance(constructor, str):
        try:
            constructor = load_entry_point(constructor)
        except (ImportError, gymnasium.error.DependencyNotInstalled) as e:
            raise cls.missing_extra(env_id, e) from None  # one line naming the pip extra
    taken = {f.name for f in dataclasses.fields(config)}
    options = [
        (name, kind, dataclasses.field(default=default))
        for name, kind, default in _plain_parameters(constructor, spec.kwargs)
        if name not in taken
    ]
    if not options:
        return config
    return dataclasses.make_dataclass(f"{spec.name}Config", options, bases=(config,), frozen=True)


PLAIN = (bool, int, float, str)


def _plain_parameters(constructor: Any, registered: Mapping[str, Any]) -> list[tuple]:
    """``(name, type, default)`` of the keyword parameters of ``constructor`` whose default
    (the registered value if the id sets one) is a bool, int, float or str."""
    try:
        parameters = inspect.signature(constructor).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: no options to offer
        return []
    plain = []
    for p in parameters:
        default = registered.get(p.name, p.default)
        if p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == "render_mode" or type(default) not in PLAIN:
            continue
        plain.append((p.name, type(default), default))
    return plain


def agent_class(name: str) -> type:
    """The class behind an agent name, or a user's ``"module:Class"``; ``UsageError`` with
    the closest names if unknown.

    A user's class follows the ``Agent`` protocol (``act``, ``learn``, ``state_dict``,
    ``load_state_dict``) and is built as ``Class(env, config)``, or ``Class(env)`` when it
    has no ``Config`` dataclass.

    Example:
        >>> agent_class("gradient").__name__
        'GradientAgent'
        >>> agent_class("agents.ppo:PPOAgent").__name__
        'PPOAgent'
    """
    if ":" in name:
        cls = load_entry_point(name)
        missing = [m for m in AGENT_METHODS if not callable(getattr(cls, m, None))]
        if not isinstance(cls, type) or missing:
            raise UsageError(
                f"agent {name!r} is not an agent class: expected a class with "
                f"{', '.join(AGENT_METHODS)} (the Agent protocol)"
                + (f"; it has no {', '.join(missing)}" if isinstance(cls, type) else "")
            )
        return cls
    if name not in AGENTS:
        raise UsageError(
            f"unknown agent {name!r}{closest(name, list(AGENTS))}; "
            f"known agents: {', '.join(sorted(AGENTS))}, or module:Class for your own"
        )
    return load_entry_point(AGENTS[name].entry_point)


AGENT_METHODS = ("act", "learn", "state_dict", "load_state_dict")
"""What ``sandbox run ENV module:Class`` requires of a user's agent class."""


def build_config(config_cls: type, overrides: dict[str, Any], owner: str) -> Any:
    """Build a frozen config dataclass, refusing unknown names and bad values as ``UsageError``.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class C:
        ...     lr: float = 0.1
        >>> build_config(C, {"lr": 0.5}, "agent 'x'")
        C(lr=0.5)
        >>> build_config(C, {"lrr": 0.5}, "agent 'x'")
        Traceback (most recent call last):
        ...
        sandbox.errors.UsageError: agent 'x' has no option 'lrr' (did you mean lr?)
    """
    names = [f.name for f in dataclasses.fields(config_cls)]
    for key, value in overrides.items():
        if key not in names:
            raise UsageError(f"{owner} has no option {key!r}{closest(key, names)}")
        if isinstance(value, float) and not math.isfinite(value):  # e.g. --lr inf
            raise UsageError(f"{owner}: {key} must be a finite number, got {value}")
    try:
        return config_cls(**overrides)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{owner}: {e}") from None


def make(
    env_id: str | Any,
    num_envs: int | None = None,
    *,
    device: str | torch.device = "cpu",
    **kwargs: Any,
) -> Env:
    """Build a batched, torch-native env from a registered id.

    Args:
        env_id: a sandbox id such as ``"sandbox/LinReg-v0"``; or any Gymnasium id
            (``"CartPole-v1"``, ``"module:MyEnv-v0"``), env class or instance, which the
            Gymnasium adapter vectorises (``envs/gym_adapter.py``; 8 sub-envs by default).
        num_envs: sub-envs (for a dataset: samples per step); ``None`` takes the env's default.
        device: where the env's tensors live (``"auto"`` resolves as in ``resolve_device``).
        **kwargs: fields of the env's ``Config`` (and ``split`` for datasets).

    Returns:
        The env, already on ``device``.

    Example:
        >>> env = make("sandbox/LinReg-v0", num_envs=32)
        >>> env.num_envs, env.single_observation_space.shape
        (32, (2,))
    """
    if isinstance(env_id, str) and env_id.startswith("pettingzoo."):  # a board game, batched
        num_envs = GYM_NUM_ENVS if num_envs is None else num_envs
        _check_num_envs(num_envs)
        cls = env_class(env_id)
        build_config(cls.Config, kwargs, f"env {env_id!r}")  # refuse bad options early
        return cls(env_id, num_envs, device=resolve_device(device), **kwargs)
    own = sandbox_id(env_id) if isinstance(env_id, str) else None
    if own is None:  # any other Gymnasium env
        return _make_gym(env_id, num_envs, device, kwargs)
    cls = env_class(own)
    if num_envs is None:
        num_envs = ENVS[own].num_envs
    _check_num_envs(num_envs)
    config_cls = getattr(cls, "Config", None)
    if config_cls is not None:
        options = {k: v for k, v in kwargs.items() if k not in cls.RESERVED_KWARGS}
        build_config(config_cls, options, f"env {env_id!r}")  # refuse bad options early
    env = gymnasium.make_vec(own, num_envs=num_envs, device=resolve_device(device), **kwargs)
    if env_id != own and getattr(env, "spec", None) is not None:
        # the id as given ("module:Id"), so a resumed run imports the module again
        env.spec = dataclasses.replace(env.spec, id=env_id)
    return env


MAX_NUM_ENVS = 2**24
"""More sub-envs than this would not fit in memory for any env here (16M rows)."""


def _check_num_envs(num_envs: Any) -> None:
    if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
        raise UsageError(f"num_envs must be a positive integer, got {num_envs!r}")
    if num_envs > MAX_NUM_ENVS:
        raise UsageError(f"num_envs must be at most 2**24 = {MAX_NUM_ENVS:,}, got {num_envs:,}")


GYM_NUM_ENVS = 8
"""Sub-envs of a Gymnasium env made without ``num_envs``."""


def default_num_envs(env_id: str) -> int:
    """The sub-envs ``make(env_id)`` steps when given no ``num_envs``.

    Example:
        >>> default_num_envs("CartPole-v1")
        8
    """
    own = sandbox_id(env_id)
    return ENVS[own].num_envs if own is not None else GYM_NUM_ENVS


def _make_gym(env: Any, num_envs: int | None, device: Any, kwargs: dict[str, Any]) -> Env:
    """A Gymnasium id, ``"module:Id"``, env class or instance through the Gymnasium adapter."""
    cls = env_class(env) if isinstance(env, str) else load_entry_point(GYM_ADAPTER)
    num_envs = GYM_NUM_ENVS if num_envs is None else num_envs
    _check_num_envs(num_envs)
    if isinstance(env, str) and kwargs:  # refuse an unknown option in one line, early
        build_config(env_config_class(env), kwargs, f"env {env!r}")
    try:
        return cls(env, num_envs, device=resolve_device(device), **kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, UsageError):
            raise
        raise UsageError(f"env {getattr(env, '__name__', env)!r}: {e}") from None


def make_agent(name: str, env: Env, **config: Any) -> Agent:
    """Build a registered agent for ``env``, with its ``Config`` fields as keyword overrides.

    Example:
        >>> env = make("sandbox/LinReg-v0", num_envs=8)
        >>> agent = make_agent("gradient", env, lr=0.05)
        >>> agent.config.lr
        0.05
    """
    cls = agent_class(name)
    if getattr(cls, "Config", None) is None:  # a user's agent without options
        if config:
            raise UsageError(f"agent {name!r} has no Config, so no option {next(iter(config))!r}")
        return cls(env)
    cfg = build_config(cls.Config, config, f"agent {name!r}")
    return cls(env, cfg)
