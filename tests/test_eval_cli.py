"""A trained agent back from its run directory: ``sandbox eval RUN_DIR`` and ``sandbox.load``."""

from __future__ import annotations

import pytest
import torch

import sandbox
from sandbox.apps.cli import main


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cartpole_runs(tmp_path_factory):
    """A finished PPO run on Gymnasium's CartPole (4 sub-envs) and on the torch-native one."""
    logdir = tmp_path_factory.mktemp("runs")
    runs = {}
    for env_id in ("CartPole-v1", "sandbox/CartPole-v1"):
        sandbox.seed_everything(0)
        env = sandbox.make(env_id, 4)
        result = sandbox.train(
            env, sandbox.make_agent("ppo", env), 2048, seed=0, logdir=logdir, progress=False,
            eval_every=2048, eval_episodes=4,  # one short evaluation, at the end
        )  # fmt: skip
        runs[env_id] = result
    return runs


@pytest.mark.parametrize("env_id", ["CartPole-v1", "sandbox/CartPole-v1"])
def test_eval_repeats_the_runs_final_score(capsys, cartpole_runs, env_id):
    result = cartpole_runs[env_id]
    code, out, _ = run_cli(capsys, "eval", result.run_dir)
    assert code == 0
    assert out.startswith(f"eval      score {result.metrics['eval/score']:.4g} (")


def test_eval_plays_on_another_number_of_sub_envs(capsys, cartpole_runs):
    run_dir = cartpole_runs["CartPole-v1"].run_dir  # trained on 4 sub-envs
    code, out, err = run_cli(capsys, "eval", run_dir, "--num-envs", 3, "--episodes", 6)
    assert code == 0, err
    score = float(out.split()[2])
    assert 8 <= score <= 500  # CartPole's returns: at least 8 steps, at most 500


def test_eval_scores_a_dataset_on_its_test_split(capsys, tmp_path):
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/LinReg-v0")
    result = sandbox.train(env, sandbox.make_agent("gradient", env), 1000, seed=0,
                           logdir=tmp_path, progress=False)  # fmt: skip
    code, out, _ = run_cli(capsys, "eval", result.run_dir, "--num-envs", 7)
    assert code == 0
    assert "r2 " in out
    assert float(out.split()[2]) == pytest.approx(result.metrics["eval/score"], rel=1e-3)


def test_load_gives_an_agent_that_acts_on_one_observation(cartpole_runs):
    run_dir = cartpole_runs["sandbox/CartPole-v1"].run_dir
    env, agent = sandbox.load(run_dir, num_envs=1)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1, 4)
    action = agent.act(obs, deterministic=True)
    assert action.shape == (1,) and action.dtype == torch.long
    _, many = sandbox.load(run_dir, num_envs=16)  # any batch: the same weights act alike
    batch = torch.cat([obs, torch.zeros(15, 4)])
    assert torch.equal(many.act(batch, deterministic=True)[:1], action)


def test_load_skips_what_only_learning_needs(cartpole_runs):
    # PPO's rollout is (num_steps, num_envs, ...): the loaded agent keeps its own
    _, agent = sandbox.load(cartpole_runs["sandbox/CartPole-v1"].run_dir, num_envs=2)
    assert agent.rollout["obs"].shape[1] == 2


def test_eval_bad_inputs_are_one_line_exit_2(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "foreign").mkdir()
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign" / "checkpoint.pt")
    cases = {
        "empty": "no checkpoint at",
        "corrupt": "is corrupt or not a torch checkpoint",
        "foreign": "is not a sandbox checkpoint",
    }
    for name, message in cases.items():
        code, out, err = run_cli(capsys, "eval", tmp_path / name)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and message in err, err
    code, _, err = run_cli(capsys, "eval")
    assert code == 2 and "expected `sandbox eval RUN_DIR" in err
