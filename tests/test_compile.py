"""--compile (issue 23): torch.compile on the gradient learner's step (so on both GAN
players), on PPO's minibatch loss and clip-and-step, and on DQN's TD loss and clip-and-step.

Compiled and eager learn the same to float32 rounding (inductor fuses and reorders
arithmetic, and the compiled Adam computes its bias corrections in float32 where eager uses
Python floats: about 1e-8 apart per step, which training's feedback grows, so the checks here
stop after a few updates: losses agree to rel 1e-4, parameters to 1e-4); once the first steps
have compiled, later steps compile nothing (torch.compiler's fail_on_recompile stance would
raise; for PPO and DQN, dynamo's graph count stays put while lr and clip anneal); the first
step's (PPO: update's, DQN: training phase's) cost is reported once; a compile failure runs
eagerly after one warning line. Compiling takes seconds on a CPU: those tests are slow.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch._dynamo.utils import counters  # tests only: how many graphs dynamo compiled

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


RL = {  # agent: (config of a short run with updates early and often, its update period)
    "ppo": (dict(num_steps=16, num_epochs=4, num_minibatches=2, anneal=True), 16 * 8),
    # a target sync between phases: the compiled TD loss reads the target net's new weights
    "dqn": (
        dict(learning_starts=64, train_freq=64, gradient_steps=8, target_update_interval=64),
        64,
    ),
}


def rl_run(name: str, compile: bool, num_updates: int):
    """PPO or DQN on the torch-native CartPole for num_updates updates: the agent, its
    metrics at each update, and dynamo's graph count after each."""
    config, period = RL[name]
    env = sandbox.make("sandbox/CartPole-v1", num_envs=8)
    sandbox.seed_everything(0)
    agent = sandbox.make_agent(name, env, compile=compile, **config)
    updates, graphs = [], []

    class Record(sandbox.Callback):
        def on_step(self, run, metrics, info):
            if "train/loss" in metrics:
                updates.append({k: float(v.float().mean()) for k, v in metrics.items()})
                graphs.append(counters["stats"]["unique_graphs"])

    # PPO anneals lr and clip over this budget: each update's values differ (1 -> 1/4)
    sandbox.train(env, agent, num_updates * period, seed=0, logdir=None, callbacks=[Record()])
    assert len(updates) == num_updates
    return agent, updates, graphs


def rl_params(agent):
    return list((agent.net if hasattr(agent, "net") else agent.q).parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ppo", "dqn"])
def test_compiled_rl_agent_learns_as_eager_and_compiles_once(name):
    torch._dynamo.reset()
    eager, eager_updates, _ = rl_run(name, False, 4)
    compiled, updates, graphs = rl_run(name, True, 4)
    for p, q in zip(rl_params(eager), rl_params(compiled), strict=True):
        torch.testing.assert_close(q, p, rtol=0, atol=PARAM_ATOL)
    losses = [u["train/loss"] for u in updates]
    assert losses == pytest.approx([u["train/loss"] for u in eager_updates], rel=LOSS_RTOL)
    if name == "ppo":  # annealed: four different lr and clip ranges, compiled as tensors
        lrs = [u["train/learning_rate"] for u in updates]
        assert lrs == pytest.approx([u["train/learning_rate"] for u in eager_updates])
        assert len(set(lrs)) == 4
    # compiled in the first update; the next three (new lr, clip, target weights) add nothing
    assert graphs[0] > 0 and graphs[1:] == [graphs[0]] * 3, graphs
    assert ["time/compile_s" in u for u in updates] == [True, False, False, False]
    assert compiled.compile_seconds > 0


@pytest.mark.parametrize("name", ["ppo", "dqn"])
def test_a_failing_rl_compile_runs_eagerly_after_one_warning_line(monkeypatch, name):
    def broken_compile(fn, *args, **kwargs):
        def fails(*a, **k):
            raise RuntimeError("no C++ compiler found\nlong backend trace ...")

        return fails

    monkeypatch.setattr(torch, "compile", broken_compile)
    eager, eager_updates, _ = rl_run(name, False, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fallback, updates, _ = rl_run(name, True, 2)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "\n" not in messages[0], messages
    assert f"torch.compile of agent '{name}'" in messages[0] and "running it eagerly" in messages[0]
    # eager from the first step, with the plain Adam loop a compiled agent steps with (not
    # the fused kernel): the same to float32 rounding
    for p, q in zip(rl_params(eager), rl_params(fallback), strict=True):
        torch.testing.assert_close(q, p, rtol=0, atol=1e-6)
