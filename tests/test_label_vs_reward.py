"""What a label is worth over a reward: the label learner and the signature comparison."""

from __future__ import annotations

import pytest
import torch

import sandbox
from agents.label import label_loss
from envs.supervised import (
    binary_cross_entropy_reward,
    cross_entropy_reward,
    squared_error_reward,
)


@pytest.mark.parametrize(
    "y_hat,y,reward",
    [
        (torch.randn(6, 10), torch.randint(0, 10, (6,)), cross_entropy_reward),
        (torch.randn(6), torch.randint(0, 2, (6,)), binary_cross_entropy_reward),
        (torch.randn(6, 2), torch.randn(6, 2), squared_error_reward),
    ],
)
def test_the_label_loss_is_minus_the_gradient_envs_mean_reward(y_hat, y, reward):
    assert torch.allclose(label_loss(y_hat, y), -reward(y_hat, y).mean())


def test_a_revealed_label_gives_the_same_update_as_the_losss_gradient():
    """One step of each learner from the same weights on the same batch: the same weights."""
    nets = {}
    for feedback, agent_name in (("gradient", "gradient"), ("label", "label")):
        sandbox.seed_everything(0)
        env = sandbox.make("sandbox/Digits-v0", num_envs=32, feedback=feedback)
        agent = sandbox.make_agent(agent_name, env, model="mlp", optimizer="sgd", lr=0.1)
        obs, _ = env.reset(seed=0)
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.learn(sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info))
        nets[feedback] = agent.net
    for p, q in zip(nets["gradient"].parameters(), nets["label"].parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_the_label_learner_refuses_an_env_that_reveals_no_label():
    env = sandbox.make("sandbox/Digits-v0", feedback="gradient")
    with pytest.raises(
        sandbox.UsageError, match="feedback is 'gradient'; use --env.feedback label"
    ):
        sandbox.make_agent("label", env)


def test_label_vs_reward_the_gradient_needs_fewer_samples_than_the_bandit(tmp_path, capsys):
    from scripts.label_vs_reward import main

    figures = main(["--steps", "6000", "--eval-every", "500", "--logdir", str(tmp_path)])
    gradient, label, bandit = (
        figures[k]["samples_to_threshold"] for k in ("gradient", "label", "bandit")
    )
    assert gradient < bandit  # a 0/1 reward costs more samples than the label's gradient
    assert label == gradient  # the revealed label gives the same update (and curve)
    out = capsys.readouterr().out
    assert "| bandit | ppo |" in out and "samples to 90% test accuracy" in out
    assert len(list((tmp_path / "label_vs_reward").iterdir())) == 3  # one chart, three runs
