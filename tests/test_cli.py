"""The command line: list, help, one-line usage errors before any file, stop and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import sandbox
from sandbox.apps.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_prints_one_line_per_env_and_agent(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    line = next(ln for ln in out.splitlines() if "sandbox/LinReg-v0" in ln)
    assert "regression" in line and "w = [2, -3.4]" in line
    assert any(ln.split()[0] == "gradient" for ln in out.splitlines() if ln.strip())


def test_help_shows_run_agent_and_env_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "sandbox/LinReg-v0", "gradient", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for flag in (
        "--steps",
        "--seed",
        "--num-envs",
        "--device",
        "--logdir",
        "--resume",
        "--lr",
        "--optimizer",
        "--env.noise",
    ):
        assert flag in out, flag
    assert "Learning rate." in out  # help text comes from the config's field docstrings


RUN = "run sandbox/LinReg-v0 gradient"
USAGE_ERRORS = [  # (command line, what the one-line message must say)
    (
        "run sandbox/LinReg gradient",
        "unknown env id 'sandbox/LinReg' (did you mean sandbox/LinReg-v0",
    ),
    ("run sandbox/LinReg-v0 gradiant", "unknown agent 'gradiant' (did you mean gradient?)"),
    (f"{RUN} --steps -5", "steps must be a positive number of samples, got -5"),
    (f"{RUN} --lrr 3", "Unrecognized options: --lrr, 3 (did you mean --lr?)"),
    (f"{RUN} --lr -1", "lr must be > 0, got -1.0"),
    (f"{RUN} --lr fast", "--lr expects a number, got 'fast'"),
    (f"{RUN} --steps 10x", "--steps expects an integer, got '10x'"),
    (f"{RUN} --num-envs 1.5", "--num-envs expects an integer, got '1.5'"),
    (f"{RUN} --model resnet", "invalid choice 'resnet'"),
    (f"{RUN} --num-envs 0", "num_envs must be a positive integer, got 0"),
    (f"{RUN} --device tpu", "unknown device 'tpu'"),
    (f"{RUN} --env.noise -1", "noise must be >= 0"),
    ("run sandbox/LinReg-v0", "expected `sandbox run ENV_ID AGENT [flags]`"),
    ("runn", "unknown command 'runn' (did you mean run?)"),
    ("run --resume /nonexistent", "no checkpoint at /nonexistent/checkpoint.pt"),
    (f"{RUN} --lr inf", "lr must be a finite number, got inf"),
    (f"{RUN} --num-envs 1000000000", "num_envs must be at most 2**24"),
    (f"{RUN} --seed 99999999999999999999", "seed must be an integer in [0, 2**63 - 1]"),
    (f"{RUN} --checkpoint-every 0", "checkpoint_every must be a positive number of samples"),
    (f"{RUN} --stop-deadline 0", "stop_deadline must be > 0 seconds"),
]


@pytest.mark.parametrize("line,message", USAGE_ERRORS, ids=[line for line, _ in USAGE_ERRORS])
def test_usage_errors_are_one_line_and_write_nothing(capsys, tmp_path, line, message):
    args = line.split() + (["--logdir", str(tmp_path)] if line.startswith(RUN[:3] + " s") else [])
    code, _, err = run_cli(capsys, *args)
    assert code in (1, 2)
    assert err.count("\n") == 1 and err.startswith("sandbox: error: "), err
    assert message in err
    assert not any(tmp_path.iterdir())  # no run directory, nothing half-written


def test_a_logdir_that_is_a_file_is_one_line(capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    code, _, err = run_cli(capsys, *RUN.split(), "--logdir", str(tmp_path / "afile"))
    assert code == 2 and err.count("\n") == 1
    assert f"cannot create run directories under logdir '{tmp_path / 'afile'}': Not a" in err


def test_nan_actions_mid_run_fail_in_one_line_naming_the_sample(capsys, tmp_path):
    line = [*RUN.split(), "--lr", "1e6", "--no-stop-on-nonfinite", "--steps", "2000"]
    code, _, err = run_cli(capsys, *line, "--logdir", str(tmp_path))
    assert code == 1 and err.count("\n") == 1, err
    assert "ActionError at sample" in err and "NaN/inf value(s)" in err


@pytest.mark.skipif(sandbox.resolve_device("auto").type == "cuda", reason="CUDA is present")
def test_cuda_on_a_machine_without_it_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "run", "sandbox/LinReg-v0", "gradient", "--device", "cuda")
    assert code == 2 and "torch sees no CUDA GPU here" in err and err.count("\n") == 1


def test_non_finite_loss_stops_the_run_naming_step_tag_and_checkpoint(capsys, tmp_path):
    code, _, err = run_cli(
        capsys,
        "run",
        "sandbox/LinReg-v0",
        "gradient",
        "--lr",
        "50",
        "--steps",
        "4000",
        "--checkpoint-every",
        "10",
        "--logdir",
        str(tmp_path),
        "--no-progress",
    )
    assert code == 1
    assert "nan" in err.lower() or "inf" in err.lower()
    assert "at sample" in err and "the last good checkpoint is" in err
    assert "--no-stop-on-nonfinite" in err


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_resume_finishes_the_run(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "sandbox",
        "run",
        "sandbox/LinReg-v0",
        "gradient",
        "--steps",
        "50000000",
        "--logdir",
        str(tmp_path),
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("default/*/events.out.tfevents.*")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    (run_dir,) = (tmp_path / "default").iterdir()
    assert f"resume with: sandbox run --resume {run_dir}" in err
    stopped_at = sandbox.load_checkpoint(run_dir)["samples"]
    assert 0 < stopped_at < 50_000_000
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "run",
            "--resume",
            str(run_dir),
            "--steps",
            str(stopped_at + 1000),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert resumed.returncode == 0, resumed.stderr
    assert sandbox.load_checkpoint(run_dir)["samples"] == stopped_at + 1000
    assert list((tmp_path / "default").iterdir()) == [run_dir]
