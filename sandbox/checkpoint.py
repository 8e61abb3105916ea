"""Checkpoints: written atomically, read with clear errors.

A checkpoint is a plain dict of tensors, numbers, strings and state_dicts, so
``torch.load(weights_only=True)`` reads it: the run's config is stored as a dict, never as
an object.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from sandbox.errors import CheckpointError, CheckpointWriteError

FORMAT = "sandbox-checkpoint/2"
FILENAME = "checkpoint.pt"
REQUIRED = ("samples", "run_name", "agent", "env", "rng")
"""What every checkpoint holds besides its config."""
REQUIRED_CONFIG = ("env_id", "env", "num_envs", "device", "agent", "run")
"""What a checkpoint's config holds: enough to rebuild env and agent and continue the run."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a temp file, then ``os.replace``.

    A crash mid-write leaves the previous checkpoint whole.

    Example:
        >>> import tempfile, os
        >>> p = save_checkpoint(os.path.join(tempfile.mkdtemp(), "c.pt"), {"samples": 3})
        >>> torch.load(p, weights_only=True)["samples"]
        3
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save({"format": FORMAT, **state}, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # a full disk shows as either, depending on where
        tmp.unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free
        kept = "the previous checkpoint is kept" if path.exists() else "none was written before"
        # torch's zip writer reports a full disk as a RuntimeError about file positions
        full = isinstance(e, RuntimeError) and free < 2**20
        reason = "no space left on device" if full else getattr(e, "strerror", None) or e
        raise CheckpointWriteError(
            f"cannot write checkpoint {path}: {str(reason).strip().splitlines()[0]} "
            f"({free:,} bytes free there); {kept}"
        ) from None
    return path


def remove_stale_tmp(run_dir: str | os.PathLike) -> None:
    """Delete the temp files of checkpoints whose writer was killed mid-write.

    Call it only while holding the directory's ``RunLock``: no other writer is alive then.
    """
    for tmp in Path(run_dir).glob(f".{FILENAME}.tmp-*"):
        tmp.unlink(missing_ok=True)


class RunLock:
    """An advisory lock on a run directory, held by its one writer for the run's life.

    ``flock`` locks die with their process, so a killed run leaves no stale lock behind.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> lock = RunLock(d)
        >>> RunLock(d)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sandbox.errors.CheckpointError: ... is in use by another run ...
        >>> lock.release(); RunLock(d).release()
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        path = Path(run_dir) / ".lock"
        self._file = open(path, "a+")  # noqa: SIM115  held open: the lock lives with it
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise CheckpointError(
                f"{run_dir} is in use by another run (its lock {path} is held): wait for it "
                "to end, or stop it, before resuming"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        """Give the directory up (closing the file drops the lock)."""
        self._file.close()


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; ``CheckpointError`` says what is wrong.

    Args:
        path: the file, or a run directory holding ``checkpoint.pt``.
        map_location: where tensors are loaded.

    Example:
        >>> load_checkpoint("/nonexistent/run")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sandbox.errors.CheckpointError: no checkpoint at /nonexistent/run/checkpoint.pt: ...
    """
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / FILENAME
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}: expected a run directory written by "
            "`sandbox run` (or a checkpoint file)"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, EOFError, OSError, RuntimeError...
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is corrupt or not a "
            f"torch checkpoint ({type(e).__name__}: {str(e)[:120]})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path} is not a sandbox checkpoint: expected format {FORMAT!r}, found {found!r}"
        )
    missing = [k for k in REQUIRED if k not in state]
    config = state.get("config")
    if not isinstance(config, dict) or any(k not in config for k in REQUIRED_CONFIG):
        missing.append("config (" + ", ".join(REQUIRED_CONFIG) + ")")
    if missing:
        raise CheckpointError(f"{path} is incomplete: it lacks {', '.join(missing)}")
    return state
