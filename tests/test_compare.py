"""`sandbox compare`: the numbers the event files hold, seeds grouped as mean, 95% CI and IQM,
a PNG of the mean curves with their bands, aggregate runs for TensorBoard, and bad input."""

from __future__ import annotations

import csv
import io
import shutil
import statistics

import pytest

import sandbox
from sandbox.apps import aggregate
from sandbox.apps.cli import main
from tests.conftest import read_scalars


def _train(logdir, seed, lr=0.03, env_id="sandbox/LinReg-v0", agent="gradient", steps=600):
    sandbox.seed_everything(seed)
    env = sandbox.make(env_id)
    result = sandbox.train(
        env,
        sandbox.make_agent(agent, env, lr=lr),
        steps,
        seed=seed,
        logdir=logdir,
        experiment="cmp",
        progress=False,
        log_every=100,
        eval_every=200,
    )
    return result.run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three seeds of lr 0.03 and one of lr 0.01, in one experiment directory."""
    logdir = tmp_path_factory.mktemp("runs")
    dirs = {
        (seed, lr): _train(logdir, seed, lr)
        for seed, lr in ((0, 0.03), (1, 0.03), (2, 0.03), (0, 0.01))
    }
    return logdir / "cmp", dirs


def _csv(capsys):
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_compare_gives_the_event_files_numbers_grouped_by_seed(runs, capsys):
    root, dirs = runs
    args = ["compare", str(root), "--format", "csv", "--tags", "eval/score", "reward/mean"]
    assert main(args) == 0
    table = _csv(capsys)
    assert sorted((r["run"], r["seeds"]) for r in table) == [
        ("sandbox-LinReg-v0__gradient lr=0.01", "1"),
        ("sandbox-LinReg-v0__gradient lr=0.03", "3"),
    ]
    row = next(r for r in table if r["run"].endswith("lr=0.03"))
    finals = [read_scalars(dirs[(s, 0.03)])["reward/mean"][-1][1] for s in (0, 1, 2)]
    mean = float(row["reward/mean final"])
    assert mean == pytest.approx(statistics.fmean(finals))
    assert min(finals) <= float(row["reward/mean final lower"]) <= mean
    assert mean <= float(row["reward/mean final upper"]) <= max(finals)
    assert float(row["reward/mean IQM"]) == pytest.approx(statistics.fmean(finals))  # 3 < 4
    single = next(r for r in table if r["run"].endswith("lr=0.01"))
    score = read_scalars(dirs[(0, 0.01)])["eval/score"][-1][1]
    assert float(single["eval/score final"]) == pytest.approx(score)
    assert single["eval/score final lower"] == single["eval/score final upper"] == ""


def test_the_text_table_shows_mean_interval_and_iqm(runs, capsys):
    root, _ = runs
    assert main(["compare", str(root), "--tags", "eval/score"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "seeds", "eval/score", "final", "eval/score", "IQM"]
    three = next(ln for ln in lines if "lr=0.03" in ln)
    assert " 3 " in three and three.count("[") == 1  # mean [lower, upper], then the IQM
    one = next(ln for ln in lines if "lr=0.01" in ln)
    assert "[" not in one  # one seed: no interval


def test_compare_plots_the_mean_and_band_to_a_png(runs, tmp_path, capsys):
    root, _ = runs
    png = tmp_path / "curves.png"
    assert main(["compare", str(root), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].split()[:2] == ["run", "seeds"]
    assert "lr=0.01: 1 seed, so no band" in captured.err  # said once, in one line
    assert captured.err.count("no band") == 1


def test_write_tensorboard_writes_the_mean_and_replaces_it_on_a_second_call(runs, capsys):
    root, dirs = runs
    before = {p: sorted(f.stat().st_mtime_ns for f in p.iterdir()) for p in dirs.values()}
    for _ in range(2):
        assert main(["compare", str(root), "--write-tensorboard"]) == 0
    err = capsys.readouterr().err
    (agg,) = [p for p in root.iterdir() if aggregate.is_aggregate(p)]  # replaced, not doubled
    assert agg.name == "sandbox-LinReg-v0__gradient__lr=0.03__mean"
    assert len(list(agg.glob("events.out.tfevents.*"))) == 1
    assert "lr=0.01: 1 seed, so no band" in err  # the one-seed group gets no aggregate run
    curves = [read_scalars(dirs[(s, 0.03)])["eval/score"] for s in (0, 1, 2)]
    written = read_scalars(agg)
    for i, (step, value) in enumerate(written["eval/score"]):
        seeds = [c[i] for c in curves]
        assert all(s == step for s, _ in seeds)  # the same samples axis
        assert value == pytest.approx(statistics.fmean(v for _, v in seeds), rel=1e-6)
        assert written["eval/score/lower"][i][1] <= value <= written["eval/score/upper"][i][1]
    after = {p: sorted(f.stat().st_mtime_ns for f in p.iterdir()) for p in dirs.values()}
    assert after == before  # seed runs untouched
    assert main(["compare", str(root), "--format", "csv"]) == 0  # the aggregate is no seed
    assert {r["seeds"] for r in _csv(capsys)} == {"3", "1"}


def test_by_groups_a_sweep_by_one_option(runs, capsys):
    root, _ = runs
    assert main(["compare", str(root), "--by", "lr", "--format", "csv"]) == 0
    labels = sorted((r["run"], r["seeds"]) for r in _csv(capsys))
    assert labels == [
        ("sandbox-LinReg-v0__gradient lr=0.01", "1"),
        ("sandbox-LinReg-v0__gradient lr=0.03", "3"),
    ]
    assert main(["compare", str(root), "--by", "seed", "--format", "csv"]) == 0
    assert sorted(r["seeds"] for r in _csv(capsys)) == ["1", "1", "2"]  # seed 0 of both lrs
    assert main(["compare", str(root), "--by", "lrr"]) == 2
    assert "no run has the option 'lrr' (did you mean lr?)" in capsys.readouterr().err


def test_runs_of_different_envs_or_agents_are_never_one_group(tmp_path, capsys):
    for seed in (0, 1):
        _train(tmp_path, seed)
        _train(tmp_path, seed, env_id="sandbox/Diabetes-v0")
        _train(tmp_path, seed, agent="reinforce")  # reward values only: a bandit
    assert main(["compare", str(tmp_path / "cmp"), "--format", "csv", "--by", "lr"]) == 0
    rows = sorted((r["run"], r["seeds"]) for r in _csv(capsys))
    assert rows == [
        ("sandbox-Diabetes-v0__gradient lr=0.03", "2"),
        ("sandbox-LinReg-v0__gradient lr=0.03", "2"),
        ("sandbox-LinReg-v0__reinforce lr=0.03", "2"),
    ]
    assert main(["compare", str(tmp_path / "cmp"), "--write-tensorboard"]) == 0
    names = sorted(p.name for p in (tmp_path / "cmp").iterdir() if aggregate.is_aggregate(p))
    assert names == [
        "sandbox-Diabetes-v0__gradient__mean",
        "sandbox-LinReg-v0__gradient__mean",
        "sandbox-LinReg-v0__reinforce__mean",
    ]


def test_a_run_without_event_files_is_skipped_in_one_line(runs, tmp_path, capsys):
    root, dirs = runs
    copy = tmp_path / "cmp"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*__mean"))
    broken = copy / dirs[(2, 0.03)].name
    for events in broken.glob("events.out.tfevents.*"):
        events.unlink()
    assert main(["compare", str(copy), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert (
        captured.err.strip()
        == f"sandbox compare: skipped {broken}: no TensorBoard event files in it"
    )
    assert {r["seeds"] for r in csv.DictReader(io.StringIO(captured.out))} == {"2", "1"}


def test_compare_markdown_and_bad_input(runs, capsys):
    root, _ = runs
    assert main(["compare", str(root), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("| run | seeds | eval/score final |")
    assert main(["compare", str(root), "--tags", "eval/nope"]) == 2
    assert "no run holds the tag(s) eval/nope" in capsys.readouterr().err
    assert main(["compare", "/nonexistent"]) == 2
    assert main(["compare", str(root), "--format", "xml"]) == 2
