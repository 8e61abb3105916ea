"""The RL scripts run as commands with tiny budgets and exit 0 (STYLE §11)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPTS = [
    ("cartpole_ppo.py", ["--steps", "512", "--native"], "deterministic evaluation"),
    ("cartpole_dqn.py", ["--steps", "1200"], "deterministic evaluation"),
    ("pendulum_ppo.py", ["--steps", "2048", "--num-envs", "4"], "mean return before"),
    ("custom_env.py", ["--steps", "1024"], "mean return before training"),
]


@pytest.mark.parametrize(
    "script,args,expected", SCRIPTS, ids=[" ".join([s[0], *s[1]]) for s in SCRIPTS]
)
def test_rl_script_runs(script, args, expected, tmp_path):
    out = subprocess.run(
        [sys.executable, f"scripts/{script}", *args, "--logdir", str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert expected in out.stdout
    assert any(tmp_path.rglob("events.out.tfevents.*"))  # it logged to TensorBoard
