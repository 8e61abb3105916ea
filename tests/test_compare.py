"""`sandbox compare`: the numbers the event files hold, seeds grouped, a PNG of the curves."""

from __future__ import annotations

import csv
import io
import statistics

import pytest

import sandbox
from sandbox.apps.cli import main
from tests.conftest import read_scalars


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two seeds of lr 0.03 and one of lr 0.01, in one experiment directory."""
    logdir = tmp_path_factory.mktemp("runs")
    dirs = {}
    for seed, lr in ((0, 0.03), (1, 0.03), (0, 0.01)):
        sandbox.seed_everything(seed)
        env = sandbox.make("sandbox/LinReg-v0")
        agent = sandbox.make_agent("gradient", env, lr=lr)
        result = sandbox.train(
            env,
            agent,
            600,
            seed=seed,
            logdir=logdir,
            experiment="cmp",
            progress=False,
            log_every=100,
            eval_every=200,
        )
        dirs[(seed, lr)] = result.run_dir
    return logdir / "cmp", dirs


def test_compare_gives_the_event_files_numbers_grouped_by_seed(runs, capsys):
    root, dirs = runs
    assert (
        main(["compare", str(root), "--format", "csv", "--tags", "eval/score", "reward/mean"]) == 0
    )
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((r["run"], r["seeds"]) for r in table) == [
        ("sandbox-LinReg-v0__gradient lr=0.01", "1"),
        ("sandbox-LinReg-v0__gradient lr=0.03", "2"),
    ]
    row = next(r for r in table if r["run"].endswith("lr=0.03"))
    curves = [read_scalars(dirs[(s, 0.03)])["reward/mean"] for s in (0, 1)]
    finals = [c[-1][1] for c in curves]
    bests = [max(v for _, v in c) for c in curves]
    assert float(row["reward/mean final"]) == pytest.approx(statistics.fmean(finals))
    assert float(row["reward/mean final std"]) == pytest.approx(statistics.stdev(finals))
    assert float(row["reward/mean best"]) == pytest.approx(statistics.fmean(bests))
    single = next(r for r in table if r["run"].endswith("lr=0.01"))
    score = read_scalars(dirs[(0, 0.01)])["eval/score"][-1][1]
    assert float(single["eval/score final"]) == pytest.approx(score)


def test_compare_plots_the_curves_to_a_png(runs, tmp_path, capsys):
    root, _ = runs
    png = tmp_path / "curves.png"
    assert main(["compare", str(root), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["run", "seeds"]


def test_compare_markdown_and_bad_input(runs, capsys):
    root, _ = runs
    assert main(["compare", str(root), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("| run | seeds | eval/score final |")
    assert main(["compare", str(root), "--tags", "eval/nope"]) == 2
    assert "no run holds the tag(s) eval/nope" in capsys.readouterr().err
    assert main(["compare", "/nonexistent"]) == 2
    assert main(["compare", str(root), "--format", "xml"]) == 2
