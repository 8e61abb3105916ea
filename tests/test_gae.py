"""Known answers: GAE, the PPO loss, the TD target and REINFORCE returns."""

from __future__ import annotations

import math

import pytest
import torch

from agents.dqn import td_target
from agents.ppo import compute_gae, ppo_loss, ratio_stats
from agents.reinforce import discounted_returns

T, F = True, False


def test_gae_by_hand_with_a_termination_and_a_truncation():
    # One sub-env, 3 steps, gamma 0.5, lambda 0.5 (so gamma * lambda = 0.25).
    # step 0: r=1, V(s)=1, V(s')=2, continues        -> delta0 = 1 + 0.5*2 - 1 = 1
    # step 1: r=2, V(s)=2, V(s')=4, truncated (done)  -> delta1 = 2 + 0.5*4 - 2 = 2, no carry
    # step 2: r=1, V(s)=3, V(s')=9, terminated        -> delta2 = 1 + 0       - 3 = -2
    reward = torch.tensor([[1.0], [2.0], [1.0]])
    value = torch.tensor([[1.0], [2.0], [3.0]])
    next_value = torch.tensor([[2.0], [4.0], [9.0]])
    terminated = torch.tensor([[F], [F], [T]])
    done = torch.tensor([[F], [T], [T]])
    adv = compute_gae(reward, value, next_value, terminated, done, gamma=0.5, gae_lambda=0.5)
    # A2 = -2; A1 = 2 (the truncation cuts the carry); A0 = 1 + 0.25 * 2 = 1.5
    assert torch.allclose(adv, torch.tensor([[1.5], [2.0], [-2.0]]))


def test_gae_with_lambda_one_is_the_discounted_return_minus_value():
    reward = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])  # two sub-envs
    value = torch.zeros(3, 2)
    next_value = torch.tensor([[0.0, 0.0], [0.0, 0.0], [10.0, 10.0]])
    nothing = torch.zeros(3, 2, dtype=torch.bool)
    adv = compute_gae(reward, value, next_value, nothing, nothing, gamma=0.9, gae_lambda=1.0)
    # sub-env 0: 1 + .9 + .81 + .729*10 ; sub-env 1: 0 + .9 + .81*2 + .729*10
    assert torch.allclose(adv[0], torch.tensor([1 + 0.9 + 0.81 + 7.29, 0.9 + 1.62 + 7.29]))


def test_ppo_loss_by_hand():
    # ratios e^{0.5} = 1.6487 (A=+1, clipped to 1.2) and e^{-0.5} = 0.6065 (A=-1, clipped to 0.8)
    logprob = torch.tensor([0.5, -0.5])
    old = torch.zeros(2)
    adv = torch.tensor([1.0, -1.0])
    value, old_value, returns = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]), torch.ones(2)
    pg, v = ppo_loss(logprob, old, adv, value, old_value, returns, clip_coef=0.2)
    kl, clip = ratio_stats(logprob, old, clip_coef=0.2)
    # min(1.6487*1, 1.2*1) = 1.2 ; min(0.6065*-1, 0.8*-1) = -0.8 ; -(1.2 - 0.8)/2 = -0.2
    assert pg.item() == pytest.approx(-0.2)
    assert v.item() == pytest.approx((0 + 4) / 2)  # (1-1)^2, (3-1)^2
    expected_kl = ((math.exp(0.5) - 1 - 0.5) + (math.exp(-0.5) - 1 + 0.5)) / 2
    assert kl.item() == pytest.approx(expected_kl)
    assert clip.item() == 1.0  # both ratios outside [0.8, 1.2]
    # value clipping (old 0, clip 0.2): max((1-1)^2, (0.2-1)^2) = .64; max((3-1)^2, (.2-1)^2) = 4
    _, v_clipped = ppo_loss(logprob, old, adv, value, old_value, returns, 0.2, True)
    assert v_clipped.item() == pytest.approx((0.64 + 4) / 2)


def test_ppo_loss_gradient_is_zero_where_the_ratio_is_clipped():
    logprob = torch.tensor([0.5, 0.0], requires_grad=True)
    pg, *_ = ppo_loss(
        logprob,
        torch.zeros(2),
        torch.ones(2),
        torch.zeros(2),
        torch.zeros(2),
        torch.zeros(2),
        clip_coef=0.2,
    )
    pg.backward()
    assert logprob.grad[0] == 0  # clipped: no push beyond the trust region
    assert logprob.grad[1] == pytest.approx(-0.5)  # d/dl -(e^l * 1)/2 at l=0


def test_td_target_bootstraps_through_truncation_not_termination():
    reward, next_q = torch.tensor([1.0, 1.0]), torch.tensor([10.0, 10.0])
    target = td_target(reward, next_q, torch.tensor([T, F]), gamma=0.9)
    assert torch.allclose(target, torch.tensor([1.0, 10.0]))


def test_discounted_returns_by_hand():
    # steps: r = 1, 1, 1; the episode terminates at step 1; the rollout ends at step 2 with V=5
    reward = torch.ones(3, 1)
    done = torch.tensor([[F], [T], [T]])
    bootstrap = torch.tensor([[0.0], [0.0], [5.0]])
    returns = discounted_returns(reward, done, bootstrap, gamma=0.5)
    assert torch.allclose(returns, torch.tensor([[1.5], [1.0], [3.5]]))
