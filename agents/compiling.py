"""``--compile`` (issue 23): an agent's hot paths through ``torch.compile``, eager on failure.

Every agent with a ``compile`` option wraps its training step's parts in ``Compiled``: the
gradient learner its net's forward and optimizer step, PPO its minibatch loss and its
clip-and-step, DQN its TD loss and its clip-and-step. The parts of one agent share a
``failed`` dict, so one failure prints one warning line and the whole agent runs eagerly.
Values that change during a run (PPO's annealed lr and clip range) reach the compiled code
as tensors updated in place: a Python float is compiled in as a constant, and a new value
would compile again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch


class Compiled:
    """``fn`` through ``torch.compile``, falling back to ``fn`` itself if compiling fails.

    torch.compile compiles at the first call, so that is where a failure shows: it is
    caught once, reported in one warning line, and ``fn`` runs eagerly from then on. The
    ``Compiled`` sharing one ``failed`` dict go eager together, after that one line.
    """

    def __init__(self, fn: Callable[..., Any], what: str, failed: dict[str, bool]) -> None:
        self.fn, self.what, self.failed = fn, what, failed
        self.compiled: Callable[..., Any] | None = None  # built at the first call

    def __call__(self, *args: Any) -> Any:
        if self.compiled is not None:
            return self.compiled(*args)
        if self.failed.get("failed"):  # another part of the same agent failed: no retry
            self.compiled = self.fn
            return self.fn(*args)
        self.compiled = torch.compile(self.fn)
        try:
            return self.compiled(*args)
        except Exception as e:  # any backend error: the run goes on eagerly
            message = str(e).strip().splitlines()[0] if str(e).strip() else ""
            warnings.warn(
                f"torch.compile of {self.what} failed ({type(e).__name__}: {message:.200}); "
                "running it eagerly",
                stacklevel=2,
            )
            self.compiled, self.failed["failed"] = self.fn, True
            return self.fn(*args)
