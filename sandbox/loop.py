"""The one loop: reset, act, step, learn, log, evaluate, checkpoint (DESIGN §3).

It trains any agent on any env. The x-axis of everything it logs is samples consumed
(environment transitions summed over sub-envs). Metrics stay on the device between log
intervals; nothing is read back per step.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor
from tqdm import tqdm

from sandbox import distributed
from sandbox.checkpoint import FILENAME, load_checkpoint, save_checkpoint
from sandbox.core import (
    Agent,
    Env,
    NonFiniteError,
    RunFailed,
    RunInterrupted,
    SandboxError,
    Transition,
    UsageError,
    env_device,
)
from sandbox.evaluation import evaluate, read_figures
from sandbox.logger import EpisodeSums, Logger, MetricSums, first_nonfinite, make_run_dir
from sandbox.multi import MultiAgentEnv, Turns
from sandbox.seeding import rng_state, set_rng_state


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


@contextmanager
def _stop_on_signal(at_once_on_second: bool = True) -> Iterator[list[int]]:
    """Turn the first SIGINT/SIGTERM into a flag the loop checks between steps.

    Stopping between steps keeps the agent and env consistent, so the checkpoint written
    then resumes exactly. A second Ctrl-C interrupts at once, unless ``at_once_on_second``
    is off: torchrun sends its workers the signal it got, on top of the terminal's.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        if received and signum == signal.SIGINT and at_once_on_second:
            raise KeyboardInterrupt
        received.append(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _agent_config(agent: Agent) -> dict[str, Any]:
    config = getattr(agent, "config", None)
    return {
        "agent": getattr(agent, "name", type(agent).__name__),
        "agent_config": dataclasses.asdict(config) if config is not None else {},
    }


def _env_config(env: Any) -> dict[str, Any]:
    """The env's options: its ``config_dict()``, else its ``config`` dataclass, else none."""
    if hasattr(env, "config_dict"):
        return env.config_dict()
    config = getattr(env, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}


def _run_config(
    env: Env | MultiAgentEnv,
    agent: Agent | Mapping[str, Agent],
    steps: int,
    seed: int | None,
    **schedule: Any,
) -> dict[str, Any]:
    """The resolved config: enough to rebuild env and agent(s) on ``--resume``.

    A game's agents are listed per player under ``players``; ``agent`` joins their names.
    """
    spec = getattr(env, "spec", None)
    if isinstance(agent, Mapping):
        players = {p: _agent_config(a) for p, a in agent.items()}
        agents = {"agent": "+".join(c["agent"] for c in players.values()), "players": players}
    else:
        agents = _agent_config(agent)
    return {
        "env_id": spec.id if spec is not None else type(env).__name__,
        "env": _env_config(env),
        "num_envs": env.num_envs,
        "device": str(env_device(env)),
        **agents,
        "steps": steps,
        "seed": seed,
        **schedule,
    }


class _Steps:
    """One agent in a vector env, one step at a time: act, step, learn (DESIGN §1's quadruple).

    ``sandbox.multi.Turns`` is its counterpart for games; ``train`` drives either.
    """

    def __init__(self, env: Env, agent: Agent) -> None:
        self.env, self.agent = env, agent
        self.obs: Tensor | None = None

    def start(self, seed: int | None, state: Mapping[str, Any] | None = None) -> None:
        """Reset the env, or restore agent and env from a checkpoint's ``state``."""
        if state is not None:
            self.agent.load_state_dict(state["agent"])
            if state["env"] is not None:
                self.obs = self.env.load_state_dict(state["env"])
        if self.obs is None:  # an env without state (e.g. a simulator) starts new episodes
            self.obs, _ = self.env.reset(seed=seed)

    def step(self, sums: MetricSums, episodes: EpisodeSums) -> int:
        """One batched transition, learned from at once; return the samples consumed."""
        obs, agent = self.obs, self.agent
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = self.env.step(action)
        metrics = agent.learn(
            Transition(obs, action, reward, next_obs, terminated, truncated, info)
        )
        sums.add({"reward/mean": reward, **metrics})  # summed per sub-env, averaged on read
        if "episode" in info:  # an env with episodes reports them as Gymnasium does
            episodes.add(info["episode"], info["_episode"])
        self.obs = next_obs
        return self.env.num_envs

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint's ``agent`` and ``env`` entries."""
        return {
            "agent": self.agent.state_dict(),
            "env": self.env.state_dict() if hasattr(self.env, "state_dict") else None,
        }


def train(
    env: Env | MultiAgentEnv,
    agent: Agent | Mapping[str, Agent],
    steps: int,
    *,
    eval_env: Env | None = None,
    seed: int | None = None,
    logdir: str | os.PathLike | None = "runs",
    experiment: str = "default",
    log_every: int | None = None,
    eval_every: int | None = None,
    checkpoint_every: int | None = None,
    progress: bool = True,
    stop_on_nonfinite: bool = True,
    resume: str | os.PathLike | None = None,
    histograms: bool = False,
    projector: bool = False,
) -> RunResult:
    """Train ``agent`` on ``env`` for ``steps`` samples, logging to TensorBoard.

    Args:
        env: a sandbox env (``sandbox.make``), or a turn-based game (``sandbox.multi``).
        agent: any object with the ``Agent`` methods; for a game, a dict of them keyed by
            player (``{"generator": ..., "discriminator": ...}``), each learning from its own
            rewards and logged under its player's name (``train/generator_loss``).
        steps: samples to consume in total (env transitions summed over sub-envs; for a
            game, ``num_envs`` per round).
        eval_env: the held-out env for ``eval/*``; by default ``env.eval_env()`` (a dataset's
            test split, a fresh copy of a simulator); none means no evaluation.
        seed: seeds the env's first reset (call ``seed_everything`` before building the
            agent for reproducible weights too).
        logdir: root of the run directories; ``None`` writes nothing (no TensorBoard, no
            checkpoint).
        experiment: the sub-directory grouping related runs.
        log_every: samples between scalar writes (default: about 100 points per run).
        eval_every: samples between evaluations (default: about 10 per run).
        checkpoint_every: samples between checkpoints (default: only at the end and on stop).
        progress: show a progress bar (on a terminal).
        stop_on_nonfinite: stop with ``NonFiniteError`` when a logged value is NaN/inf.
        resume: a run directory to continue from its checkpoint, in the same directory.
        histograms: at each log, histograms of the agent's weights and gradients
            (``weights/*``, ``grads/*``) and the gradient norm (``train/grad_norm``).
        projector: at the end, the eval env's ``embedding(agent)`` for TensorBoard's
            projector (a classifier's learnt features; ~0.1 s to write).

    Returns:
        The run's ``RunResult``.

    Example:
        >>> import sandbox
        >>> env = sandbox.make("sandbox/LinReg-v0")
        >>> result = sandbox.train(env, sandbox.make_agent("gradient", env), steps=1000,
        ...                        seed=0, logdir=None, progress=False)
        >>> result.samples, result.metrics["eval/r2"] > 0.99
        (1000, True)
    """
    if not isinstance(steps, int) or steps < 1:
        raise UsageError(f"steps must be a positive number of samples, got {steps!r}")
    num_envs, world = env.num_envs, distributed.world_size()
    batch = num_envs * world  # samples per step, every rank's together
    log_every = log_every or max(batch, steps // 100)
    eval_every = eval_every or max(batch, steps // 10)
    for name, value in (
        ("log_every", log_every),
        ("eval_every", eval_every),
        ("checkpoint_every", checkpoint_every or 1),
    ):
        if value < 1:
            raise UsageError(f"{name} must be a positive number of samples, got {value}")
    env_seed = seed
    if world > 1:  # a data-parallel run under torchrun (sandbox/distributed.py)
        for one in agent.values() if isinstance(agent, Mapping) else [agent]:
            distributed.require_data_parallel(one)
        if hasattr(env, "shard"):  # one seed, one global batch order; each rank its slice
            env.shard(distributed.rank(), world)
        else:  # a simulator: each rank steps its own sub-envs from its own seeds
            env_seed = distributed.env_seed(seed, num_envs)
        distributed.seed_rank(seed)
    if eval_env is None and hasattr(env, "eval_env"):
        eval_env = env.eval_env()
    config = _run_config(
        env,
        agent,
        steps,
        seed,
        log_every=log_every,
        eval_every=eval_every,
        checkpoint_every=checkpoint_every,
        experiment=experiment,
        **({"world_size": world} if world > 1 else {}),
    )

    play = Turns(env, agent) if isinstance(agent, Mapping) else _Steps(env, agent)

    # 1. start fresh, or continue a checkpointed run in its own directory
    # (in a data-parallel run rank 0 reads or creates what exists once, and tells the others)
    main, device = distributed.is_main(), env_device(env)
    if resume is not None:
        run_dir: Path | None = Path(resume)
        where = env_device(env) if world == 1 else "cpu"  # rank 0 reads for every rank
        state = distributed.on_main(lambda: load_checkpoint(run_dir, map_location=where))
        saved_world = state["config"].get("world_size", 1)
        if saved_world != world:
            raise UsageError(
                f"{run_dir} was trained by {saved_world} process(es) and resumes with the same "
                f"number, got {world}: launch with torchrun --nproc-per-node {saved_world}"
                if saved_world > 1
                else f"{run_dir} was trained by one process: resume it without torchrun"
            )
        if distributed.rank() > 0:  # each rank continues from its own state
            own = state["other_ranks"][distributed.rank() - 1]
            state = {**state, **distributed.undedupe(state, own)}
        play.start(env_seed, state)
        set_rng_state(state["rng"])
        samples = state["samples"]
    else:
        play.start(env_seed)
        samples = 0
        run_dir = (
            distributed.on_main(
                lambda: make_run_dir(logdir, experiment, config["env_id"], config["agent"], seed)
            )
            if logdir is not None
            else None
        )
    # On resume, TensorBoard drops what the stopped run wrote after its checkpoint.
    purge = samples + 1 if resume else None
    logger = Logger(run_dir, purge_step=purge) if run_dir and main else None
    checkpoint = run_dir / FILENAME if run_dir else None  # written by rank 0 only
    last_good: Path | None = checkpoint if resume else None

    def save() -> None:
        nonlocal last_good
        if checkpoint is None:
            return
        own = {**play.state_dict(), "rng": rng_state()}
        states = distributed.gather_to_main(own) if world > 1 else [own]
        if main:  # rank 0's state as one process's, the others' beside it (what differs)
            others = (
                {"other_ranks": [distributed.dedupe(states[0], s) for s in states[1:]]}
                if world > 1
                else {}
            )
            save_checkpoint(
                checkpoint, {"samples": samples, "config": config, **states[0], **others}
            )
        last_good = checkpoint

    def stopped() -> str:
        where = (
            f"the last good checkpoint is {last_good}"
            if last_good
            else "no checkpoint was written before it (see --checkpoint-every)"
        )
        return f"stopped, and {where}"

    def log(values: dict[str, float]) -> dict[str, float]:
        if logger is not None:
            logger.scalars(samples, values)
        tag = first_nonfinite(values)
        if tag is not None and stop_on_nonfinite:
            game = f" (round {samples // num_envs})" if isinstance(play, Turns) else ""
            raise NonFiniteError(
                f"{tag} = {values[tag]} at sample {samples}{game}; {stopped()} "
                "(pass --no-stop-on-nonfinite to keep going)"
            )
        return values

    # 2. the loop
    if logger is not None and resume is None:
        logger.config(config)
    sums, episodes = MetricSums(), EpisodeSums()
    next_log, next_eval = _next(samples, log_every), _next(samples, eval_every)
    next_ckpt = _next(samples, checkpoint_every) if checkpoint_every else math.inf
    start_samples, start = samples, time.perf_counter()
    t_log, s_log = start, samples
    bar = tqdm(
        total=steps,
        initial=samples,
        unit="sample",
        disable=None if progress and main else True,
        dynamic_ncols=True,
        leave=False,
    )
    final: dict[str, float] = {}
    try:
        with _stop_on_signal(at_once_on_second=world == 1) as received:
            while samples < steps:
                try:
                    samples += play.step(sums, episodes) * world
                except NonFiniteError as e:  # an env that met a NaN action (a game: a round)
                    raise NonFiniteError(f"{e}; {stopped()}") from None
                except (SandboxError, KeyboardInterrupt):
                    raise
                except Exception as e:  # a crashed env worker, a bug: keep what was learnt
                    if world > 1:  # the other ranks' states are out of reach: no checkpoint
                        where = f"at sample {samples}"
                        raise RunFailed(f"{distributed.failure(e, where)}; {stopped()}") from e
                    raise RunFailed(
                        f"{type(e).__name__} at sample {samples}: {str(e).strip()}; "
                        f"{_save_after_crash(save, stopped)}"
                    ) from e

                at_log = samples >= next_log or samples >= steps
                if at_log:
                    now = time.perf_counter()
                    if world > 1:  # every rank logs (and checks) the same: the run's means
                        values = {
                            **sums.means(distributed.all_reduce_mean),
                            **episodes.means(lambda t: distributed.all_reduce_sum(t.to(device))),
                        }
                    else:
                        values = {**sums.means(), **episodes.means()}
                    values["time/fps"] = (samples - s_log) / max(now - t_log, 1e-9)
                    if histograms and logger is not None:
                        values.update(logger.histograms(agent, samples))
                    t_log, s_log, next_log = now, samples, _next(samples, log_every)
                    log(values)
                    bar.update(samples - bar.n)
                    bar.set_postfix(reward=f"{values.get('reward/mean', math.nan):.4g}")
                if eval_env is not None and (samples >= next_eval or samples >= steps):
                    next_eval = _next(samples, eval_every)
                    final = log(read_figures(evaluate(eval_env, agent)))
                    if logger is not None:
                        logger.media(eval_env, agent, samples, projector and samples >= steps)
                if samples >= next_ckpt:
                    next_ckpt = _next(samples, checkpoint_every)
                    save()
                if world > 1:  # stop together, whichever rank got the signal: at a log, and
                    # every STOP_CHECK_EVERY steps (well within torchrun's 30 s before SIGKILL)
                    check = at_log or (samples // batch) % distributed.STOP_CHECK_EVERY == 0
                    stop = check and distributed.any_rank(bool(received), device)
                else:
                    stop = bool(received)
                if stop:
                    save()
                    if logger is not None:
                        logger.flush()
                    signum = received[0] if received else signal.SIGTERM  # another rank's
                    launch = f"torchrun --nproc-per-node {world} -m " if world > 1 else ""
                    saved = (
                        f"checkpoint {checkpoint}; resume with: "
                        f"{launch}sandbox run --resume {run_dir}"
                        if checkpoint
                        else "nothing saved (logdir=None)"
                    )
                    raise RunInterrupted(
                        f"stopped by {signal.Signals(signum).name} at sample {samples}; {saved}",
                        signum,
                    )
        save()
    except Exception as e:
        if world == 1 or isinstance(e, SandboxError):
            raise
        # a collective (log, evaluation, checkpoint) met a rank that is gone
        raise RunFailed(f"{distributed.failure(e, f'at sample {samples}')}; {stopped()}") from e
    finally:
        bar.close()
        if logger is not None:
            logger.close()
    wall = time.perf_counter() - start
    return RunResult(run_dir, samples, wall, (samples - start_samples) / max(wall, 1e-9), final)


def _save_after_crash(save: Any, stopped: Any) -> str:
    """Write the agent's checkpoint after a failed step; say where it is (or why not)."""
    try:
        save()  # the agent is as its last learn() left it: resumable
    except Exception as e:  # the env may be too broken to report its state
        return f"the checkpoint could not be written ({type(e).__name__}: {e}); {stopped()}"
    return stopped()


def _next(samples: int, every: int) -> int:
    """The next multiple of ``every`` strictly after ``samples``."""
    return (samples // every + 1) * every
