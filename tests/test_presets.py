"""Presets: `sandbox run ENV AGENT` starts from sandbox/presets/AGENT.toml; flags override."""

from __future__ import annotations

import dataclasses

import pytest

import sandbox
from sandbox import presets, registry, seats
from tests.conftest import read_scalars, sandbox_cli


def saved_config(tmp_path):
    (run_dir,) = (tmp_path / "runs" / "default").iterdir()
    return sandbox.load_checkpoint(run_dir)["config"]


def test_run_starts_from_the_preset_and_flags_override_single_values(tmp_path):
    cli = sandbox_cli(tmp_path, "run", "CartPole-v1", "ppo", "--steps", "512", "--lr", "5e-4")
    assert cli.returncode == 0, cli.stderr
    config = saved_config(tmp_path)
    assert config["num_envs"] == 8  # the preset's, not the adapter's default
    assert config["agent_config"]["num_steps"] == 32 and config["agent_config"]["gamma"] == 0.98
    assert config["agent_config"]["lr"] == 5e-4  # the flag wins for its one value
    assert config["run"]["steps"] == 512


def test_preset_none_gives_the_bare_defaults(tmp_path):
    cli = sandbox_cli(tmp_path, "run", "CartPole-v1", "ppo", "--steps", "512", "--preset", "none")
    assert cli.returncode == 0, cli.stderr
    config = saved_config(tmp_path)
    bare = dataclasses.asdict(registry.agent_class("ppo").Config())
    assert config["agent_config"] == bare  # num_steps 128, gamma 0.99: PPOConfig's own
    assert config["num_envs"] == 8 and bare["num_steps"] == 128


def test_list_and_help_show_the_presets(tmp_path):
    lines = sandbox_cli(tmp_path, "list").stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("presets"))
    line = next(ln for ln in lines[start:] if ln.split()[:1] == ["Acrobot-v1"])
    assert "dqn" in line and "ppo" in line
    helped = sandbox_cli(tmp_path, "run", "Acrobot-v1", "dqn", "--help").stdout
    assert "RL Zoo hyperparams/dqn.yml Acrobot-v1" in helped
    assert "(default: 0.00063)" in helped  # the preset's lr is the flag's default
    bad = sandbox_cli(tmp_path, "run", "CartPole-v1", "ppo", "--preset", "zoo")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "auto or none" in bad.stderr


def test_every_preset_builds_its_agent_and_env_options():
    for p in presets.everything():
        assert p.source and p.bar.split()[1] in (">=", "<="), p
        names = seats.players(p.env_id, p.agent_name) or {"agent": p.agent_name}
        for player, name in names.items():
            options = p.agent if player == "agent" else p.players.get(player, {})
            registry.agent_class(name).Config(**options)  # a typo'd field raises here
        env_config = registry.env_config_class(p.env_id)
        if env_config is not None:
            env_config(**p.env)


def test_presets_cover_every_registered_env_and_classic_control():
    covered = {p.env_id for p in presets.everything()}
    assert set(registry.ENVS) <= covered
    for env_id in ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "FrozenLake-v1", "Taxi-v4"):
        assert {"dqn", "ppo"} <= set(presets.agents_with_preset(env_id)), env_id
    for env_id in ("MountainCarContinuous-v0", "Pendulum-v1"):
        assert "ppo" in presets.agents_with_preset(env_id)


@pytest.mark.parametrize(
    "env_id, agent", [("sandbox/LinReg-v0", "gradient"), ("sandbox/Blobs-v0", "kmeans")]
)
def test_cheap_presets_reach_their_bar(tmp_path, env_id, agent):
    cli = sandbox_cli(tmp_path, "run", env_id, agent, "--seed", "0", "--device", "cpu")
    assert cli.returncode == 0, cli.stderr
    preset = presets.find(env_id, agent)
    metric = preset.bar.split()[0]
    (run_dir,) = (tmp_path / "runs" / "default").iterdir()
    final = read_scalars(run_dir)[f"eval/{metric}"][-1]
    assert final[0] >= preset.steps
    assert preset.meets_bar({f"eval/{metric}": final[1]}), (preset.bar, final)
