"""The statistics of a group of seeds, checked by hand: the mean on a common axis, the bootstrap
interval of the mean, the interquartile mean; and the aggregate run they are written to."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats

from sandbox.apps import aggregate
from tests.conftest import read_scalars


def test_the_mean_is_taken_on_the_samples_every_seed_covers_interpolating_between_logs():
    a = [(0, 0.0), (10, 10.0), (20, 20.0), (30, 30.0)]
    b = [(5, 1.0), (15, 3.0), (25, 5.0)]  # logged elsewhere, and stops earlier
    band = aggregate.band([a, b])
    assert band.x.tolist() == [5, 10, 15, 20, 25]  # within [5, 25]: never extrapolated
    # a at 5, 15, 25 is 5, 15, 25 (interpolated); b at 10, 20 is 2, 4 (interpolated)
    assert band.mean.tolist() == [3.0, 6.0, 9.0, 12.0, 15.0]
    assert np.all(band.lower <= band.mean) and np.all(band.mean <= band.upper)


def test_a_step_written_twice_counts_once_with_its_last_value():
    band = aggregate.band([[(0, 1.0), (10, 5.0), (10, 3.0)], [(0, 1.0), (10, 3.0)]])
    assert band.x.tolist() == [0, 10] and band.mean.tolist() == [1.0, 3.0]


def test_one_seed_has_no_band():
    band = aggregate.band([[(0, 1.0), (10, 2.0)]])
    assert band.lower is None and band.upper is None and band.mean.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="two seeds or more"):
        aggregate.mean_ci(np.array([[1.0, 2.0]]))


def test_the_interval_is_the_percentile_bootstrap_of_the_mean():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(8, 3))  # 8 seeds, 3 points
    mean, lower, upper = aggregate.mean_ci(values)
    assert np.allclose(mean, values.mean(axis=0))
    # by hand: resample seeds with replacement, take the 2.5% and 97.5% quantiles of the means
    idx = np.random.default_rng(2).integers(0, 8, size=(20_000, 8))
    means = values[idx].mean(axis=1)  # (20000, 3)
    lo, hi = np.quantile(means, [0.025, 0.975], axis=0)
    assert np.allclose(lower, lo, atol=0.05) and np.allclose(upper, hi, atol=0.05)
    assert np.all(lower < mean) and np.all(mean < upper)
    again = aggregate.mean_ci(values)  # a fixed generator: the same band twice
    assert np.array_equal(again[1], lower) and np.array_equal(again[2], upper)


def test_seeds_that_agree_give_a_zero_width_band():
    mean, lower, upper = aggregate.mean_ci(np.full((5, 4), 500.0))  # a solved CartPole
    assert mean.tolist() == lower.tolist() == upper.tolist() == [500.0] * 4


def test_the_interquartile_mean_drops_the_top_and_bottom_quarters():
    assert aggregate.iqm([1, 2, 3, 4, 5, 6, 7, 1000]) == pytest.approx((3 + 4 + 5 + 6) / 4)
    assert aggregate.iqm([1.0, 2.0, 9.0]) == pytest.approx(4.0)  # < 4 values: the mean
    values = np.random.default_rng(0).normal(size=40)
    assert aggregate.iqm(values) == pytest.approx(scipy.stats.trim_mean(values, 0.25))


def test_the_aggregate_run_holds_mean_lower_upper_and_margin_charts(tmp_path):
    band = aggregate.band([[(0, 0.0), (10, 1.0)], [(0, 2.0), (10, 3.0)], [(0, 1.0), (10, 2.0)]])
    path = aggregate.write_run(tmp_path / "g__mean", "k1", [tmp_path / "a"], {"eval/score": band})
    scalars = read_scalars(path)
    assert [v for _, v in scalars["eval/score"]] == [1.0, 2.0]
    lower = [v for _, v in scalars["eval/score/lower"]]
    upper = [v for _, v in scalars["eval/score/upper"]]
    assert lower == [0.0, 1.0] and upper == [2.0, 3.0]  # 3 seeds: the resamples span min..max
    assert json.loads((path / aggregate.MARKER).read_text())["key"] == "k1"
    layout = aggregate.margin_layout(["eval/score", "train/loss", "reward/mean"])
    (charts,) = layout.values()
    assert list(charts) == ["eval/score", "reward/mean"]  # headline tags only


def test_writing_again_replaces_and_never_touches_a_directory_without_the_mark(tmp_path):
    band = aggregate.band([[(0, 0.0)], [(0, 2.0)]])
    first = aggregate.write_run(tmp_path / "old-name__mean", "k1", [], {"x/y": band})
    other = aggregate.write_run(tmp_path / "other__mean", "k2", [], {"x/y": band})
    second = aggregate.write_run(tmp_path / "new-name__mean", "k1", [], {"x/y": band})
    assert not first.exists() and other.exists() and second.exists()  # same group: replaced
    assert len(list(second.glob("events.out.tfevents.*"))) == 1
    mine = tmp_path / "mine__mean"
    mine.mkdir()
    (mine / "notes.txt").write_text("a run of my own")
    with pytest.raises(aggregate.UsageError, match="is not an aggregate run"):
        aggregate.write_run(mine, "k3", [], {"x/y": band})
    assert (mine / "notes.txt").read_text() == "a run of my own"
