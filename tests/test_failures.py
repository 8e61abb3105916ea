"""Runs that go wrong lose nothing and say so in one line (issue 24): a hung env under
SIGTERM, a second writer, another run's checkpoint, kill -9, a full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import sandbox
from tests.conftest import read_scalars

SANDBOX = [sys.executable, "-m", "sandbox"]


def start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*SANDBOX, *args, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for(proc: subprocess.Popen, logdir: Path, name: str, timeout: float = 60) -> Path:
    """The first run's ``name`` under ``logdir``, once the run has written it."""
    deadline = time.monotonic() + timeout
    while not (found := sorted(logdir.glob(f"default/*/{name}"))):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return found[0]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # a zombie: dead
    except FileNotFoundError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_a_hung_env_under_sigterm_stops_within_the_deadline_with_a_checkpoint(tmp_path):
    hang = tmp_path / "hang-now"
    proc = start(
        "run", "tests.hanging_env:Hangs-v0", "ppo", "--num-envs", "2", "--num-steps", "8",
        "--env.vectorization", "async", "--steps", "100000000", "--checkpoint-every", "64",
        "--stop-deadline", "1", "--logdir", str(tmp_path), env={"SANDBOX_HANG": str(hang)},
    )  # fmt: skip
    checkpoint = wait_for(proc, tmp_path, "checkpoint.pt")
    workers = children(proc.pid)
    assert len(workers) >= 2  # the async vector env's worker processes
    hang.touch()  # every worker's next step sleeps for an hour
    time.sleep(1.0)
    saved = sandbox.load_checkpoint(checkpoint.parent)["samples"]
    start_stop = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - start_stop < 10  # the 1 s deadline, then the exit
    assert proc.returncode == 128 + signal.SIGTERM, err
    (line,) = [line for line in err.splitlines() if line.startswith("sandbox:")]
    assert "stopped by SIGTERM, but the step did not end within 1 s" in line, err
    assert f"the last good checkpoint is {checkpoint}" in line
    assert sandbox.load_checkpoint(checkpoint.parent)["samples"] >= saved
    time.sleep(0.5)
    assert all(gone(w) for w in workers), "the env's worker processes outlived the run"


@pytest.mark.slow
def test_a_second_writer_of_a_run_directory_is_refused_in_one_line(tmp_path):
    first = start("run", "sandbox/LinReg-v0", "gradient", "--steps", "100000000",
                  "--checkpoint-every", "1000", "--logdir", str(tmp_path))  # fmt: skip
    run_dir = wait_for(first, tmp_path, "checkpoint.pt").parent
    second = subprocess.run(
        [*SANDBOX, "run", "--resume", str(run_dir), "--no-progress"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    assert second.returncode == 2, second.stderr
    assert second.stderr.count("\n") == 1 and "is in use by another run" in second.stderr
    assert first.returncode == 128 + signal.SIGTERM  # the first writer was not disturbed


@pytest.mark.slow
def test_kill_9_after_a_periodic_checkpoint_loses_nothing_logged_before_it(tmp_path):
    proc = start("run", "sandbox/LinReg-v0", "gradient", "--steps", "100000000", "--log-every",
                 "100", "--checkpoint-every", "20000", "--logdir", str(tmp_path))  # fmt: skip
    run_dir = wait_for(proc, tmp_path, "checkpoint.pt").parent
    time.sleep(1.0)
    proc.kill()  # SIGKILL: no handler, no flush, no last checkpoint
    proc.communicate(timeout=30)
    saved = sandbox.load_checkpoint(run_dir)["samples"]
    resumed = subprocess.run(
        [*SANDBOX, "run", "--resume", str(run_dir), "--steps", str(saved + 2000), "--no-progress"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    steps = [s for s, _ in read_scalars(run_dir)["reward/mean"]]
    assert steps == list(range(100, saved + 2001, 100))  # every point, once, on one x-axis


def test_a_checkpoint_of_another_run_is_refused_in_one_line(tmp_path):
    env = sandbox.make("sandbox/LinReg-v0", num_envs=10)
    runs = [
        sandbox.train(env, sandbox.make_agent("gradient", env), 100, seed=s, logdir=tmp_path,
                      progress=False).run_dir
        for s in (0, 1)
    ]  # fmt: skip
    (runs[1] / "checkpoint.pt").write_bytes((runs[0] / "checkpoint.pt").read_bytes())
    out = subprocess.run([*SANDBOX, "run", "--resume", str(runs[1]), "--steps", "200"],
                         capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"belongs to the run {runs[0].name!r}, not to {runs[1].name!r}" in out.stderr


def test_a_checkpoint_missing_what_it_needs_is_refused_in_one_line(tmp_path):
    env = sandbox.make("sandbox/LinReg-v0", num_envs=10)
    run_dir = sandbox.train(env, sandbox.make_agent("gradient", env), 100, logdir=tmp_path,
                            progress=False).run_dir  # fmt: skip
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    del state["rng"]
    torch.save(state, run_dir / "checkpoint.pt")
    out = subprocess.run([*SANDBOX, "run", "--resume", str(run_dir)], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "is incomplete: it lacks rng" in out.stderr


def test_a_stale_temp_file_of_a_killed_write_is_removed_at_the_next_start(tmp_path):
    env = sandbox.make("sandbox/LinReg-v0", num_envs=10)
    run_dir = sandbox.train(env, sandbox.make_agent("gradient", env), 100, logdir=tmp_path,
                            progress=False).run_dir  # fmt: skip
    stale = run_dir / ".checkpoint.pt.tmp-99999"
    stale.write_bytes(b"half a checkpoint")
    sandbox.train(env, sandbox.make_agent("gradient", env), 200, resume=run_dir, progress=False)
    assert not stale.exists()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs (needs the right to mount: root, as in CI's container)."""
    mount = tmp_path / "full"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_is_one_line_and_keeps_the_previous_one(small_tmpfs):
    proc = start("run", "sandbox/Digits-v0", "gradient", "--steps", "100000000",
                 "--checkpoint-every", "20000", "--logdir", str(small_tmpfs))  # fmt: skip
    checkpoint = wait_for(proc, small_tmpfs, "checkpoint.pt")
    time.sleep(0.5)  # the first checkpoint is whole (it is renamed into place when it is)
    with open(small_tmpfs / "filler", "wb") as f, pytest.raises(OSError):
        while True:  # fill the disk
            f.write(b"\0" * 65536)
            f.flush()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    (line,) = [text for text in err.splitlines() if text.strip()]
    assert line.startswith(f"sandbox: error: cannot write checkpoint {checkpoint}: "), line
    assert "no space left on device" in line.lower() and "bytes free there" in line
    assert line.endswith("the previous checkpoint is kept")
    (small_tmpfs / "filler").unlink()
    assert sandbox.load_checkpoint(checkpoint.parent)["samples"] > 0  # still loads
    assert not list(checkpoint.parent.glob(".checkpoint.pt.tmp-*"))


def test_a_second_ctrl_c_during_the_final_checkpoint_says_what_was_kept(tmp_path, monkeypatch):
    class StopAt(sandbox.Callback):  # the first Ctrl-C, as StopOnSignal records it
        def on_step(self, run, metrics, info):
            if run.samples == 500:
                run.stop("signal", signal.SIGINT)

    def interrupted_save(obj, f):  # the second Ctrl-C lands in the final checkpoint's write
        raise KeyboardInterrupt

    env = sandbox.make("sandbox/LinReg-v0", num_envs=10)
    agent = sandbox.make_agent("gradient", env)
    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(sandbox.RunInterrupted) as caught:
        sandbox.train(env, agent, 1000, logdir=tmp_path, progress=False, callbacks=[StopAt()])
    message = str(caught.value)
    assert caught.value.signum == signal.SIGINT and "\n" not in message
    assert message.startswith("interrupted again at sample 500; stopped, and no checkpoint")
