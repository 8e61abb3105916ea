"""Checkpoints: written atomically, read with clear errors (NOTES.md, "Checkpoints").

A checkpoint is a plain dict of tensors, numbers, strings and state_dicts, so
``torch.load(weights_only=True)`` reads it: the run's config is stored as a dict, never as
an object.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from sandbox.core import CheckpointError

FORMAT = "sandbox-checkpoint/1"
FILENAME = "checkpoint.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a temp file, then ``os.replace``.

    A crash mid-write leaves the previous checkpoint whole.

    Example:
        >>> import tempfile, os
        >>> p = save_checkpoint(os.path.join(tempfile.mkdtemp(), "c.pt"), {"samples": 3})
        >>> load_checkpoint(p)["samples"]
        3
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)
    return path


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
        sandbox.core.CheckpointError: no checkpoint at /nonexistent/run/checkpoint.pt: ...
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
    return state
