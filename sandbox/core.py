"""The contract every paradigm shares: the transition, the agent, the env, the errors.

An env is a ``gymnasium.vector.VectorEnv`` whose arrays are torch tensors on ``env.device``
(DESIGN §2); an agent is anything with ``act`` and ``learn``. The loop in ``sandbox.loop``
needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium
import torch
from torch import Tensor

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


class SandboxError(Exception):
    """Base of the sandbox's own errors; the CLI prints their message as one line."""


class UsageError(SandboxError, ValueError):
    """A bad id, flag or hyperparameter: refused before any work or any file is written."""


class ActionError(SandboxError, ValueError):
    """An action that does not fit the env's action space (shape, dtype, device, range, NaN)."""


class CheckpointError(SandboxError):
    """A checkpoint that cannot be read or does not belong to this run."""


class NonFiniteError(SandboxError):
    """A non-finite loss or reward stopped the run."""


class RunFailed(SandboxError):
    """An env or agent raised mid-run (e.g. a crashed async worker); a checkpoint was written."""


class RunInterrupted(SandboxError):
    """Ctrl-C or SIGTERM stopped a run after it wrote a final checkpoint."""

    def __init__(self, message: str, signum: int) -> None:
        """Record which signal stopped the run (``signal.SIGINT`` or ``SIGTERM``)."""
        super().__init__(message)
        self.signum = signum


def env_device(env: Env) -> torch.device:
    """The device of a sandbox env's tensors (``cpu`` for an env that names none).

    Example:
        >>> class E: device = "cpu"
        >>> env_device(E())
        device(type='cpu')
    """
    from sandbox.device import canonical_device  # device.py imports this module

    return canonical_device(getattr(env, "device", "cpu"))
