"""User callbacks: stop a run at a score, log one's own scalar; both read back from TensorBoard."""

import pytest
import torch

import sandbox
from agents.ppo import CARTPOLE_ZOO
from tests.conftest import read_scalars


def test_stop_at_score_ends_a_cartpole_ppo_run_once_an_evaluation_reaches_it(tmp_path):
    env = sandbox.make("sandbox/CartPole-v1", num_envs=8)
    torch.manual_seed(0)
    agent = sandbox.make_agent("ppo", env, **CARTPOLE_ZOO)
    budget = 200_000
    result = sandbox.train(
        env,
        agent,
        budget,
        seed=0,
        logdir=tmp_path,
        eval_every=2048,
        eval_episodes=5,
        progress=False,
        callbacks=[sandbox.StopAtScore(100)],
    )
    assert result.samples < budget and result.stop_reason.startswith("eval/score")
    scores = read_scalars(result.run_dir)["eval/score"]
    assert scores[-1][1] >= 100 > max(v for _, v in scores[:-1])  # stopped at the first
    assert scores[-1][0] == result.samples
    # the stopped run's checkpoint is where it stopped, and resumes from there
    assert sandbox.load_checkpoint(result.run_dir)["samples"] == result.samples


class LogParameterNorm(sandbox.Callback):
    """A user's scalar: the norm of the agent's weights at every log."""

    def on_log(self, run, values):
        if "reward/mean" in values:  # the training means, not an evaluation
            norm = sum(p.detach().square().sum() for p in run.agent.net.parameters()) ** 0.5
            run.add_scalars({"custom/weight_norm": float(norm)})


def test_a_user_callback_logs_its_own_scalar_at_each_log(tmp_path):
    env = sandbox.make("sandbox/LinReg-v0", num_envs=10)
    agent = sandbox.make_agent("gradient", env)
    result = sandbox.train(
        env,
        agent,
        1000,
        seed=0,
        logdir=tmp_path,
        log_every=200,
        progress=False,
        callbacks=[LogParameterNorm()],
    )
    points = read_scalars(result.run_dir)["custom/weight_norm"]
    assert [s for s, _ in points] == [200, 400, 600, 800, 1000]
    final = sum(p.detach().square().sum() for p in agent.net.parameters()) ** 0.5
    assert points[-1][1] == pytest.approx(float(final), rel=1e-6)
    assert points[0][1] != points[-1][1]  # the weights moved: it is read live, not once


def test_a_callback_that_raises_fails_the_run_in_one_line_after_a_checkpoint(tmp_path):
    class Broken(sandbox.Callback):
        def on_step(self, run, metrics, info):
            if run.samples == 500:
                raise ValueError("my callback broke")

    env = sandbox.make("sandbox/LinReg-v0", num_envs=10)
    with pytest.raises(sandbox.RunFailed) as caught:
        sandbox.train(
            env,
            sandbox.make_agent("gradient", env),
            1000,
            logdir=tmp_path,
            progress=False,
            callbacks=[Broken()],
        )
    message = str(caught.value)
    assert "\n" not in message and "my callback broke" in message and "sample 500" in message
