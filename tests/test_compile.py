"""--compile (issue 23): torch.compile on the gradient learner's step, so on both GAN players.

Compiled and eager learn the same to float32 rounding (inductor fuses and reorders
arithmetic: losses agree to rel 1e-4, parameters to 1e-4 after the steps here); once the
first steps have compiled, later steps compile nothing (torch.compiler's fail_on_recompile
stance would raise); the first step's cost is reported once; a compile failure runs eagerly
after one warning line. Compiling takes seconds on a CPU: those tests are slow.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import sandbox
from agents.gan import GANPlayerConfig, make_players
from agents.gradient import GradientAgent, GradientConfig

LOSS_RTOL, PARAM_ATOL = 1e-4, 1e-4


def digits_steps(compile: bool, num_steps: int, stance_after: int | None = None):
    """The gradient learner (an MLP) on Digits for num_steps: its losses and metrics."""
    env = sandbox.make("sandbox/Digits-v0", num_envs=64)
    sandbox.seed_everything(0)
    agent = GradientAgent(env, GradientConfig(model="mlp", num_hiddens=32, compile=compile))
    obs, _ = env.reset(seed=0)
    losses, firsts = [], []
    for step in range(num_steps):
        if step == stance_after:  # from here on, any recompile raises
            torch.compiler.set_stance("fail_on_recompile")
        action = agent.act(obs)
        next_obs, reward, term, trunc, info = env.step(action)
        metrics = agent.learn(sandbox.Transition(obs, action, reward, next_obs, term, trunc, info))
        losses.append(float(metrics["train/loss"].mean()))
        firsts.append("time/compile_s" in metrics)
        obs = next_obs
    return agent, losses, firsts


@pytest.fixture
def default_stance():
    yield
    torch.compiler.set_stance("default")


@pytest.mark.slow
def test_compiled_gradient_learner_learns_as_eager_and_compiles_once(default_stance):
    torch._dynamo.reset()
    eager, eager_losses, _ = digits_steps(False, 12)
    compiled, losses, firsts = digits_steps(True, 12, stance_after=3)
    assert losses == pytest.approx(eager_losses, rel=LOSS_RTOL)
    for p, q in zip(eager.net.parameters(), compiled.net.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=0, atol=PARAM_ATOL)
    # The first step's cost, compile included, reported once and only once.
    assert firsts == [True] + [False] * 11 and compiled.compile_seconds > 0


@pytest.mark.slow
def test_compiled_gan_round_matches_eager_and_compiles_once(default_stance):
    torch._dynamo.reset()

    class FailOnRecompileAfter(sandbox.Callback):
        def on_step(self, run, metrics, info):
            if run.samples >= 3 * run.batch:
                torch.compiler.set_stance("fail_on_recompile")

    def players(compile):
        game = sandbox.make("sandbox/RingGAN-v0", 32)
        sandbox.seed_everything(0)
        cfg = GANPlayerConfig(num_hiddens=32, compile=compile)
        agents = make_players(game, generator=cfg, discriminator=cfg)
        callbacks = [FailOnRecompileAfter()] if compile else []
        sandbox.train(game, agents, 32 * 10, seed=0, logdir=None, callbacks=callbacks)
        return agents

    eager, compiled = players(False), players(True)
    for name in ("generator", "discriminator"):
        pairs = zip(eager[name].net.parameters(), compiled[name].net.parameters(), strict=True)
        for p, q in pairs:
            torch.testing.assert_close(q, p, rtol=0, atol=PARAM_ATOL)
        assert compiled[name].compile_seconds > 0


def test_a_compile_failure_runs_eagerly_after_one_warning_line(monkeypatch):
    def broken_compile(fn, *args, **kwargs):
        def fails(*a, **k):
            raise RuntimeError("no C++ compiler found\nlong backend trace ...")

        return fails

    monkeypatch.setattr(torch, "compile", broken_compile)
    eager, eager_losses, _ = digits_steps(False, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fallback, losses, _ = digits_steps(True, 3)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "\n" not in messages[0], messages
    assert "torch.compile of agent 'gradient'" in messages[0] and "no C++ compiler" in messages[0]
    assert "running it eagerly" in messages[0]
    assert losses == eager_losses  # eager from the first step: bit-identical
