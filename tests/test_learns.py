"""The first paradigm learns: linear regression recovers d2l's w and b."""

from __future__ import annotations

import subprocess
import sys

import torch

import sandbox

TRUE_W, TRUE_B = torch.tensor([2.0, -3.4]), 4.2


def test_cli_linear_regression_recovers_w_and_b(tmp_path):
    """The issue's command, as a user types it: w and b within 0.05 of the truth."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "run",
            "sandbox/LinReg-v0",
            "gradient",
            "--steps",
            "2000",
            "--seed",
            "0",
            "--logdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "samples   2,000" in out and "samples/s" in out and "eval      score" in out
    (run_dir,) = (tmp_path / "default").iterdir()
    assert str(run_dir) in out
    net = sandbox.load_checkpoint(run_dir)["agent"]["net"]
    w, b = net["1.weight"].flatten(), float(net["1.bias"])
    assert torch.allclose(w, TRUE_W, atol=0.05), w
    assert abs(b - TRUE_B) < 0.05, b


def test_python_api_in_a_few_lines(tmp_path):
    env = sandbox.make("sandbox/LinReg-v0", num_envs=32, device="cpu")
    agent = sandbox.make_agent("gradient", env, lr=0.03)
    result = sandbox.train(env, agent, steps=2000, logdir=tmp_path, seed=0, progress=False)
    assert result.samples >= 2000 and result.metrics["eval/r2"] > 0.99
    assert result.run_dir.parent == tmp_path / "default"
