"""Many seeds as one curve with its band: the statistics, and aggregate runs for TensorBoard.

TensorBoard cannot group runs (tensorflow/tensorboard#376, open since 2017), so a group of
runs that differ only by seed gets a run of its own, ``<group>__mean``, next to its seeds:
for every scalar tag, the mean over seeds at each sample count (``eval/score``) and the
95% bootstrap confidence interval of that mean (``eval/score/lower``, ``eval/score/upper``),
plus a Custom Scalars layout whose margin charts draw the three as a line with its band.
Final values are also summarised by their interquartile mean (IQM), as rliable recommends
for few seeds (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice").

An aggregate run is marked by its ``aggregate.json``; writing one again replaces every
marked run of the same group, and nothing without the mark is ever modified or removed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.stats

from sandbox.core import UsageError

CONFIDENCE = 0.95
"""Coverage of the band: a 95% confidence interval of the mean over seeds."""
RESAMPLES = 2000
"""Bootstrap resamples per interval (percentile method, a fixed generator: same band twice)."""
MARKER = "aggregate.json"
"""The file that makes a directory an aggregate run (its group, its seed runs)."""
MARGIN_TAGS = ("eval/score", "reward/mean", "rollout/ep_rew_mean")
"""Tags that get a margin chart (mean and band), besides every ``eval/<metric>``."""

Curve = Sequence[tuple[int, float]]
"""One run's scalar: ``[(samples, value), ...]`` in step order."""


def mean_ci(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) and the 95% percentile-bootstrap interval of that mean.

    Args:
        values: ``(num_seeds, ...)``, at least two seeds.

    Returns:
        ``(mean, lower, upper)``, each of shape ``values.shape[1:]``, ``lower <= mean <= upper``.

    Example:
        >>> mean, lower, upper = mean_ci(np.array([1.0, 2.0, 3.0, 4.0]))
        >>> float(mean), bool(1.0 <= lower < mean < upper <= 4.0)
        (2.5, True)
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        raise ValueError(f"a confidence interval needs two seeds or more, got {len(values)}")
    mean = values.mean(axis=0)
    result = scipy.stats.bootstrap(
        (values,),
        np.mean,
        axis=0,
        vectorized=True,
        n_resamples=RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",  # BCa is undefined when every seed agrees (a solved CartPole)
        rng=np.random.default_rng(0),
    )
    lower, upper = result.confidence_interval
    # the resample means bracket the mean; min/max only absorb the last bit of rounding
    return mean, np.minimum(lower, mean), np.maximum(upper, mean)


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% (rliable's IQM; all values below 4).

    Example:
        >>> iqm([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0])
        3.5
    """
    return float(scipy.stats.trim_mean(np.asarray(values, dtype=np.float64), 0.25))


@dataclass
class Band:
    """A group's curve: the mean over seeds and its interval, on the samples every seed covers."""

    x: np.ndarray
    """``(P,)`` samples consumed."""
    mean: np.ndarray
    """``(P,)`` mean over seeds."""
    lower: np.ndarray | None
    """``(P,)`` lower bound of the 95% CI of the mean; ``None`` for one seed."""
    upper: np.ndarray | None
    """``(P,)`` upper bound; ``None`` for one seed."""


def band(curves: Sequence[Curve]) -> Band:
    """The mean and 95% CI of ``curves`` (one per seed) at every sample any seed logged.

    Seeds that logged at other sample counts are interpolated linearly (``np.interp``), within
    the range every seed covers: a shorter run shortens the band, it is never extrapolated.

    Example:
        >>> b = band([[(0, 0.0), (10, 1.0)], [(0, 2.0), (5, 2.0), (10, 3.0)]])
        >>> b.x.tolist(), b.mean.tolist()
        ([0, 5, 10], [1.0, 1.25, 2.0])
    """
    points = [sorted(dict(c).items()) for c in curves]  # a step written twice: its last value
    start, end = max(p[0][0] for p in points), min(p[-1][0] for p in points)
    x = np.unique(np.concatenate([[s for s, _ in p] for p in points]))
    x = x[(x >= start) & (x <= end)]  # (P,)
    values = np.stack([np.interp(x, *zip(*p, strict=True)) for p in points])  # (seeds, P)
    if len(points) < 2:
        return Band(x, values[0], None, None)
    return Band(x, *mean_ci(values))


def margin_layout(tags: Sequence[str]) -> dict[str, dict[str, list]]:
    """The Custom Scalars layout: one margin chart (mean with its band) per headline tag.

    Example:
        >>> margin_layout(["eval/r2", "train/loss"])
        {'seeds: mean and 95% CI': {'eval/r2': ['Margin', ['eval/r2', 'eval/r2/lower', \
'eval/r2/upper']]}}
    """
    shown = [t for t in MARGIN_TAGS if t in tags] + sorted(
        t for t in tags if t.startswith("eval/") and t not in MARGIN_TAGS
    )
    return {
        "seeds: mean and 95% CI": {t: ["Margin", [t, f"{t}/lower", f"{t}/upper"]] for t in shown}
    }


def run_name(label: str, digest: str) -> str:
    """The aggregate run's directory name for a group label (``digest`` keeps a long one short).

    Example:
        >>> run_name("sandbox-LinReg-v0__gradient lr=0.03", "3fa2")
        'sandbox-LinReg-v0__gradient__lr=0.03__mean'
    """
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "-", label.replace(" ", "__"))
    return f"{name}__mean" if len(name) <= 120 else f"{name[:100]}__{digest}__mean"


def is_aggregate(path: Path) -> bool:
    """Whether ``path`` is an aggregate run (written here), not a seed run."""
    return (path / MARKER).is_file()


def _remove_stale(parent: Path, name: str, key: str) -> None:
    """Remove the aggregate runs in ``parent`` of the group ``key`` or named ``name``."""
    target = parent / name
    if target.exists() and not is_aggregate(target):
        raise UsageError(f"{target} exists and is not an aggregate run: move it, it is not mine")
    for path in parent.iterdir() if parent.is_dir() else []:
        if not is_aggregate(path):
            continue
        try:
            same = json.loads((path / MARKER).read_text()).get("key") == key
        except (OSError, ValueError, AttributeError):
            same = False
        if same or path == target:
            shutil.rmtree(path)


def write_run(
    directory: Path,
    key: str,
    sources: Sequence[Path],
    bands: Mapping[str, Band],
    summary: str = "",
) -> Path:
    """Write a group's aggregate run into ``directory``, replacing the group's earlier ones.

    Args:
        directory: ``<experiment>/<group>__mean``.
        key: what identifies the group (its options but the seed), kept in ``aggregate.json``.
        sources: the seed runs averaged (only read, never modified).
        bands: tag -> the group's ``Band``, with its interval (two seeds or more).
        summary: Markdown for the TEXT tab.
    """
    from tensorboard.compat.proto.summary_pb2 import Summary
    from torch.utils.tensorboard import SummaryWriter

    _remove_stale(directory.parent, directory.name, key)
    directory.mkdir(parents=True)
    marker = {"key": key, "seed_runs": [str(p) for p in sources]}
    (directory / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    at_step: dict[int, dict[str, float]] = {}  # one event per sample count, all its tags
    for tag, b in bands.items():
        assert b.lower is not None and b.upper is not None, f"{tag}: one seed has no band"
        for i, step in enumerate(b.x.tolist()):
            values = at_step.setdefault(step, {})
            values[tag], values[f"{tag}/lower"] = float(b.mean[i]), float(b.lower[i])
            values[f"{tag}/upper"] = float(b.upper[i])
    writer = SummaryWriter(str(directory))
    try:
        for step in sorted(at_step):
            items = at_step[step].items()
            summ = Summary(value=[Summary.Value(tag=t, simple_value=v) for t, v in items])
            writer.file_writer.add_summary(summ, step)
        writer.add_custom_scalars(margin_layout(list(bands)))
        if summary:
            writer.add_text("seeds", summary)
    finally:
        writer.close()
    return directory
