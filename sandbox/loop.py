"""The one loop: reset; while the budget lasts, act, step, learn, and let the callbacks see it.

It trains any agent on any env (DESIGN §3). Everything else a run does — logging,
evaluation, checkpoints, the progress bar, stopping on a signal or a non-finite value — is
a callback (``sandbox.callbacks``). The x-axis of everything logged is samples consumed
(environment transitions summed over sub-envs); metrics stay on the device between logs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from sandbox import distributed
from sandbox.callbacks import Callback, StepHung, default_callbacks
from sandbox.checkpoint import FILENAME, RunLock, load_checkpoint, remove_stale_tmp
from sandbox.core import Agent, Env, Transition, env_hook
from sandbox.device import env_device
from sandbox.errors import (
    ActionError,
    CheckpointError,
    NonFiniteError,
    RunFailed,
    RunInterrupted,
    SandboxError,
    UsageError,
    closest,
)
from sandbox.logger import Logger, make_run_dir, options_digest
from sandbox.multi import MultiAgentEnv, Turns
from sandbox.registry import default_num_envs, env_config_class
from sandbox.run import Run, RunConfig, RunResult
from sandbox.seeding import set_rng_state
from sandbox.video import video_env


class Steps:
    """One agent in a vector env, one batched step at a time (DESIGN §1's quadruple).

    ``sandbox.multi.Turns`` is its counterpart for games: the loop drives either.
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

    def step(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Act, step, learn; return the metrics by tag (``reward/mean`` first) and the info."""
        obs = self.obs
        action = self.agent.act(obs)
        next_obs, reward, terminated, truncated, info = self.env.step(action)
        metrics = self.agent.learn(
            Transition(obs, action, reward, next_obs, terminated, truncated, info)
        )
        self.obs = next_obs
        return {"reward/mean": reward, **metrics}, info

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint's ``agent`` and ``env`` entries."""
        state = env_hook(self.env, "state_dict")
        return {"agent": self.agent.state_dict(), "env": state() if state else None}


def train(
    env: Env | MultiAgentEnv,
    agent: Agent | Mapping[str, Agent],
    steps: int | None = None,
    *,
    config: RunConfig | None = None,
    callbacks: Sequence[Callback] = (),
    eval_env: Env | None = None,
    resume: str | Path | None = None,
    **options: Any,
) -> RunResult:
    """Train ``agent`` on ``env`` for ``steps`` samples, logging to TensorBoard.

    Args:
        env: a sandbox env (``sandbox.make``), or a turn-based game (``sandbox.multi``).
        agent: any object with the ``Agent`` methods; for a game, a dict of them keyed by
            player, each learning from its own rewards and logged under its player's name.
        steps: samples to consume in total (a game: ``num_envs`` per round); or ``config``.
        config: the whole ``RunConfig``; else it is built from ``steps`` and ``options``.
        callbacks: the user's own ``Callback``s, called after the run's own.
        eval_env: the held-out env for ``eval/*``; by default the env's ``eval_env()``.
        resume: a run directory to continue from its checkpoint, in the same directory.
        **options: ``RunConfig`` fields: ``seed``, ``logdir``, ``experiment``, ``log_every``...

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
    config = _config(steps, config, options)
    batch = env.num_envs * distributed.world_size()  # samples per step, every rank's together
    play = Turns(env, agent) if isinstance(agent, Mapping) else Steps(env, agent)
    run = Run(config.resolved(batch), env, agent, play, batch, meta=run_meta(env, agent))
    if eval_env is None and config.capture_video:
        eval_env = video_env(env)  # the eval env, rendering (refused in one line if it cannot)
    elif eval_env is None and env_hook(env, "eval_env") is not None:
        eval_env = env.eval_env()
    if config.capture_video and env_hook(eval_env, "frames") is None:
        raise UsageError("capture_video needs an eval env with a frames(num) hook")
    _open(run, resume)
    run.callbacks = [*default_callbacks(run, eval_env), *callbacks]
    start, start_samples = time.perf_counter(), run.samples
    try:
        for callback in run.callbacks:
            callback.on_start(run)
        while run.samples < run.config.steps and run.stop_reason is None:
            metrics, info = play.step()  # act, step, learn (a game: one round of turns)
            run.samples += batch
            for callback in run.callbacks:
                callback.on_step(run, metrics, info)
    except BaseException as e:  # on_end must see it: whether to checkpoint, what to say
        run.error = e
    finally:
        _end(run)
    if run.error is not None:
        raise _failure(run, run.error) from run.error
    if run.signum is not None:
        raise RunInterrupted(run.interrupted_message(), run.signum)
    wall = time.perf_counter() - start
    speed = (run.samples - start_samples) / max(wall, 1e-9)
    return RunResult(run.run_dir, run.samples, wall, speed, run.final, run.stop_reason)


def _config(steps: int | None, config: RunConfig | None, options: dict[str, Any]) -> RunConfig:
    """The run's config: ``config`` as given, or built from ``steps`` and keyword options."""
    if config is not None:
        if steps is not None or options:
            raise UsageError("pass either config=RunConfig(...) or steps and options, not both")
        return config
    names = [f.name for f in dataclasses.fields(RunConfig)]
    for key in options:
        if key not in names:
            raise UsageError(f"train() has no option {key!r}{closest(key, names)}")
    return RunConfig(steps=steps, **options)  # type: ignore[arg-type]


def _agents(agent: Agent | Mapping[str, Agent]) -> list[Agent]:
    return list(agent.values()) if isinstance(agent, Mapping) else [agent]


def _agent_meta(agent: Agent) -> dict[str, Any]:
    config = getattr(agent, "config", None)
    return {
        # a user's class by "module:Class", so a resumed run imports it again
        "agent": getattr(agent, "name", f"{type(agent).__module__}:{type(agent).__qualname__}"),
        "agent_config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {},
    }


def run_meta(env: Any, agent: Agent | Mapping[str, Agent]) -> dict[str, Any]:
    """What the run trains: enough to rebuild env and agent(s) on ``--resume``.

    A game's agents are listed per player under ``players``; ``agent`` joins their names.
    """
    if isinstance(agent, Mapping):
        players = {p: _agent_meta(a) for p, a in agent.items()}
        agents = {"agent": "+".join(c["agent"] for c in players.values()), "players": players}
    else:
        agents = _agent_meta(agent)
    config_dict = env_hook(env, "config_dict")
    spec = getattr(env, "spec", None)
    world = distributed.world_size()
    return {
        "env_id": spec.id if spec is not None else type(env).__name__,
        "env": config_dict() if config_dict else {},
        "num_envs": env.num_envs,
        "device": str(env_device(env)),
        **agents,
        **({"world_size": world} if world > 1 else {}),
    }


def changed_options(env: Any, agent: Agent | Mapping[str, Agent], meta: dict[str, Any]) -> dict:
    """The options of a run that differ from their defaults, flat: ``{"agent.lr": 0.01}``.

    The agent's (each player's) and the env's config fields and ``num_envs``; what names the
    run anyway (env, agent, seed) and what does not change what it learns (logdir) are left out.
    """
    changed: dict[str, Any] = {}
    players = agent.items() if isinstance(agent, Mapping) else [("agent", agent)]
    for prefix, one in players:
        config = getattr(one, "config", None)
        if dataclasses.is_dataclass(config):
            changed.update(_differences(prefix, dataclasses.asdict(config), _defaults(config)))
    env_id = meta["env_id"]
    try:
        env_defaults = _defaults(env_config_class(env_id))
    except SandboxError:  # an env given as a class or an instance: no registered defaults
        env_defaults = {}
    changed.update(_differences("env", meta["env"], env_defaults))
    if isinstance(env_id, str) and meta["num_envs"] != _safe(default_num_envs, env_id):
        changed["num_envs"] = meta["num_envs"]
    return changed


def _defaults(config: Any) -> dict[str, Any]:
    """A config dataclass's (or an instance's class's) field defaults; {} if it has none."""
    cls = config if isinstance(config, type) else type(config)
    try:
        return dataclasses.asdict(cls())
    except TypeError:  # a field without a default
        return {}


def _differences(prefix: str, values: dict[str, Any], defaults: dict[str, Any]) -> dict:
    missing = object()
    return {f"{prefix}.{k}": v for k, v in values.items() if defaults.get(k, missing) != v}


def _safe(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except SandboxError:
        return None


def _open(run: Run, resume: str | Path | None) -> None:
    """Reset env and agent, or restore them from ``resume``; create or reopen the run dir."""
    seed = run.config.seed
    if distributed.active():  # a data-parallel run under torchrun (sandbox/distributed.py)
        seed = _data_parallel(run)
    for agent in _agents(run.agent):  # the agent learns the budget from the loop
        if hasattr(agent, "on_start"):
            agent.on_start(run)
    env_start = env_hook(run.env, "on_start")
    if env_start is not None:  # an env that plays against its learner (board games' self-play)
        env_start(run)
    if resume is None:
        run.play.start(seed)
        if run.config.logdir is not None:
            c, meta = run.config, run.meta
            digest = options_digest(changed_options(run.env, run.agent, meta))
            make = lambda: make_run_dir(  # noqa: E731
                c.logdir, c.experiment, meta["env_id"], meta["agent"], c.seed, digest
            )
            run.run_dir = distributed.on_main(make)
    else:
        run.run_dir = Path(resume)
        state = _read_checkpoint(run, run.run_dir)
        run.play.start(seed, state)
        set_rng_state(state["rng"])
        run.samples, run.last_checkpoint = state["samples"], run.run_dir / FILENAME
    if run.run_dir is not None and distributed.is_main():
        run.lock = RunLock(run.run_dir)  # one writer per run directory
        remove_stale_tmp(run.run_dir)
        # on resume, TensorBoard drops what the stopped run wrote after its checkpoint
        run.logger = Logger(run.run_dir, purge_step=run.samples + 1 if resume else None)
        if resume is None:
            run.logger.config({**run.meta, **run.config.to_dict()})  # one flat table


def _data_parallel(run: Run) -> int | None:
    """Every rank wraps its agents for DDP; a dataset shards, a simulator seeds per rank."""
    for agent in _agents(run.agent):
        distributed.require_data_parallel(agent)
    seed = run.config.seed
    shard = env_hook(run.env, "shard")
    if shard is not None:  # one seed, one global batch order; each rank its slice
        shard(distributed.rank(), distributed.world_size())
    else:  # a simulator: each rank steps its own sub-envs from its own seeds
        seed = distributed.env_seed(seed, run.env.num_envs)
    distributed.seed_rank(run.config.seed)
    return seed


def _read_checkpoint(run: Run, run_dir: Path) -> dict[str, Any]:
    """This run directory's checkpoint, refused in one line if it belongs to another run."""
    world = distributed.world_size()
    where = env_device(run.env) if world == 1 else "cpu"  # rank 0 reads for every rank
    state = distributed.on_main(lambda: load_checkpoint(run_dir, map_location=where))
    path, saved = run_dir / FILENAME, state["config"]
    if state["run_name"] != run_dir.name:
        raise CheckpointError(
            f"{path} belongs to the run {state['run_name']!r}, not to {run_dir.name!r}: "
            "resume a run from its own directory"
        )
    for key in ("env_id", "agent"):
        if saved[key] != run.meta[key]:
            raise CheckpointError(
                f"{path} was trained with {key} {saved[key]!r}, but this run has "
                f"{run.meta[key]!r}: resume it with the same env and agent"
            )
    saved_world = saved.get("world_size", 1)
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
    return state


def _end(run: Run) -> None:
    """Every callback's ``on_end`` (each, even if one fails), then close the log and lock."""
    failed: BaseException | None = None
    for callback in run.callbacks:
        try:
            callback.on_end(run)
        except BaseException as e:  # a disk full, or a second Ctrl-C, at the final checkpoint
            failed = failed or e
    if run.logger is not None:
        run.logger.close()
    if run.lock is not None:
        run.lock.release()
    if run.error is None:
        run.error = failed


def _failure(run: Run, error: BaseException) -> BaseException:
    """The error a failed run raises: one line saying what happened and what was kept."""
    where = f"stopped, and {run.where_saved()}"
    if isinstance(error, KeyboardInterrupt):  # a second Ctrl-C: at once, no final checkpoint
        return RunInterrupted(f"interrupted again at sample {run.samples}; {where}", 2)
    if not isinstance(error, Exception):  # SystemExit and the like: not ours to reword
        return error
    if isinstance(error, StepHung):
        return RunInterrupted(
            f"{error} (the step after sample {run.samples}, in the env or agent); {where}",
            run.signum or 15,
        )
    if isinstance(error, NonFiniteError):  # from a callback, or an env that met a NaN action
        return NonFiniteError(f"{error}; {where}")
    if isinstance(error, SandboxError) and not isinstance(error, ActionError):
        return error  # already says what happened; an ActionError mid-run is a failed run
    if distributed.active():  # a collective met a rank that is gone, or this rank crashed
        return RunFailed(f"{distributed.failure(error, f'at sample {run.samples}')}; {where}")
    unsaved = run.meta.get("checkpoint_error")
    saved = f"the checkpoint could not be written ({unsaved}); {where}" if unsaved else where
    return RunFailed(
        f"{type(error).__name__} at sample {run.samples}: {str(error).strip()}; {saved}"
    )
