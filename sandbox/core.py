"""The contract every paradigm shares: the transition, the agent, the env, the errors.

An env is a ``gymnasium.vector.VectorEnv`` whose arrays are torch tensors on ``env.device``
(DESIGN §2), with the optional hooks of ``EnvHooks``; an agent is anything with ``act`` and
``learn``. The loop in ``sandbox.loop`` needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium
from torch import Tensor

from sandbox.device import env_device
from sandbox.errors import (
    ActionError,
    CheckpointError,
    CheckpointWriteError,
    NonFiniteError,
    RunFailed,
    RunInterrupted,
    SandboxError,
    UsageError,
)

Env = gymnasium.vector.VectorEnv
"""A batched, torch-native env: ``gymnasium.vector.VectorEnv`` semantics, tensors on its device."""


@dataclass(slots=True)
class Transition:
    """The seed's (state, action, reward, next_state), batched over ``N`` sub-envs.

    Example:
        >>> import torch
        >>> t = Transition(torch.zeros(2, 3), torch.zeros(2, 1), torch.ones(2), torch.zeros(2, 3),
        ...                torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool))
        >>> t.reward.shape
        torch.Size([2])
    """

    obs: Tensor
    """(N, *obs_shape) what the agent saw."""
    action: Tensor
    """(N, *action_shape) what it did; may carry an autograd graph."""
    reward: Tensor
    """(N,) float; keeps its graph back to ``action`` where the env is differentiable."""
    next_obs: Tensor
    """(N, *obs_shape) after autoreset: a finished sub-env's row is its new first obs."""
    terminated: Tensor
    """(N,) bool, the task is over: do not bootstrap."""
    truncated: Tensor
    """(N,) bool, cut by a limit: do bootstrap (from ``info["final_obs"]``)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Gymnasium vector infos: arrays with a ``"_key"`` mask; ``final_obs`` after autoreset."""


@runtime_checkable
class Agent(Protocol):
    """What the loop needs of an agent (DESIGN §2).

    ``act`` may keep an autograd graph (a gradient learner returns its net's output);
    ``learn`` returns its metrics as 0-d tensors left on the device, keyed by their
    TensorBoard tag (``"train/loss"``); the loop reads them once per log interval.
    """

    def act(self, obs: Tensor, *, deterministic: bool = False) -> Tensor:
        """Return a batched action for the batched ``obs``; deterministic for evaluation."""
        ...

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """Update from one batched transition; return metrics keyed by tag."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: modules, optimizers, buffers, counters."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        ...

    # Optional: ``on_start(run)`` is called with the run's ``RunConfig`` before the first
    # step (and on resume, before ``load_state_dict``), so an agent learns the budget
    # (``run.steps``) from the loop, e.g. to anneal its learning rate over it.


ENV_HOOKS = (
    "eval_env",
    "score",
    "media",
    "embedding",
    "state_dict",
    "load_state_dict",
    "shard",
    "config_dict",
    "video_env",
    "frames",
    "on_start",
    "split",
)
"""The optional hooks of an env (``EnvHooks``); the engine asks for them through ``env_hook``."""


class EnvHooks(Protocol):
    """What an env may offer beyond the Gymnasium vector API; every hook is optional.

    The engine (loop, callbacks, evaluation, logger) reads an env only through these and the
    vector API, never through its other attributes, so a user's env takes part in a run's
    evaluation, media and checkpoints by defining the hooks it can.
    """

    split: str
    """The dataset split the env serves (``"train"``, ``"val"``, ``"test"``); a training env
    with a split is scored beside its held-out one: ``eval/train_score``, the gap."""

    def eval_env(self) -> Env:
        """The held-out env for ``eval/*``: a dataset's test split, a fresh simulator copy."""
        ...

    def score(self, policy: Any) -> dict[str, Tensor]:
        """The headline figures of ``policy(obs) -> action`` over the whole split, once:
        ``{"score": ..., "<metric>": ...}`` as 0-d tensors (``score`` higher is better)."""
        ...

    def media(self, agent: Any) -> dict[str, Tensor | str]:
        """Images to show at an evaluation, ``{name: (N, C, H, W) in [0, 1]}``, or Markdown
        text (a board game's boards)."""
        ...

    def embedding(self, agent: Any) -> dict[str, Any] | None:
        """``SummaryWriter.add_embedding`` keyword arguments for the projector, or ``None``."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """What a bitwise resume needs of the env (generators, cursors, current batch)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> Tensor | None:
        """Restore ``state``; return the current observation (``None``: reset instead)."""
        ...

    def shard(self, rank: int, world_size: int) -> None:
        """Take this data-parallel rank's slice of every global batch."""
        ...

    def config_dict(self) -> dict[str, Any]:
        """The env's options as ``sandbox.make`` takes them (stored in the checkpoint)."""
        ...

    def video_env(self) -> Env:
        """The eval env, built to render ``frames`` (``--capture-video``)."""
        ...

    def frames(self, num: int) -> Tensor:
        """The first ``num`` sub-envs drawn now: ``(num, H, W, 3)`` uint8."""
        ...

    def on_start(self, run: Any) -> None:
        """The run, before the first reset: an env that plays against its own learner (a board
        game's past selves, ``envs/board.py``) keeps ``run.agent``."""
        ...


def env_hook(env: Any, name: str) -> Any:
    """The env's hook ``name`` (one of ``ENV_HOOKS``), or ``None`` where it has none.

    Example:
        >>> import sandbox
        >>> env_hook(sandbox.make("sandbox/LinReg-v0"), "score") is not None
        True
        >>> env_hook(sandbox.make("CartPole-v1"), "score") is None
        True
    """
    if name not in ENV_HOOKS:
        raise ValueError(f"{name!r} is not an env hook; expected one of {', '.join(ENV_HOOKS)}")
    return getattr(env, name, None)


__all__ = [
    "ENV_HOOKS",
    "ActionError",
    "Agent",
    "CheckpointError",
    "CheckpointWriteError",
    "Env",
    "EnvHooks",
    "NonFiniteError",
    "RunFailed",
    "RunInterrupted",
    "SandboxError",
    "Transition",
    "UsageError",
    "env_device",
    "env_hook",
]
