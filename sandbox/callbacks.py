"""Callbacks: everything a run does besides act, step and learn (DESIGN §3).

A callback sees the run at four moments: ``on_start``, ``on_step`` (after every step, with
the step's metrics as tensors on the device), ``on_log`` (whenever scalars are logged: the
training means, an evaluation) and ``on_end`` (always, also after an error). Logging,
evaluation, checkpoints, the progress bar and the stops on a signal or a non-finite value
are callbacks; a user's own go in ``sandbox.train(..., callbacks=[...])``, after these.

Example:
    >>> import sandbox
    >>> class Count(Callback):
    ...     steps = 0
    ...     def on_step(self, run, metrics, info):
    ...         self.steps += 1
    >>> env = sandbox.make("sandbox/LinReg-v0", num_envs=10)
    >>> count = Count()
    >>> _ = sandbox.train(env, sandbox.make_agent("gradient", env), 100, logdir=None,
    ...                   progress=False, callbacks=[count])
    >>> count.steps
    10
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any

from torch import Tensor
from tqdm import tqdm

from sandbox import distributed
from sandbox.checkpoint import FILENAME, save_checkpoint
from sandbox.device import env_device
from sandbox.errors import NonFiniteError, SandboxError
from sandbox.evaluation import eval_seed, evaluate, read_figures
from sandbox.logger import EpisodeSums, MetricSums, first_nonfinite
from sandbox.run import Run
from sandbox.seeding import rng_state


class Callback:
    """Base class: override the moments you need; each gets the live ``Run``."""

    def on_start(self, run: Run) -> None:
        """Before the first step (after a resume has restored the run)."""

    def on_step(self, run: Run, metrics: dict[str, Tensor], info: dict[str, Any]) -> None:
        """After each step: ``metrics`` by tag (``reward/mean``, the agent's ``train/*``) as
        tensors on the device (read them only now and then: a read waits for the device),
        ``info`` the env's (``info["episode"]`` where episodes ended)."""

    def on_log(self, run: Run, values: dict[str, float]) -> None:
        """After scalars were written at x = ``run.samples`` (training means, evaluations)."""

    def on_end(self, run: Run) -> None:
        """After the last step, however the run ended (``run.error`` says if it failed)."""


def due(run: Run, every: int | None) -> bool:
    """Whether this step crossed a multiple of ``every`` samples.

    Example:
        >>> from types import SimpleNamespace as S
        >>> due(S(samples=64, batch=32), 50), due(S(samples=96, batch=32), 50)
        (True, False)
    """
    return every is not None and run.samples // every > (run.samples - run.batch) // every


def at_end(run: Run) -> bool:
    """Whether this step used up the budget."""
    return run.samples >= run.config.steps


class LogMetrics(Callback):
    """Means of every metric over each log interval, ``time/fps`` and the episodes' returns.

    Metrics are summed on their device every step and read in one transfer per interval.
    """

    def __init__(self) -> None:
        self.sums, self.episodes = MetricSums(), EpisodeSums()

    def on_start(self, run: Run) -> None:
        self.t_log, self.s_log = time.perf_counter(), run.samples

    def on_step(self, run: Run, metrics: dict[str, Tensor], info: dict[str, Any]) -> None:
        self.sums.add(metrics)
        if "episode" in info:  # an env with episodes reports them as Gymnasium does
            self.episodes.add(info["episode"], info["_episode"])
        if due(run, run.config.log_every) or at_end(run):
            run.log(self.values(run))

    def values(self, run: Run) -> dict[str, float]:
        """The interval's means (over every rank in a data-parallel run) and its fps."""
        if distributed.active():  # every rank logs (and checks) the same: the run's means
            device = env_device(run.env)
            values = {
                **self.sums.means(distributed.all_reduce_mean),
                **self.episodes.means(lambda t: distributed.all_reduce_sum(t.to(device))),
            }
        else:
            values = {**self.sums.means(), **self.episodes.means()}
        now = time.perf_counter()
        values["time/fps"] = (run.samples - self.s_log) / max(now - self.t_log, 1e-9)
        self.t_log, self.s_log = now, run.samples
        if run.config.histograms and run.logger is not None:
            values.update(run.logger.histograms(run.agent, run.samples))
        return values


class Evaluate(Callback):
    """``eval/*`` on the held-out env every ``eval_every`` samples and at the end of the budget.

    A dataset's train split is scored too (``eval/train_score``, ``eval/generalization_gap``).

    Episodes are reset from one seed derived from the run's, at every evaluation: the same
    seed gives the same ``eval/*`` on the same device, and a resumed run needs no eval state.
    """

    def __init__(self, eval_env: Any) -> None:
        self.eval_env = eval_env

    def on_step(self, run: Run, metrics: dict[str, Tensor], info: dict[str, Any]) -> None:
        if due(run, run.config.eval_every) or at_end(run):
            self.evaluate(run)

    def evaluate(self, run: Run) -> None:
        """Evaluate now: log the figures (``run.final``) and the eval env's media."""
        seed = eval_seed(run.config.seed, self.eval_env.num_envs)
        video: list[Tensor] | None = [] if run.config.capture_video else None
        figures = evaluate(
            self.eval_env,
            run.agent,
            num_episodes=run.config.eval_episodes,
            seed=seed,
            video=video,
            train_env=run.env,  # a dataset also scores its train split: the generalization gap
        )
        run.final = run.log(read_figures(figures))
        if run.logger is not None and video:
            fps = self.eval_env.metadata.get("render_fps", 30)
            run.logger.video("media/episode", video, run.samples, fps)
        if run.logger is not None:
            projector = run.config.projector and at_end(run)
            run.logger.media(self.eval_env, run.agent, run.samples, projector)


class StopOnNonFinite(Callback):
    """Stop with ``NonFiniteError`` when a logged value is NaN or infinite, naming the tag and
    the sample (nothing is saved after it: the loop names the last good checkpoint)."""

    def on_log(self, run: Run, values: dict[str, float]) -> None:
        tag = first_nonfinite(values)
        if tag is None:
            return
        game = f" (round {run.samples // run.batch})" if isinstance(run.agent, Mapping) else ""
        raise NonFiniteError(  # the loop adds where the last good checkpoint is
            f"{tag} = {values[tag]} at sample {run.samples}{game} "
            "(pass --no-stop-on-nonfinite to keep going)"
        )


class StopAtScore(Callback):
    """Stop the run once an evaluation reaches ``threshold`` (SB3's
    ``StopTrainingOnRewardThreshold``); the final checkpoint is written as usual.

    Args:
        threshold: the value of ``tag`` to reach.
        tag: the logged scalar to watch (``eval/score``: every paradigm's headline figure).
    """

    def __init__(self, threshold: float, tag: str = "eval/score") -> None:
        self.threshold, self.tag = threshold, tag

    def on_log(self, run: Run, values: dict[str, float]) -> None:
        if self.tag in values and values[self.tag] >= self.threshold:
            run.stop(f"{self.tag} {values[self.tag]:.4g} >= {self.threshold:g}")


class Checkpoint(Callback):
    """Write ``checkpoint.pt`` every ``checkpoint_every`` samples, when stopped and at the end.

    TensorBoard is flushed first, so a resume from this checkpoint finds every point logged
    before it. A run that failed in its env or agent is saved as its last ``learn`` left it;
    one stopped by a non-finite value or a second Ctrl-C is not (its last good one stays).
    """

    def on_step(self, run: Run, metrics: dict[str, Tensor], info: dict[str, Any]) -> None:
        if due(run, run.config.checkpoint_every) and not at_end(run):
            self.save(run)

    def on_end(self, run: Run) -> None:
        error = run.error
        crashed = isinstance(error, Exception) and not isinstance(error, SandboxError)
        if error is None or (crashed and not distributed.active()):
            try:
                self.save(run)
            except Exception as e:  # after a crash the env may be too broken to report
                if error is None:
                    raise
                run.meta["checkpoint_error"] = f"{type(e).__name__}: {e}"

    def save(self, run: Run) -> None:
        """Gather every rank's state and write it (rank 0), after flushing TensorBoard."""
        if run.run_dir is None:
            return
        own = {**run.play.state_dict(), "rng": rng_state()}
        states = distributed.gather_to_main(own) if distributed.active() else [own]
        if not distributed.is_main():
            run.last_checkpoint = run.run_dir / FILENAME
            return
        others = [distributed.dedupe(states[0], s) for s in states[1:]]
        if run.logger is not None:
            run.logger.flush()
        state = {
            "samples": run.samples,
            "run_name": run.run_dir.name,
            "config": {**run.meta, "run": run.config.to_dict()},
            **states[0],
            **({"other_ranks": others} if others else {}),
        }
        run.last_checkpoint = save_checkpoint(run.run_dir / FILENAME, state)


class ProgressBar(Callback):
    """A tqdm bar of samples on a terminal (rank 0 only), with the latest mean reward."""

    def on_start(self, run: Run) -> None:
        self.bar = tqdm(
            total=run.config.steps,
            initial=run.samples,
            unit="sample",
            disable=None if distributed.is_main() else True,  # None: only on a terminal
            dynamic_ncols=True,
            leave=False,
        )

    def on_log(self, run: Run, values: dict[str, float]) -> None:
        self.bar.update(run.samples - self.bar.n)
        if "reward/mean" in values:
            self.bar.set_postfix(reward=f"{values['reward/mean']:.4g}")

    def on_end(self, run: Run) -> None:
        self.bar.close()


class StepHung(SandboxError):
    """A stop was asked for, but the step in progress did not end within the deadline."""


class StopOnSignal(Callback):
    """The first SIGINT/SIGTERM stops the run after the current step, with a checkpoint.

    Stopping between steps keeps agent and env consistent, so the checkpoint resumes exactly.
    If the step does not end within ``deadline`` seconds (a hung env), ``StepHung`` is raised
    inside it and the run ends with its last good checkpoint. A second Ctrl-C interrupts at
    once (not under torchrun, which forwards its own signal on top of the terminal's). In a
    data-parallel run the ranks agree every ``STOP_CHECK_EVERY`` steps, whichever got it.
    """

    def __init__(self, deadline: float = 10.0) -> None:
        self.deadline = deadline
        self.received: list[int] = []
        self.previous: dict[int, Any] = {}

    def on_start(self, run: Run) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only
        handlers = {signal.SIGINT: self._handle, signal.SIGTERM: self._handle}
        handlers[signal.SIGALRM] = self._hung
        self.previous = {s: signal.signal(s, h) for s, h in handlers.items()}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received and signum == signal.SIGINT and not distributed.active():
            raise KeyboardInterrupt
        if not self.received:
            signal.setitimer(signal.ITIMER_REAL, self.deadline)  # the step must end by then
        self.received.append(signum)

    def _hung(self, signum: int, frame: Any) -> None:
        name = signal.Signals(self.received[0]).name if self.received else "a signal"
        raise StepHung(f"stopped by {name}, but the step did not end within {self.deadline:g} s")

    def on_step(self, run: Run, metrics: dict[str, Tensor], info: dict[str, Any]) -> None:
        if distributed.active():
            steps = run.samples // run.batch
            if steps % distributed.STOP_CHECK_EVERY and not due(run, run.config.log_every):
                return
            stop = distributed.any_rank(bool(self.received), env_device(run.env))
        else:
            stop = bool(self.received)
        if stop:
            self._disarm()
            run.stop("signal", self.received[0] if self.received else signal.SIGTERM)

    def _disarm(self) -> None:
        if self.previous:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def on_end(self, run: Run) -> None:
        self._disarm()
        if isinstance(run.error, StepHung):  # its worker processes, if any, are stuck mid-step
            with warnings.catch_warnings(), contextlib.suppress(Exception):
                warnings.simplefilter("ignore")  # Gymnasium's "close while waiting for step"
                run.env.close(terminate=True)
        if self.previous and run.error is not None and distributed.active():
            # torchrun SIGTERMs the ranks left as soon as one dies, while this one still
            # waits for the others' word to say which failed (distributed.failure)
            for s in (signal.SIGINT, signal.SIGTERM):
                signal.signal(s, signal.SIG_IGN)
            return
        for s, h in self.previous.items():
            signal.signal(s, h)
        self.previous = {}


def default_callbacks(run: Run, eval_env: Any) -> list[Callback]:
    """The callbacks of every run, in their order: stop on a signal, log, evaluate, stop on a
    non-finite value, checkpoint, progress bar."""
    callbacks: list[Callback] = [StopOnSignal(run.config.stop_deadline), LogMetrics()]
    if eval_env is not None:
        callbacks.append(Evaluate(eval_env))
    if run.config.stop_on_nonfinite:
        callbacks.append(StopOnNonFinite())
    callbacks.append(Checkpoint())
    if run.config.progress:
        callbacks.append(ProgressBar())
    return callbacks
