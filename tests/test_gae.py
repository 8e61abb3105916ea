"""Known answers: GAE, the PPO loss, the TD target, REINFORCE returns and gradient clipping."""

from __future__ import annotations

import math

import pytest
import torch

from agents.dqn import td_target
from agents.grads import adam_step, clip_grad_norm_, zero_grad
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


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torchs(max_norm):
    """The agents' clip (agents/grads.py) scales gradients exactly as torch's does."""
    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(s)) for s in [(64, 4), (64,), (2, 64)]]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    for a, b in zip(ours, theirs, strict=True):
        a.grad = torch.randn_like(a)
        b.grad = a.grad.clone()
    ours[1].grad = None  # a parameter without a gradient is skipped, as torch skips it
    theirs[1].grad = None
    norm = clip_grad_norm_(ours, max_norm)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert torch.allclose(norm, expected)
    for a, b in zip(ours, theirs, strict=True):
        assert (a.grad is None and b.grad is None) or torch.allclose(a.grad, b.grad)
    zero_grad(ours)
    assert all(p.grad is None for p in ours)


def test_adam_step_is_torchs_fused_adam_step():
    """agents/grads.adam_step moves parameters and keeps state as Adam.step() does, through
    a learning-rate change and a state_dict round trip, skipping a parameter without grad."""
    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(s)) for s in [(64, 4), (64,), (2, 64)]]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    make = lambda ps: torch.optim.Adam(ps, lr=1e-2, eps=1e-5, weight_decay=0.1, fused=True)  # noqa: E731
    opt_ours, opt_theirs = make(ours), make(theirs)
    for i in range(6):
        grads = [torch.randn_like(p) for p in ours]
        for a, b, g in zip(ours, theirs, grads, strict=True):
            a.grad, b.grad = g.clone(), g.clone()
        if i == 2:  # a parameter without a gradient stays, and its step count too
            ours[1].grad = theirs[1].grad = None
        if i == 3:
            for opt in (opt_ours, opt_theirs):
                opt.param_groups[0]["lr"] = 3e-3
        if i == 4:  # a resumed optimizer: new state tensors
            state = opt_ours.state_dict()
            opt_ours = make(ours)
            opt_ours.load_state_dict(state)
        adam_step(opt_ours)
        opt_theirs.step()
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)  # the same kernel on the same state: bit for bit
    for key in ("step", "exp_avg", "exp_avg_sq"):
        for a, b in zip(ours, theirs, strict=True):
            assert torch.equal(opt_ours.state[a][key], opt_theirs.state[b][key])
