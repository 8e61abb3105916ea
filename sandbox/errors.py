"""The sandbox's own errors; the CLI prints their message as one line (DESIGN §7)."""

from __future__ import annotations


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
