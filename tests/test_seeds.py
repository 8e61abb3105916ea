"""`sandbox run ... --seeds 0-2 [--jobs N]`: one run per seed, the group's aggregate run as
TensorBoard serves it, Ctrl-C stopping every run with its checkpoint, `--resume` of the group."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from sandbox.apps import aggregate
from sandbox.apps.cli import main
from sandbox.checkpoint import load_checkpoint
from tests.conftest import read_scalars, tensorboard_server

CHEAP = ["sandbox/LinReg-v0", "gradient", "--steps", "300", "--no-progress"]
ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def _seed_runs(root: Path) -> dict[int, Path]:
    runs = {}
    for path in root.glob("*__s*__*"):
        if path.is_dir():
            runs[int(path.name.split("__")[2].removeprefix("s"))] = path
    return runs


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """Three seeds of a cheap config, one after another, with the CLI."""
    logdir = tmp_path_factory.mktemp("runs")
    code = main(["run", *CHEAP, "--seeds", "0-2", "--logdir", str(logdir), "--experiment", "g"])
    assert code == 0
    return logdir / "g"


def test_seeds_make_one_run_each_a_group_file_and_the_aggregate_run(group, capsys):
    runs = _seed_runs(group)
    assert sorted(runs) == [0, 1, 2]
    (group_file,) = group.glob("*__seeds__*.json")
    saved = json.loads(group_file.read_text())
    assert saved["runs"] == {str(s): str(runs[s].resolve()) for s in runs}
    assert "--seed" not in saved["args"] and saved["args"][:2] == CHEAP[:2]
    (agg,) = [p for p in group.iterdir() if aggregate.is_aggregate(p)]
    assert agg.name == "sandbox-LinReg-v0__gradient__mean"
    assert {int(load_checkpoint(r)["config"]["run"]["seed"]) for r in runs.values()} == {0, 1, 2}


def test_tensorboard_serves_the_groups_mean_band_margin_charts_and_one_hparams_group(group):
    """The issue's check, through a real TensorBoard server's HTTP API."""
    runs = _seed_runs(group)
    seeds = [read_scalars(runs[s])["eval/score"] for s in (0, 1, 2)]  # from the event files
    with tensorboard_server(group) as api:
        listed = api("/data/runs")
        assert "sandbox-LinReg-v0__gradient__mean" in listed and len(listed) == 4

        def scalars(tag):
            run = quote("sandbox-LinReg-v0__gradient__mean")
            return api(f"/data/plugin/scalars/scalars?run={run}&tag={quote(tag)}")

        mean, lower, upper = (
            scalars(t) for t in ("eval/score", "eval/score/lower", "eval/score/upper")
        )
        assert len(mean) == len(seeds[0]) > 5
        for i, (_, step, value) in enumerate(mean):
            at_step = [dict(curve)[step] for curve in seeds]  # every seed logged this sample
            assert value == pytest.approx(statistics.fmean(at_step), rel=1e-6, abs=1e-7)
            assert lower[i][1] == upper[i][1] == step
            assert lower[i][2] <= value <= upper[i][2]
            assert min(at_step) - 1e-6 <= lower[i][2] and upper[i][2] <= max(at_step) + 1e-6

        layout = api("/data/plugin/custom_scalars/layout")
        margins = [
            c["margin"]["series"]
            for cat in layout["category"]
            for c in cat["chart"]
            if "margin" in c
        ]
        assert [
            {"value": "eval/score", "lower": "eval/score/lower", "upper": "eval/score/upper"}
        ] in margins

        request = {
            "experimentName": "",
            "allowedStatuses": ALL_STATUSES,
            "colParams": [],
            "startIndex": 0,
            "sliceSize": 100,
        }
        groups = api("/data/plugin/hparams/session_groups", request)["sessionGroups"]
        assert len(groups) == 1  # the aggregate run is no session; the seeds are one group
        assert sorted(s["name"] for s in groups[0]["sessions"]) == sorted(
            r.name for r in runs.values()
        )
        score = next(m for m in groups[0]["metricValues"] if m["name"]["tag"] == "eval/score")
        finals = [curve[-1][1] for curve in seeds]
        assert score["value"] == pytest.approx(statistics.fmean(finals), rel=1e-6)  # the mean


def test_a_second_group_run_replaces_the_aggregate_and_keeps_the_seed_runs(tmp_path, capsys):
    args = ["run", *CHEAP, "--logdir", str(tmp_path), "--experiment", "g"]
    assert main([*args, "--seeds", "0,1"]) == 0
    assert main([*args, "--seeds", "2"]) == 0  # one seed: its own group file, no band
    assert "1 seed, so no band" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "g"), "--write-tensorboard"]) == 0
    aggs = [p for p in (tmp_path / "g").iterdir() if aggregate.is_aggregate(p)]
    assert len(aggs) == 1 and len(_seed_runs(tmp_path / "g")) == 3
    assert len(json.loads((aggs[0] / aggregate.MARKER).read_text())["seed_runs"]) == 3


@pytest.mark.parametrize(
    "args,message",
    [
        (["--seeds", "4-2"], "--seeds takes seeds like 0-4 or 0,1,2"),
        (["--seeds", "x"], "--seeds takes seeds like 0-4 or 0,1,2"),
        (["--seeds", "0-1", "--seed", "3"], "--seeds makes one run per seed; drop --seed"),
        (["--seeds", "0-1", "--jobs", "0"], "--jobs takes a number of processes >= 1"),
        (["--seeds", "0-1", "--lrr", "1"], "--lrr"),
    ],
)
def test_bad_seed_flags_are_one_line_before_any_run(tmp_path, capsys, args, message):
    assert main(["run", *CHEAP, "--logdir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def _start(args, tmp_path):
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox", "run", *args],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for_runs(root: Path, seeds: list[int], proc, timeout: float = 120) -> None:
    """Until every seed's run has written its first scalars (the loop's handlers are set)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = _seed_runs(root) if root.is_dir() else {}
        if all(
            s in runs and any(p.stat().st_size > 200 for p in runs[s].glob("events*"))
            for s in seeds
        ):
            time.sleep(1.0)
            return
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the runs did not start"
        time.sleep(0.2)


def _finished(run_dir: Path) -> bool:
    state = load_checkpoint(run_dir)
    return state["samples"] >= state["config"]["run"]["steps"]


LONG = ["sandbox/LinReg-v0", "gradient", "--steps", "150000", "--no-progress"]  # ~8 s a run


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_stops_the_group_with_checkpoints_and_resume_finishes_it(tmp_path, jobs):
    root = tmp_path / "g"
    args = [
        *LONG,
        "--logdir",
        str(tmp_path),
        "--experiment",
        "g",
        "--seeds",
        "0-1",
        "--jobs",
        str(jobs),
    ]
    proc = _start(args, tmp_path)
    _wait_for_runs(root, [0] if jobs == 1 else [0, 1], proc)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the foreground process
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    (group_file,) = root.glob("*__seeds__*.json")
    assert f"continue the group with: sandbox run --resume {group_file} --seeds 0,1" in err
    stopped = _seed_runs(root)
    assert sorted(stopped) == ([0] if jobs == 1 else [0, 1])  # sequential: seed 1 not begun
    for run_dir in stopped.values():  # each stopped run wrote its checkpoint, short of the budget
        assert 0 < load_checkpoint(run_dir)["samples"] < 150_000
    assert not [p for p in root.iterdir() if aggregate.is_aggregate(p)]

    resume = ["--resume", str(group_file), "--seeds", "0-1", "--jobs", str(jobs)]
    proc = _start(resume, tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    runs = _seed_runs(root)
    assert sorted(runs) == [0, 1] and all(runs[s] == stopped[s] for s in stopped)  # continued
    assert all(_finished(r) for r in runs.values())
    assert [p.name for p in root.iterdir() if aggregate.is_aggregate(p)] == [
        "sandbox-LinReg-v0__gradient__mean"
    ]
    assert "sandbox-LinReg-v0__gradient  2 " in out  # the group's table

    proc = _start(resume, tmp_path)  # all done: nothing runs again
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.count(", kept") == 2


@pytest.mark.slow
def test_jobs_run_each_seed_in_a_child_process(tmp_path):
    args = [*CHEAP, "--logdir", str(tmp_path), "--experiment", "g", "--seeds", "0-1", "--jobs", "2"]
    proc = _start(args, tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    assert "[seed 0] samples" in out and "[seed 1] samples" in out  # each child's own lines
    runs = _seed_runs(tmp_path / "g")
    assert sorted(runs) == [0, 1]
    assert {load_checkpoint(r)["config"]["run"]["seed"] for r in runs.values()} == {0, 1}
    assert [p for p in (tmp_path / "g").iterdir() if aggregate.is_aggregate(p)]
