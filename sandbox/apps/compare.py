"""``sandbox compare``: runs side by side, read back from their TensorBoard event files.

Runs are found under the paths given (a run directory, or any directory above runs), read
with TensorBoard's own ``EventAccumulator``, and grouped when they differ only by seed (or,
with ``by``, by the value of one option: a sweep). A group shows, for each tag, the mean of
its seeds' final values with the 95% bootstrap interval of that mean and their interquartile
mean; its plot, the mean curve with its band; ``write_tensorboard`` writes the same as an
aggregate run per group that TensorBoard draws with margin charts (``sandbox.apps.aggregate``).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.apps import aggregate
from sandbox.apps.table import Cell, Interval, render
from sandbox.core import UsageError
from sandbox.errors import closest

DEFAULT_TAGS = ("eval/score", "reward/mean", "time/fps")
FORMATS = ("table", "markdown", "csv")
RUN_NAME = re.compile(r".+__.+__s\d+__\d{8}-\d{6}(-\d+)?")
"""A run directory's name as the loop makes it: ``<env>__<agent>__s<seed>__<stamp>``."""


def note(message: str) -> None:
    """One line to stderr: a run skipped, a group without a band, an aggregate written."""
    print(f"sandbox compare: {message}", file=sys.stderr)


@dataclass
class Run:
    """One run's scalars and hyperparameters, as its event files hold them."""

    path: Path
    hparams: dict[str, object]
    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    """tag -> [(samples, value)], in step order."""

    @property
    def group(self) -> tuple[tuple[str, str], ...]:
        """What identifies the run but its seed: its env and agent (by the directory's name,
        for runs without HParams) and every other hyperparameter."""
        options = sorted((k, str(v)) for k, v in self.hparams.items() if k != "seed")
        return (("run", self.label), *options)

    @property
    def label(self) -> str:
        """``<env>__<agent>`` from the run directory's name, else the name itself."""
        parts = self.path.name.split("__")
        return "__".join(parts[:2]) if len(parts) >= 4 else self.path.name


@dataclass
class Group:
    """Runs that differ only by seed (or share one value of the ``by`` option)."""

    label: str
    """``env__agent`` and the options that set the group apart: ``... lr=0.03``."""
    key: tuple[tuple[str, str], ...]
    """What the members share; aggregate runs are replaced by it."""
    members: list[Run]

    @property
    def digest(self) -> str:
        """A short stable name of ``key``."""
        return hashlib.sha1(repr(self.key).encode()).hexdigest()[:12]


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Every directory holding event files at or below ``paths``, sorted.

    Aggregate runs (``aggregate.json``) are left out; a run directory without event files is
    skipped with one line; a path with no run at all is an error.

    Example:
        >>> find_runs(["/nonexistent"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sandbox.errors.UsageError: no TensorBoard runs under /nonexistent (expected a run ...
    """
    roots = [Path(p) for p in paths]
    found: set[Path] = set()
    for p in roots:
        events = [p] if p.is_file() else sorted(p.rglob("events.out.tfevents.*"))
        runs = {e.parent for e in events if not aggregate.is_aggregate(e.parent)}
        empty = [d for d in [p, *p.rglob("*")] if _looks_like_a_run(d) and d not in runs]
        for d in empty:
            note(f"skipped {d}: no TensorBoard event files in it")
        if not runs and not empty:
            raise UsageError(
                f"no TensorBoard runs under {p} (expected a run directory or a directory "
                "above runs)"
            )
        found |= runs
    if not found:
        raise UsageError(f"no TensorBoard runs to compare under {', '.join(map(str, roots))}")
    return sorted(found)


def _looks_like_a_run(path: Path) -> bool:
    return path.is_dir() and (
        bool(RUN_NAME.fullmatch(path.name)) or (path / "checkpoint.pt").exists()
    )


def read_run(path: Path) -> Run:
    """Scalars and HParams of one run directory, with TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
    hparams: dict[str, object] = {}
    if "_hparams_/session_start_info" in acc.Tags()["tensors"]:
        content = acc.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
        info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
        for key, value in info.hparams.items():
            kind = value.WhichOneof("kind")
            hparams[key] = getattr(value, kind) if kind else None
    return Run(path, hparams, scalars)


def read_runs(paths: Sequence[str | Path]) -> list[Run]:
    """``read_run`` of every run under ``paths``; a run without scalars is skipped, one line."""
    runs = []
    for path in find_runs(paths):
        run = read_run(path)
        if run.scalars:
            runs.append(run)
        else:
            note(f"skipped {path}: its event files hold no scalars")
    if not runs:
        raise UsageError(f"no run under {', '.join(map(str, paths))} holds any scalar")
    return runs


def _varying(keys: Sequence[tuple]) -> list[str]:
    """Options whose values differ between groups (an option one group lacks differs too)."""
    options = [dict(k) for k in keys]
    names = set().union(*options) - {"run"}
    return sorted(n for n in names if len({o.get(n) for o in options}) > 1)


def _by_option(runs: Sequence[Run], by: str) -> str:
    """The full HParams name of ``by`` (``lr`` -> ``agent_config.lr``), or a one-line error."""
    names = sorted({k for r in runs for k in r.hparams})
    matches = [k for k in names if k == by] or [k for k in names if k.split(".")[-1] == by]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"--by {by} is ambiguous: name one of {', '.join(matches)}")
    short = sorted({k.split(".")[-1] for k in names})
    raise UsageError(f"no run has the option {by!r}{closest(by, short + names)}")


def groups(runs: Sequence[Run], by: str | None = None) -> list[Group]:
    """Runs grouped when they differ only by seed, each group named by what sets it apart:
    ``env__agent`` plus the options whose values differ between groups.

    With ``by`` (an option, e.g. ``lr``), runs of one env and agent are grouped by that
    option's value alone, whatever else differs: the rows of a sweep. Runs of different envs
    or agents are never in one group.
    """
    option = _by_option(runs, by) if by else None
    by_key: dict[tuple, list[Run]] = {}
    for run in runs:
        key = (
            run.group
            if option is None
            else (("run", run.label), (option, str(run.hparams.get(option))))
        )
        by_key.setdefault(key, []).append(run)
    same_run: dict[str, list[tuple]] = {}  # groups of one env and agent: what tells them apart
    for key, members in by_key.items():
        same_run.setdefault(members[0].label, []).append(key)
    out = []
    for key, members in by_key.items():
        label = members[0].label
        varying = [option] if option else _varying(same_run[label])  # a sweep names its option
        options = " ".join(f"{k.split('.')[-1]}={members[0].hparams.get(k)}" for k in varying)
        out.append(Group(f"{label} {options}".strip(), key, members))
    return out


def _interval(values: Sequence[float]) -> Interval:
    if len(values) < 2:
        return Interval(values[0], None, None)
    mean, lower, upper = aggregate.mean_ci(values)
    return Interval(float(mean), float(lower), float(upper))


def summarize(
    runs: Sequence[Run], tags: Sequence[str], by: str | None = None
) -> tuple[list[str], list[list[Cell]]]:
    """The comparison table: one row per group (see ``groups``).

    Returns:
        The header and the rows: group label, number of seeds, then per tag the mean of the
        seeds' final values with its 95% bootstrap CI (``Interval``) and their IQM.
    """
    header = ["run", "seeds"] + [f"{t} {kind}" for t in tags for kind in ("final", "IQM")]
    rows: list[list[Cell]] = []
    for group in groups(runs, by):
        row: list[Cell] = [group.label, str(len(group.members))]
        for tag in tags:
            finals = [m.scalars[tag][-1][1] for m in group.members if m.scalars.get(tag)]
            row += [_interval(finals), aggregate.iqm(finals)] if finals else [None, None]
        rows.append(row)
    return header, rows


def bands(group: Group, tags: Iterable[str]) -> dict[str, aggregate.Band]:
    """Each tag's ``Band`` over the group's seeds (tags every member holds)."""
    return {
        tag: aggregate.band([m.scalars[tag] for m in group.members])
        for tag in tags
        if all(m.scalars.get(tag) for m in group.members)
    }


def _say_no_band(group: Group) -> None:
    note(f"{group.label}: 1 seed, so no band (run more with --seeds 0-4)")


def plot(runs: Sequence[Run], tags: Sequence[str], path: str | Path, by: str | None = None) -> Path:
    """Curves of ``tags`` against samples as a PNG: per group, the mean over seeds and its
    95% CI as a band (one seed: its line alone)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tags), figsize=(5 * len(tags), 3.6), squeeze=False)
    for color, group in enumerate(groups(runs, by)):
        n = len(group.members)
        if n == 1:
            _say_no_band(group)
        label = f"{group.label} ({n} seeds, 95% CI)" if n > 1 else f"{group.label} (1 seed)"
        for tag, b in bands(group, tags).items():
            ax = axes[0][list(tags).index(tag)]
            ax.plot(b.x, b.mean, color=f"C{color}", label=label)
            if b.lower is not None:
                ax.fill_between(b.x, b.lower, b.upper, color=f"C{color}", alpha=0.25, lw=0)
    for ax, tag in zip(axes[0], tags, strict=True):
        ax.set_title(tag)
        ax.set_xlabel("samples consumed")
        if tag == "time/fps":
            ax.set_yscale("log")
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _markdown_summary(group: Group, all_bands: dict[str, aggregate.Band]) -> str:
    tags = [t for t in all_bands if t in aggregate.MARGIN_TAGS or t.startswith("eval/")]
    header, rows = summarize(group.members, tags)
    seeds = ", ".join(str(m.hparams.get("seed", "?")) for m in group.members)
    table = render(header, rows, "markdown")
    return f"Mean over seeds {seeds} and the 95% bootstrap CI of the mean:\n\n{table}"


def write_tensorboard(runs: Sequence[Run], by: str | None = None) -> list[Path]:
    """Write each group's aggregate run (``<experiment>/<group>__mean``) next to its seeds.

    Every scalar tag that all the group's seeds hold is averaged; a group of one seed gets
    no aggregate run and a line saying so. Earlier aggregate runs of a group are replaced.
    """
    written = []
    for group in groups(runs, by):
        if len(group.members) < 2:
            _say_no_band(group)
            continue
        parent = Path(os.path.commonpath([m.path.parent for m in group.members]))
        all_tags = sorted({t for m in group.members for t in m.scalars})
        group_bands = bands(group, all_tags)
        path = aggregate.write_run(
            parent / aggregate.run_name(group.label, group.digest),
            group.digest,
            [m.path for m in group.members],
            group_bands,
            _markdown_summary(group, group_bands),
        )
        note(f"{group.label}: mean and 95% CI of {len(group.members)} seeds in {path}")
        written.append(path)
    return written


def compare(
    paths: Iterable[str | Path],
    tags: Sequence[str] = DEFAULT_TAGS,
    fmt: str = "table",
    plot_path: str | Path | None = None,
    by: str | None = None,
    write_tb: bool = False,
) -> str:
    """Read the runs under ``paths`` and return the comparison table (and draw the plot,
    and write the groups' aggregate runs for TensorBoard).

    Example:
        >>> import tempfile, sandbox
        >>> env = sandbox.make("sandbox/LinReg-v0")
        >>> d = tempfile.mkdtemp()
        >>> _ = sandbox.train(env, sandbox.make_agent("gradient", env), 500, seed=0, logdir=d,
        ...                   progress=False)
        >>> print(compare([d], tags=["eval/score"]).splitlines()[0])
        run                          seeds  eval/score final  eval/score IQM
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    runs = read_runs(list(paths))
    known = {t for r in runs for t in r.scalars}
    missing = [t for t in tags if t not in known]
    if missing:
        raise UsageError(
            f"no run holds the tag(s) {', '.join(missing)}; the runs hold "
            f"{', '.join(sorted(known))}"
        )
    table = render(*summarize(runs, tags, by), fmt)  # refuses a bad --by before writing
    if plot_path is not None:
        plot(runs, tags, plot_path, by)
    if write_tb:
        write_tensorboard(runs, by)
    return table
