"""``sandbox run ENV_ID AGENT [flags]`` and ``main``, which dispatches every command (DESIGN §3b;
the others are in ``commands.py``).

The flags of ``run`` are built with tyro from three dataclasses: the run's own (``RunFlags``),
the agent's ``Config`` (``--lr``) and the env's ``Config`` (``--env.noise``), so ``--help``
always shows the options of the env and agent named. A usage error prints one line and exits
2 before any run directory exists.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import tyro

from sandbox import distributed, presets, registry, seats
from sandbox.apps import seeds
from sandbox.apps.commands import cmd_check, cmd_compare, cmd_eval, cmd_list, cmd_tour
from sandbox.apps.flags import fail, parse_tyro
from sandbox.checkpoint import load_checkpoint
from sandbox.errors import (
    CheckpointWriteError,
    NonFiniteError,
    RunFailed,
    RunInterrupted,
    UsageError,
    closest,
)
from sandbox.loop import train
from sandbox.run import RunConfig, RunResult
from sandbox.seeding import seed_everything

USAGE = """usage: sandbox COMMAND ...

commands:
  run ENV_ID AGENT [flags]   train AGENT on ENV_ID, logging to TensorBoard (--help for flags)
  run --resume RUN_DIR       continue a stopped run where its checkpoint left it
  run ... --seeds 0-4        one run per seed (--jobs N at once), then their mean and band
  list                       the registered envs and agents
  check ENV_ID               check an env against the sandbox contract
  eval RUN_DIR [flags]       score a trained agent again (--num-envs, --capture-video)
  compare RUN_DIR...         runs side by side, seeds as mean and 95% CI (--plot FILE.png)
  tour [--budget tiny]       one short run per paradigm, then one table comparing them

example:
  sandbox run sandbox/LinReg-v0 gradient --steps 2000 --seed 0
"""


@dataclass(frozen=True)
class RunFlags:
    """Options of every run."""

    steps: int | None = None
    """Samples to consume: env transitions summed over sub-envs (rounded up to whole batches);
    default 10000, or on --resume the budget the run was started with."""
    seed: int = 0
    """Seeds Python, NumPy, torch and the env."""
    num_envs: int | None = None
    """Sub-envs stepped at once (for a dataset: the batch size); default: the env's own."""
    device: str = "auto"
    """auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps."""
    logdir: str = "runs"
    """Root of the TensorBoard run directories."""
    experiment: str = "default"
    """Sub-directory of --logdir grouping related runs."""
    log_every: int | None = None
    """Samples between scalar writes (default: about 100 points per run)."""
    eval_every: int | None = None
    """Samples between evaluations on the held-out split (default: about 10 per run)."""
    eval_episodes: int = 10
    """Episodes per evaluation, for envs with episodes."""
    checkpoint_every: int | None = None
    """Samples between checkpoints (default: at the end, and when stopped)."""
    resume: str | None = None
    """A run directory to continue (ENV_ID, AGENT and these options come from its checkpoint)."""
    stop_on_nonfinite: bool = True
    """Stop the run when a loss or reward turns NaN/inf."""
    progress: bool = True
    """Show a progress bar on a terminal."""
    stop_deadline: float = 10.0
    """Seconds a stopped run gives the current step (a hung env) before it gives up on it."""
    histograms: bool = False
    """Histograms of weights and gradients, and train/grad_norm, at every log (costs time)."""
    capture_video: bool = False
    """Record the evaluation episodes (the first 4 sub-envs) as GIFs into the run's videos/ and
    TensorBoard's IMAGES tab: Gymnasium envs with rgb_array rendering, sandbox/CartPole-v1,
    sandbox/Pendulum-v1."""
    projector: bool = False
    """At the end, a classifier's learnt embedding (labels, sprites) for TensorBoard's projector."""
    threads: int = 1
    """torch CPU threads: one is fastest for small models; raise it for CNNs."""
    seeds: str | None = None
    """One run per seed, e.g. 0-4 or 0,1,2, then the group's mean and 95% CI (TensorBoard too);
    with --resume GROUP_FILE, continues the group's unfinished runs."""
    jobs: int = 1
    """With --seeds: runs at once, each in its own process (default: one after another)."""
    preset: str = "auto"
    """auto: start from ENV_ID AGENT's preset (sandbox/presets/AGENT.toml; `sandbox list` shows
    which envs have one) where there is one, flags overriding single values; none: bare defaults."""

    def run_config(self) -> RunConfig:
        """The ``RunConfig`` these flags describe (a fresh run)."""
        names = {f.name for f in dataclasses.fields(RunConfig)} - {"preset"}
        options = {k: v for k, v in dataclasses.asdict(self).items() if k in names}
        return RunConfig(**{**options, "steps": self.steps or DEFAULT_STEPS})


DEFAULT_STEPS = 10_000
"""The budget of a run that names none."""


def _parse_flags(
    prog: str,
    env_config: type | None,
    agent_cls: type | None,
    args: list[str],
    players: dict[str, str] | None = None,
    preset: presets.Preset | None = None,
) -> Any:
    """Parse ``args`` into run, agent (or per-player: ``--generator.lr``) and env options."""
    # a preset's values are the defaults the flags show and override
    p = preset or presets.Preset("", "", "", "", 0)
    run = RunFlags(steps=p.steps or None, num_envs=p.num_envs)
    parts: list[tuple[str, Any, Any]] = [
        ("run", tyro.conf.OmitArgPrefixes[RunFlags], field(default_factory=lambda: run))
    ]
    for player, name in (players or {}).items():
        config = registry.agent_class(name).Config(**p.players.get(player, {}))
        parts.append((player, type(config), field(default_factory=lambda c=config: c)))
    agent_config = getattr(agent_cls, "Config", None)  # a user's agent may have none
    if agent_config is not None:
        agent = agent_config(**p.agent)
        parts.append(
            ("agent", tyro.conf.OmitArgPrefixes[agent_config], field(default_factory=lambda: agent))
        )
    if env_config is not None:
        env = env_config(**p.env)
        parts.append(("env", env_config, field(default_factory=lambda: env)))
    flags_cls = dataclasses.make_dataclass("Flags", parts, frozen=True)
    return parse_tyro(flags_cls, args, prog)


def _options(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config) if config is not None else {}


def cmd_run(args: list[str]) -> int:
    """``sandbox run``: parse, build env and agent (all checks), then train."""
    if any(a == "--seeds" or a.startswith("--seeds=") for a in args):  # one run per seed
        return seeds.run_seeds(args, cmd_run)
    positional = []
    while args and not args[0].startswith("-") and len(positional) < 2:
        positional.append(args.pop(0))
    if "--resume" in args or any(a.startswith("--resume=") for a in args):
        if positional:
            raise UsageError(
                "--resume RUN_DIR takes the env and agent from its checkpoint; "
                f"drop {' '.join(positional)}"
            )
        return _resume(args)
    if len(positional) < 2:
        if "-h" in args or "--help" in args:
            _parse_flags("sandbox run ENV_ID AGENT", None, None, args)
            return 0
        raise UsageError(
            "expected `sandbox run ENV_ID AGENT [flags]`, e.g. "
            "`sandbox run sandbox/LinReg-v0 gradient`; `sandbox list` shows both"
        )
    env_id, agent_name = positional
    seated = seats.seated(env_id, agent_name)
    if seated is not None:  # a board game's PLAYER=AGENT,...: one learner, the env seats the rest
        agent_name, spec = seated
        args = ["--env.seats", spec, *args]
    env_config = registry.env_config_class(env_id)
    players = seats.players(env_id, agent_name)
    agent_cls = None if players else registry.agent_class(agent_name)
    if isinstance(agent_cls, Mapping):
        raise UsageError(f"{agent_name!r} names the players of a game; {env_id} has one agent")
    prog = f"sandbox run {env_id} {agent_name}"
    preset = _preset(env_id, agent_name, args)
    flags = _parse_flags(prog, env_config, agent_cls, args, players, preset)
    run: RunFlags = flags.run
    config = run.run_config()  # refuses bad values before any work
    _set_threads(run.threads)
    device = distributed.init(run.device)  # under torchrun: join the group, this rank's device
    seed_everything(run.seed)
    env = registry.make(
        env_id, run.num_envs, device=device, **_options(getattr(flags, "env", None))
    )
    if players:
        options = {p: (n, _options(getattr(flags, p))) for p, n in players.items()}
        agent = seats.make_players(env, options)
    else:
        agent = registry.make_agent(agent_name, env, **_options(getattr(flags, "agent", None)))
    result = train(env, agent, config=config)
    if distributed.is_main():
        _summary(result)
    return 0


def _preset(env_id: str, agent_name: str, args: list[str]) -> presets.Preset | None:
    """The preset ``--preset`` asks for (auto: ENV_ID AGENT's, if any; none: no preset)."""
    choice = "auto"
    for i, a in enumerate(args):
        if a == "--preset" and i + 1 < len(args):
            choice = args[i + 1]
        elif a.startswith("--preset="):
            choice = a.partition("=")[2]
    if choice not in ("auto", "none"):
        raise UsageError(f"--preset takes auto or none, got {choice!r}")
    preset = presets.find(env_id, agent_name) if choice == "auto" else None
    if preset is not None and ("-h" in args or "--help" in args):
        print(f"preset {env_id} {agent_name}: {preset.source} (bar: {preset.bar})\n")
    return preset


def _set_threads(threads: int) -> None:
    if threads < 1:
        raise UsageError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def _resume(args: list[str]) -> int:
    """``sandbox run --resume RUN_DIR [--steps N]``: the run's whole config from its checkpoint."""
    flags = _parse_flags("sandbox run --resume RUN_DIR", None, None, args)
    _set_threads(flags.run.threads)
    run_dir = Path(flags.run.resume)
    state = load_checkpoint(run_dir)  # every rank reads the config (a data-parallel run too)
    c = state["config"]
    config = RunConfig.from_dict(c["run"])
    config = dataclasses.replace(
        config,
        steps=flags.run.steps or config.steps,
        progress=flags.run.progress,
        stop_on_nonfinite=flags.run.stop_on_nonfinite,
    )
    if config.steps <= state["samples"]:
        raise UsageError(
            f"{run_dir} already holds {state['samples']} samples of the "
            f"{c['run']['steps']} asked for; pass --steps N with N > {state['samples']}"
        )
    # under torchrun each rank takes its own device of the type the run was trained on
    device = distributed.init(c["device"].split(":")[0]) if distributed.launched() else c["device"]
    seed_everything(config.seed or 0)  # the agent's initial weights are then overwritten
    env = registry.make(c["env_id"], c["num_envs"], device=device, **c["env"])
    if "players" in c:  # a game: one agent per player
        agent = seats.make_players(
            env, {p: (pc["agent"], pc["agent_config"]) for p, pc in c["players"].items()}
        )
    else:
        agent = registry.make_agent(c["agent"], env, **c["agent_config"])
    result = train(env, agent, config=config, resume=run_dir)
    if distributed.is_main():
        _summary(result)
    return 0


def _summary(result: RunResult) -> None:
    figures = ", ".join(
        f"{k.removeprefix('eval/')} {v:.4g}" for k, v in result.metrics.items() if k != "eval/score"
    )
    score = result.metrics.get("eval/score")
    print(
        f"samples   {result.samples:,} in {result.wall_time:.2f} s "
        f"({result.samples_per_s:,.0f} samples/s)"
    )
    if score is not None:
        print(f"eval      score {score:.4g} ({figures})")
    if result.run_dir is not None:
        print(f"run dir   {result.run_dir}")
        print(f"view      tensorboard --logdir {shlex.quote(str(result.run_dir.parent))}")


COMMANDS = {
    "run": cmd_run,
    "list": cmd_list,
    "check": cmd_check,
    "eval": cmd_eval,
    "compare": cmd_compare,
    "tour": cmd_tour,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sandbox`` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "" not in sys.path and os.getcwd() not in sys.path:
        # as `python -m sandbox` does: `sandbox run mymod:MyEnv-v0` imports ./mymod.py
        sys.path.insert(0, os.getcwd())
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        return fail(
            f"unknown command {command!r}{closest(command, list(COMMANDS))}; "
            f"expected one of {', '.join(COMMANDS)}"
        )
    try:
        return COMMANDS[command](rest)
    except UsageError as e:
        return fail(str(e))
    except (CheckpointWriteError, NonFiniteError, RunFailed) as e:
        return fail(str(e), code=1)
    except RunInterrupted as e:
        if distributed.is_main():  # every rank stopped at the same sample: one line
            print(f"sandbox: {e}", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:  # `sandbox list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    sys.exit(main())
