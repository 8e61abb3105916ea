"""The sandbox's own errors, whose message the CLI prints as one line (DESIGN §7), and
``closest``, the "did you mean" of those messages."""

from __future__ import annotations

import difflib
from typing import Any


class SandboxError(Exception):
    """Base of the sandbox's own errors."""


class UsageError(SandboxError, ValueError):
    """A bad id, flag or hyperparameter: refused before any work or any file is written."""


class ActionError(SandboxError, ValueError):
    """An action that does not fit the env's action space (shape, dtype, device, range, NaN)."""


class CheckpointError(UsageError):
    """A run directory that cannot be resumed: its checkpoint is missing, unreadable, another
    run's or incomplete, or another process is writing it. Refused before any work."""


class CheckpointWriteError(SandboxError, OSError):
    """A checkpoint could not be written (disk full, no permission); the previous one is kept."""


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


def closest(name: str, choices: list[str] | Any, n: int = 3) -> str:
    """``" (did you mean a, b?)"`` for the nearest ``choices``, or ``""`` when none is close.

    Example:
        >>> closest("gradiant", ["gradient", "ppo"])
        ' (did you mean gradient?)'
    """
    lowered = {c.lower(): c for c in choices}
    near = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return f" (did you mean {', '.join(lowered[m] for m in near)}?)" if near else ""
