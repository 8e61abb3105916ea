"""One call seeds Python, NumPy and torch; envs own their generators (STYLE §10)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (every device).

    Call it once, before building the agent, so that weight initialisation repeats.

    Example:
        >>> seed_everything(0); a = torch.rand(1)
        >>> seed_everything(0); bool(torch.equal(a, torch.rand(1)))
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global RNG states a bitwise resume needs (loadable with ``weights_only=True``).

    Example:
        >>> sorted(rng_state())
        ['cuda', 'python', 'torch']
    """
    return {
        "python": random.getstate(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned.

    Example:
        >>> s = rng_state(); a = torch.rand(1); set_rng_state(s)
        >>> bool(torch.equal(a, torch.rand(1)))
        True
    """
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
