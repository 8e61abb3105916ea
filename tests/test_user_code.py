"""A user's own agent class and batched torch env, run from a directory outside the repo by
the installed ``sandbox`` console script, as README's "Write an agent" and "Write a batched
torch env" say; Gymnasium make-kwargs from the command line."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch

import sandbox
from sandbox import registry
from sandbox.apps import cli
from tests.conftest import sandbox_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def user_dir(tmp_path):
    """A directory outside the repo holding the README's two example files."""
    for name in ("custom_agent.py", "custom_torch_env.py"):
        shutil.copy(REPO / "scripts" / name, tmp_path / name)
    return tmp_path


@pytest.mark.slow
def test_a_user_agent_class_trains_and_resumes_from_the_command_line(user_dir):
    """`sandbox run CartPole-v1 custom_agent:EvolutionStrategies`: its Config became flags,
    it learns (a linear policy well above a random one's ~22), and --resume rebuilds it."""
    agent = "custom_agent:EvolutionStrategies"
    out = sandbox_cli(
        user_dir, "run", "CartPole-v1", agent, "--steps", "40000", "--seed", "0",
        "--sigma", "0.5", "--no-progress",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    score = float(out.stdout.split("eval      score ")[1].split()[0])
    assert score > 150, out.stdout
    (run_dir,) = (user_dir / "runs" / "default").iterdir()
    out = sandbox_cli(
        user_dir, "run", "--resume", str(run_dir), "--steps", "48000", "--no-progress"
    )
    assert out.returncode == 0, out.stderr
    assert "samples   48,000" in out.stdout


@pytest.mark.slow
def test_a_user_torch_env_is_named_module_colon_id_for_check_and_run(user_dir):
    """A batched torch env that its module registers with `sandbox.register_env`."""
    env_id = "custom_torch_env:user/LineWalk-v0"
    out = sandbox_cli(user_dir, "check", env_id)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "5 passed, 0 failed" in out.stdout
    out = sandbox_cli(
        user_dir, "run", env_id, "ppo", "--steps", "12000", "--env.size", "6", "--no-progress"
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split("eval      score ")[1].split()[0]) > 0.5  # reaches the goal


def test_bad_user_code_is_one_line(user_dir, monkeypatch, capsys):
    """In-process, as the console script runs them from ``user_dir`` (on ``sys.path``)."""
    monkeypatch.chdir(user_dir)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(user_dir))])
    cases = {
        ("run", "CartPole-v1", "custom_agent:Nope"): "has no attribute 'Nope'",
        ("run", "CartPole-v1", "custom_agent:ESConfig"): "is not an agent class",
        ("run", "CartPole-v1", "custom_agent:EvolutionStrategies", "--sigmaa", "1"): "--sigma?",
        ("check", "nomod:user/LineWalk-v0"): "cannot import module 'nomod'",
        ("run", "FrozenLake-v1", "ppo", "--env.is-slippery", "False"): "--name or --no-name",
    }
    for args, expected in cases.items():
        assert cli.main(list(args)) == 2, args
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err


def test_gymnasium_make_kwargs_are_env_flags():
    """FrozenLake's `is_slippery` and `map_name` become `--env.*` options with the id's
    registered defaults; an unknown one is refused with the closest name."""
    config = registry.env_config_class("FrozenLake8x8-v1")()
    assert (config.map_name, config.is_slippery) == ("8x8", True)
    env = sandbox.make("FrozenLake-v1", num_envs=2, is_slippery=False)
    env.reset(seed=0)
    for _ in range(2):  # not slippery: right, right from the start is safe ground
        _, _, terminated, _, _ = env.step(torch.tensor([2, 2]))
        assert not terminated.any()
    env.step(torch.tensor([1, 1]))  # down from (0, 2) is safe; then right to (1, 3), a hole
    _, _, terminated, _, _ = env.step(torch.tensor([2, 2]))
    assert terminated.all()
    with pytest.raises(sandbox.UsageError, match="did you mean is_slippery"):
        sandbox.make("FrozenLake-v1", num_envs=2, is_slipery=False)


def test_gymnasium_make_kwargs_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "FrozenLake-v1", "ppo", "--help"])
    out = capsys.readouterr().out
    assert "--env.is-slippery" in out and "--env.map-name" in out
