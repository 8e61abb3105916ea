"""The ``sandbox`` commands beside ``run``: ``list``, ``check``, ``compare``, ``eval``, ``tour``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Literal

import tyro

from sandbox import presets, registry
from sandbox.apps import compare, seeds, tour
from sandbox.apps.check import run_checks
from sandbox.apps.eval import evaluate_run, format_figures
from sandbox.apps.flags import parse_tyro
from sandbox.device import resolve_device
from sandbox.errors import UsageError


def cmd_list(args: list[str]) -> int:
    """``sandbox list``: one line per env and per agent."""
    if args:
        raise UsageError(f"`sandbox list` takes no arguments, got {' '.join(args)}")
    envs, agents = registry.ENVS.values(), registry.AGENTS.values()
    w1 = max(len(x) for x in [*(e.id for e in envs), *(a.name for a in agents)])
    w2 = max(len(x) for x in [*(e.paradigm for e in envs), *(a.learns_from for a in agents)])
    print("envs (sandbox run ENV_ID AGENT), paradigm:")
    for e in envs:
        print(f"  {e.id:<{w1}}  {e.paradigm:<{w2}}  {e.description}")
    print("  (and any Gymnasium id: CartPole-v1, module:MyEnv-v0, ... through the adapter)")
    print("presets (sandbox/presets/AGENT.toml; --preset none for the bare defaults):")
    by_env: dict[str, list[str]] = {}
    for p in presets.everything():
        by_env.setdefault(p.env_id, []).append(p.agent_name)
    for env_id, names in by_env.items():
        print(f"  {env_id:<{w1}}  {', '.join(names)}")
    print("agents, what they learn from:")
    for a in agents:
        print(f"  {a.name:<{w1}}  {a.learns_from:<{w2}}  {a.description}")
    return 0


def cmd_check(args: list[str]) -> int:
    """``sandbox check ENV_ID``: a pass/fail table of the contract checks; exit 1 on a failure."""
    if len(args) != 1 or args[0].startswith("-"):
        raise UsageError("expected `sandbox check ENV_ID`")
    env_id = args[0]
    env = registry.make(env_id, 4)
    rows = run_checks(env, lambda: registry.make(env_id, 1))
    width = max(len(r.name) for r in rows)
    for r in rows:
        status = "skip" if r.skipped else "pass" if r.ok else "FAIL"
        print(f"{status}  {r.name:<{width}}  {r.detail}".rstrip())
    failed = sum(not r.ok for r in rows)
    print(f"{env_id}: {len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


@dataclass(frozen=True)
class CompareFlags:
    """Compare runs read back from their TensorBoard event files."""

    paths: tyro.conf.Positional[tuple[str, ...]]
    """Run directories, or directories above runs (e.g. runs/tour)."""
    tags: tuple[str, ...] = compare.DEFAULT_TAGS
    """Scalar tags to compare (mean of the final values, its 95% CI, and their IQM)."""
    format: Literal["table", "markdown", "csv"] = "table"
    """Output format."""
    plot: str | None = None
    """Also draw the tags' curves against samples into this PNG file (mean and band per group)."""
    by: str | None = None
    """Group runs by this one option's value (a sweep, e.g. lr), whatever else differs."""
    write_tensorboard: bool = False
    """Write each group's mean and 95% CI as a TensorBoard run next to its seeds (replaced
    on every call; the seed runs are never modified)."""


def cmd_compare(args: list[str]) -> int:
    """``sandbox compare RUN_DIR...``: final values per group of seeds: mean, 95% CI, IQM."""
    flags = parse_tyro(CompareFlags, args, "sandbox compare")
    print(
        compare.compare(
            flags.paths, flags.tags, flags.format, flags.plot, flags.by, flags.write_tensorboard
        )
    )
    if flags.plot:
        print(f"plot: {flags.plot}", file=sys.stderr)
    return 0


@dataclass(frozen=True)
class EvalFlags:
    """Score a trained agent: episodes for an env with episodes, the test split for a dataset."""

    run_dir: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
    """The run directory (its checkpoint.pt)."""
    episodes: int | None = None
    """Episodes to average (default: the run's --eval-episodes)."""
    num_envs: int | None = None
    """Sub-envs the episodes are played on (a dataset: the batch size); default: the run's
    own evaluation, which repeats its final eval/score."""
    device: str | None = None
    """auto, cpu, cuda, cuda:N or mps (default: the run's device)."""
    seed: int | None = None
    """Reset seed of the episodes (default: the run's evaluation seed)."""
    capture_video: bool = False
    """Record the run's evaluation episodes as a GIF in RUN_DIR/videos/."""


def cmd_eval(args: list[str]) -> int:
    """``sandbox eval RUN_DIR``: the trained agent's score, printed on one line."""
    try:
        flags = parse_tyro(EvalFlags, args, "sandbox eval")
    except UsageError as e:
        if not str(e).startswith("Missing"):
            raise
        raise UsageError(
            "expected `sandbox eval RUN_DIR [flags]`, the directory `sandbox run` printed "
            "(e.g. runs/default/CartPole-v1__ppo__s0__20260101-120000)"
        ) from None
    figures, video = evaluate_run(
        flags.run_dir,
        episodes=flags.episodes,
        num_envs=flags.num_envs,
        device=flags.device,
        seed=flags.seed,
        capture_video=flags.capture_video,
    )
    print(f"eval      {format_figures(figures)}")
    if video is not None:
        print(f"video     {video}")
    return 0


@dataclass(frozen=True)
class TourFlags:
    """One short run per paradigm into <logdir>/tour, then one table comparing them."""

    budget: str = "default"
    """tiny, small, default (about 3 minutes on 2 CPU cores), large, or a multiplier."""
    logdir: str = "runs"
    """Root of the run directories; the tour writes under <logdir>/tour."""
    device: str = "cpu"
    """cpu, cuda, auto: small models are fastest on the CPU."""
    seed: int = 0
    """Seed of every run."""
    seeds: str | None = None
    """Several seeds per paradigm, e.g. 0-4: the table gives means and 95% CIs, TensorBoard
    each paradigm's mean curve with its band."""
    progress: bool = True
    """Show a progress bar per run on a terminal."""


def cmd_tour(args: list[str]) -> int:
    """``sandbox tour``: every paradigm, one table, the TensorBoard line to look at it."""
    flags = parse_tyro(TourFlags, args, "sandbox tour")
    tour.budget_scale(flags.budget)  # refuse a bad budget before any run
    resolve_device(flags.device)
    visits = tour.run_tour(
        flags.budget,
        logdir=flags.logdir,
        device=flags.device,
        seed=flags.seed,
        progress=flags.progress,
        seeds=seeds.parse_seeds(flags.seeds) if flags.seeds else (),
    )
    print(tour.table(visits))
    print(f"\nsee them side by side: {tour.tensorboard_line(flags.logdir)}")
    return 0
