"""What a run is (``RunConfig``), what it is doing (``Run``) and what it reports (``RunResult``).

``RunConfig`` is built by the CLI (or by ``sandbox.train``'s keyword arguments), stored in
every checkpoint as a plain dict and read back whole by ``--resume``. ``Run`` is the live
state that the loop advances and its callbacks read: samples consumed, the run directory,
the logger, a stop request.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.errors import CheckpointError, UsageError

MAX_SEED = 2**63 - 1
"""torch's generators take seeds in [0, 2**63 - 1] (and NumPy's global one ``seed % 2**32``)."""


@dataclass(frozen=True)
class RunConfig:
    """A run's budget, seed, schedules and outputs: everything but the env and the agent.

    Example:
        >>> RunConfig(steps=1000).resolved(batch=32).log_every
        32
        >>> RunConfig(steps=0)
        Traceback (most recent call last):
        ...
        sandbox.errors.UsageError: steps must be a positive number of samples, got 0
    """

    steps: int
    """Samples to consume in total: env transitions summed over sub-envs (and ranks)."""
    seed: int | None = None
    """Seeds the env's first reset; evaluation episodes are seeded from it too."""
    logdir: str | os.PathLike | None = "runs"
    """Root of the run directories; ``None`` writes nothing (no TensorBoard, no checkpoint)."""
    experiment: str = "default"
    """The sub-directory of ``logdir`` grouping related runs."""
    log_every: int | None = None
    """Samples between scalar writes (default: about 100 points per run)."""
    eval_every: int | None = None
    """Samples between evaluations (default: about 10 per run)."""
    checkpoint_every: int | None = None
    """Samples between checkpoints (default: only at the end and when stopped)."""
    eval_episodes: int = 10
    """Episodes per evaluation, for envs with episodes (a dataset passes over its split)."""
    histograms: bool = False
    """At each log, histograms of weights and gradients, and ``train/grad_norm``."""
    projector: bool = False
    """At the end, the eval env's ``embedding(agent)`` for TensorBoard's projector."""
    stop_on_nonfinite: bool = True
    """Stop with ``NonFiniteError`` when a logged value is NaN or infinite."""
    progress: bool = True
    """Show a progress bar on a terminal."""
    stop_deadline: float = 10.0
    """Seconds a stopped run (Ctrl-C, SIGTERM) gives the current step before giving up on it."""
    capture_video: bool = False
    """Record the evaluation episodes (the first sub-envs) as GIFs: the run's ``videos/``
    directory and TensorBoard's images (``media/episode``)."""

    def __post_init__(self) -> None:
        if self.logdir is not None:  # a Path too; stored as text, which checkpoints load
            object.__setattr__(self, "logdir", str(self.logdir))
        if not _is_int(self.steps) or self.steps < 1:
            raise UsageError(f"steps must be a positive number of samples, got {self.steps!r}")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED):
            raise UsageError(f"seed must be an integer in [0, 2**63 - 1], got {self.seed!r}")
        for name in ("log_every", "eval_every", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise UsageError(f"{name} must be a positive number of samples, got {value!r}")
        if not isinstance(self.stop_deadline, int | float) or not self.stop_deadline > 0:
            raise UsageError(f"stop_deadline must be > 0 seconds, got {self.stop_deadline!r}")
        if not _is_int(self.eval_episodes) or self.eval_episodes < 1:
            raise UsageError(f"eval_episodes must be >= 1, got {self.eval_episodes!r}")

    def resolved(self, batch: int) -> RunConfig:
        """The config with its default intervals filled in for ``batch`` samples per step."""
        return dataclasses.replace(
            self,
            log_every=self.log_every or max(batch, self.steps // 100),
            eval_every=self.eval_every or max(batch, self.steps // 10),
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain dict, as checkpoints store it (``weights_only`` loads it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Read back ``to_dict``'s output; ``CheckpointError`` for anything else.

        Example:
            >>> RunConfig.from_dict(RunConfig(steps=5, seed=1).to_dict()).seed
            1
        """
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(values, dict) or "steps" not in values or set(values) - names:
            raise CheckpointError(
                f"the checkpoint's run config is not a RunConfig: expected the keys "
                f"{', '.join(sorted(names))}, got {values!r:.200}"
            )
        return cls(**values)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class RunResult:
    """What a finished run reports: the figures of its summary line."""

    run_dir: Path | None
    """The TensorBoard run directory (``None`` when nothing was written)."""
    samples: int
    """Samples consumed in total (a resumed run counts its earlier part too)."""
    wall_time: float
    """Seconds this call spent in the loop."""
    samples_per_s: float
    """Samples this call consumed per second of loop time."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The final evaluation, ``{"eval/score": ..., "eval/r2": ...}``."""
    stop_reason: str | None = None
    """Why a callback ended the run before its budget (``Run.stop``); ``None``: it did not."""


@dataclass(eq=False)
class Run:
    """The live state of a run, as the loop advances it and every callback sees it.

    Callbacks read ``samples``, ``config``, ``env``, ``agent``, ``run_dir`` and ``logger``,
    write their own scalars with ``add_scalars`` and end the run early with ``stop``.
    """

    config: RunConfig
    """What the run is (its intervals resolved)."""
    env: Any
    """The training env (or game)."""
    agent: Any
    """The agent, or a game's ``{player: agent}``."""
    play: Any
    """What one step of the loop is: ``Steps`` (one agent) or ``sandbox.multi.Turns``."""
    batch: int
    """Samples per step, every data-parallel rank's together."""
    run_dir: Path | None = None
    """Where TensorBoard files and the checkpoint go (``None``: nowhere)."""
    logger: Any = None
    """The run's ``sandbox.logger.Logger`` (only on the writing rank)."""
    samples: int = 0
    """Samples consumed so far, this run's earlier parts included."""
    meta: dict[str, Any] = field(default_factory=dict)
    """The env and agent part of the checkpoint's config (ids, options, num_envs, device)."""
    callbacks: list[Any] = field(default_factory=list)
    """Every callback, in the order they are called."""
    final: dict[str, float] = field(default_factory=dict)
    """The latest evaluation's figures."""
    stop_reason: str | None = None
    """Set by ``stop``: the loop ends after the current step."""
    signum: int | None = None
    """The signal that stopped the run, if one did."""
    error: BaseException | None = None
    """What ended the run abnormally, for ``on_end`` to see."""
    last_checkpoint: Path | None = None
    """The newest checkpoint written for this run (a resumed run's own, to begin with)."""
    lock: Any = None
    """The run directory's ``RunLock`` while this process writes it."""

    def stop(self, reason: str, signum: int | None = None) -> None:
        """Ask the loop to end after this step (a final checkpoint is written)."""
        self.stop_reason, self.signum = reason, signum

    def add_scalars(self, values: dict[str, float]) -> None:
        """Write ``{tag: value}`` to TensorBoard at x = ``samples`` (no callback sees it)."""
        if self.logger is not None:
            self.logger.scalars(self.samples, values)

    def log(self, values: dict[str, float]) -> dict[str, float]:
        """Write ``values`` and show them to every callback's ``on_log``; return them."""
        self.add_scalars(values)
        for callback in self.callbacks:
            callback.on_log(self, values)
        return values

    def where_saved(self) -> str:
        """``"the last good checkpoint is ..."``: the end of every message of a stopped run."""
        if self.last_checkpoint is None:
            return "no checkpoint was written before it (see --checkpoint-every)"
        return f"the last good checkpoint is {self.last_checkpoint}"

    def interrupted_message(self) -> str:
        """The one line of a run stopped by a signal: where, and how to resume it."""
        name = signal.Signals(self.signum or signal.SIGTERM).name
        if self.last_checkpoint is None:
            return f"stopped by {name} at sample {self.samples}; nothing saved (logdir=None)"
        world = self.meta.get("world_size", 1)
        launch = f"torchrun --nproc-per-node {world} -m " if world > 1 else ""
        return (
            f"stopped by {name} at sample {self.samples}; checkpoint {self.last_checkpoint}; "
            f"resume with: {launch}sandbox run --resume {self.run_dir}"
        )
