"""`--seeds` in the tour and in label_vs_reward.py: figures as mean and interval, bands written."""

from __future__ import annotations

import contextlib
import io

import pytest

from sandbox.apps import aggregate
from sandbox.apps.cli import main
from sandbox.apps.tour import TOUR
from tests.conftest import run_script


def test_label_vs_reward_gives_samples_to_threshold_as_mean_and_interval(tmp_path, capsys):
    args = ["--steps", "3000", "--eval-every", "500", "--threshold", "0.8", "--seeds", "2"]
    figures, out = run_script("label_vs_reward", capsys, *args, "--logdir", str(tmp_path))
    assert "(mean [95% CI] of 2 seeds)" in out
    for revealed, f in figures.items():
        assert len(f["reach"]) == len(f["final"]) == 2
        row = next(ln for ln in out.splitlines() if ln.startswith(f"| {revealed} |"))
        if all(r < float("inf") for r in f["reach"]):  # mean [lower, upper] of the two seeds
            low, high = sorted(f["reach"])
            assert f"{(low + high) / 2:,.0f} [" in row and row.count("[") == 2
    root = tmp_path / "label_vs_reward"
    names = sorted(p.name for p in root.iterdir() if aggregate.is_aggregate(p))
    assert names == [f"sandbox-Digits-v0__{a}__mean" for a in ("gradient", "label", "ppo")]


@pytest.mark.slow
def test_the_tour_with_seeds_gives_each_paradigm_a_mean_an_interval_and_a_band(tmp_path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "tour",
                "--budget",
                "tiny",
                "--seeds",
                "0-1",
                "--logdir",
                str(tmp_path),
                "--no-progress",
            ]
        )
    assert code == 0
    rows = [ln for ln in out.getvalue().splitlines() if "sandbox/" in ln]
    assert len(rows) == len(TOUR)  # one row per paradigm, not per seed
    root = tmp_path / "tour"
    aggregates = [p for p in root.iterdir() if aggregate.is_aggregate(p)]
    assert len(aggregates) == len(TOUR) and len(list(root.glob("*__s*__*"))) == 2 * len(TOUR)
    # headline: mean [lower, upper]; the classification row's gap has its own interval
    assert all(row.count("[") == 1 + ("gap" in row) for row in rows)
