"""``sandbox compare``: runs side by side, read back from their TensorBoard event files.

Runs are found under the paths given (a run directory, or any directory above runs), read
with TensorBoard's own ``EventAccumulator``, and grouped when their HParams differ only by
seed: a group shows the mean ± std over its seeds of each tag's final and best value.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.core import UsageError

DEFAULT_TAGS = ("eval/score", "reward/mean", "time/fps")
FORMATS = ("table", "markdown", "csv")


@dataclass
class Run:
    """One run's scalars and hyperparameters, as its event files hold them."""

    path: Path
    hparams: dict[str, object]
    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    """tag -> [(samples, value)], in step order."""

    @property
    def group(self) -> tuple[tuple[str, str], ...]:
        """What identifies the run but its seed (and its unique run name)."""
        return tuple(sorted((k, str(v)) for k, v in self.hparams.items() if k != "seed"))

    @property
    def label(self) -> str:
        """``<env>__<agent>`` from the run directory's name, else the name itself."""
        parts = self.path.name.split("__")
        return "__".join(parts[:2]) if len(parts) >= 4 else self.path.name


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Every directory holding event files at or below ``paths``, sorted.

    Example:
        >>> find_runs(["/nonexistent"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sandbox.errors.UsageError: no TensorBoard runs under /nonexistent (expected a run ...
    """
    found: set[Path] = set()
    for p in map(Path, paths):
        events = [p] if p.is_file() else sorted(p.rglob("events.out.tfevents.*"))
        runs = {e.parent for e in events}
        if not runs:
            raise UsageError(
                f"no TensorBoard runs under {p} (expected a run directory or a directory "
                "above runs)"
            )
        found |= runs
    return sorted(found)


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


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _mean_std(values: Sequence[float]) -> tuple[float, float] | None:
    """Mean and sample standard deviation (0 for one value); ``None`` for no value."""
    if not values:
        return None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _same_in_all(groups: dict[tuple, list[Run]]) -> set[str]:
    """Hyperparameters with one value across all groups (not worth a column)."""
    values: dict[str, set[str]] = {}
    for group in groups:
        for key, value in group:
            values.setdefault(key, set()).add(value)
    present_in_all = set.intersection(*({k for k, _ in g} for g in groups)) if groups else set()
    return {k for k, v in values.items() if len(v) == 1 and k in present_in_all}


def _groups(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped when they differ only by seed, each group named by what sets it apart:
    ``env__agent`` plus the options whose values differ between groups."""
    by_key: dict[tuple, list[Run]] = {}
    for run in runs:
        by_key.setdefault(run.group, []).append(run)
    varying = sorted({k for g in by_key for k, _ in g} - _same_in_all(by_key))
    named: dict[str, list[Run]] = {}
    for members in by_key.values():
        options = " ".join(f"{k.split('.')[-1]}={members[0].hparams.get(k)}" for k in varying)
        named.setdefault(f"{members[0].label} {options}".strip(), []).extend(members)
    return named


Cell = str | tuple[float, float] | None
"""A table cell: text, or (mean, std) over a group's seeds, or ``None`` for no data."""


def summarize(runs: Sequence[Run], tags: Sequence[str]) -> tuple[list[str], list[list[Cell]]]:
    """The comparison table: one row per group of runs that differ only by seed.

    Returns:
        The header and the rows: run label, number of seeds, then the final and the best
        value of each tag as (mean, std) over the group's seeds.
    """
    header = ["run", "seeds"] + [f"{t} {kind}" for t in tags for kind in ("final", "best")]
    rows: list[list[Cell]] = []
    for label, members in _groups(runs).items():
        row: list[Cell] = [label, str(len(members))]
        for tag in tags:
            curves = [m.scalars[tag] for m in members if m.scalars.get(tag)]
            row.append(_mean_std([c[-1][1] for c in curves]))
            row.append(_mean_std([max(v for _, v in c) for c in curves]))
        rows.append(row)
    return header, rows


def render(header: list[str], rows: list[list[Cell]], fmt: str) -> str:
    """The table as aligned text, Markdown (``mean ± std``) or CSV (mean and std columns).

    Example:
        >>> header, rows = ["run", "seeds", "x final"], [["a", "2", (2.0, 0.5)]]
        >>> print(render(header, rows, "markdown"))
        | run | seeds | x final |
        | --- | --- | --- |
        | a | 2 | 2 ± 0.5 |
        >>> print(render(header, rows, "csv"))
        run,seeds,x final,x final std
        a,2,2.0,0.5
    """
    if fmt == "csv":  # the first two columns are text, the rest (mean, std) pairs
        head = header[:2] + [f"{h}{suffix}" for h in header[2:] for suffix in ("", " std")]
        body = [r[:2] + [v for c in r[2:] for v in (c or ("", ""))] for r in rows]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([head, *body])
        return out.getvalue().rstrip("\n")

    def text(c: Cell) -> str:
        if c is None:
            return "-"
        if isinstance(c, str):
            return c
        return _number(c[0]) if c[1] == 0 else f"{_number(c[0])} ± {c[1]:.2g}"

    cells = [header, *[[text(c) for c in r] for r in rows]]
    if fmt == "markdown":
        lines = [cells[0], ["---"] * len(header), *cells[1:]]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def plot(runs: Sequence[Run], tags: Sequence[str], path: str | Path) -> Path:
    """Curves of ``tags`` against samples, one panel per tag, one line per run, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tags), figsize=(5 * len(tags), 3.6), squeeze=False)
    groups = _groups(runs)
    for ax, tag in zip(axes[0], tags, strict=True):
        for color, (label, members) in enumerate(groups.items()):
            for i, run in enumerate(members):  # one colour per group, one line per seed
                curve = run.scalars.get(tag)
                if curve:
                    ax.plot(
                        *zip(*curve, strict=True),
                        color=f"C{color}",
                        label=f"{label} ({len(members)} seeds)" if i == 0 else None,
                    )
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


def compare(
    paths: Iterable[str | Path],
    tags: Sequence[str] = DEFAULT_TAGS,
    fmt: str = "table",
    plot_path: str | Path | None = None,
) -> str:
    """Read the runs under ``paths`` and return the comparison table (and draw the plot).

    Example:
        >>> import tempfile, sandbox
        >>> env = sandbox.make("sandbox/LinReg-v0")
        >>> d = tempfile.mkdtemp()
        >>> _ = sandbox.train(env, sandbox.make_agent("gradient", env), 500, seed=0, logdir=d,
        ...                   progress=False)
        >>> print(compare([d], tags=["eval/score"]).splitlines()[0])
        run                          seeds  eval/score final  eval/score best
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    runs = [read_run(p) for p in find_runs(paths)]
    known = {t for r in runs for t in r.scalars}
    missing = [t for t in tags if t not in known]
    if missing:
        raise UsageError(
            f"no run holds the tag(s) {', '.join(missing)}; the runs hold "
            f"{', '.join(sorted(known))}"
        )
    if plot_path is not None:
        plot(runs, tags, plot_path)
    return render(*summarize(runs, tags), fmt)
