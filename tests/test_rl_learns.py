"""The RL agents learn (CartPole, a bandit), repeat under a seed, resume exactly, refuse bad spaces.

Budgets are in samples, seeds fixed; each learning run stops as soon as its bar is met, so
the test costs what learning costs. Hyperparameters: RL Zoo's CartPole PPO.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

import sandbox
from agents.ppo import CARTPOLE_ZOO
from sandbox.run import Run, RunConfig

PPO_ZOO = dict(CARTPOLE_ZOO, anneal=True)
DQN_FAST = dict(num_hiddens=64, gradient_steps=64, double_dqn=True)


def play(env, agent, budget, seed, stop=None):
    """The loop's act → step → learn, after its ``agent.on_start(run)`` (which tells PPO the
    budget to anneal over); returns the returns of finished episodes, in order."""
    if hasattr(agent, "on_start"):
        agent.on_start(Run(RunConfig(steps=budget), env, agent, None, env.num_envs))
    returns: list[float] = []
    obs, _ = env.reset(seed=seed)
    samples = 0
    while samples < budget:
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.learn(sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info))
        if "episode" in info:
            returns += info["episode"]["r"][info["_episode"]].tolist()
        obs, samples = next_obs, samples + env.num_envs
        if stop is not None and stop(returns):
            break
    return returns, samples


def last20(returns):
    return sum(returns[-20:]) / 20 if len(returns) >= 20 else 0.0


def build(env_id, agent_id, seed, num_envs=8, **config):
    sandbox.seed_everything(seed)
    env = sandbox.make(env_id, num_envs=num_envs)
    return env, sandbox.make_agent(agent_id, env, **config)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["CartPole-v1", "sandbox/CartPole-v1"])
def test_ppo_solves_cartpole_within_100k_steps(env_id):
    torch.set_num_threads(1)
    env, agent = build(env_id, "ppo", seed=0, **PPO_ZOO)
    returns, samples = play(env, agent, 100_000, seed=0, stop=lambda r: last20(r) >= 475)
    assert last20(returns) >= 475, (samples, returns[-20:])


@pytest.mark.slow
def test_dqn_reaches_200_within_50k_steps():
    torch.set_num_threads(1)
    env, agent = build("CartPole-v1", "dqn", seed=0, num_envs=4, **DQN_FAST)
    returns, samples = play(env, agent, 50_000, seed=0, stop=lambda r: last20(r) >= 200)
    assert last20(returns) >= 200, (samples, returns[-20:])


@pytest.mark.slow
def test_reinforce_improves_cartpole_by_a_wide_margin():
    torch.set_num_threads(1)
    env, agent = build("sandbox/CartPole-v1", "reinforce", seed=0, num_steps=100)
    returns, _ = play(env, agent, 40_000, seed=0)
    first, last = sum(returns[:20]) / 20, last20(returns)
    assert first < 40 and last >= 150 and last >= first + 100, (first, last)


@pytest.mark.parametrize("agent_id", ["reinforce", "dqn", "ppo"])
def test_every_rl_agent_learns_a_bandit_shaped_like_a_supervised_env(agent_id):
    """Discrete actions, one-step episodes, reward 1/0: classification as a bandit."""
    config = {
        "reinforce": dict(num_steps=4, lr=1e-2),
        "ppo": dict(num_steps=4, lr=3e-3),
        "dqn": dict(
            learning_starts=256,
            train_freq=64,
            gradient_steps=16,
            exploration_steps=2000,
            num_hiddens=64,
        ),
    }[agent_id]
    env, agent = build("sandbox/ToyBandit-v0", agent_id, seed=0, num_envs=32, **config)
    before = sandbox.evaluate(env.eval_env(), agent)["eval/score"]
    play(env, agent, 8_000, seed=0)
    after = sandbox.evaluate(env.eval_env(), agent)["eval/score"]
    assert before < 0.5 and after > 0.9, (float(before), float(after))


def test_ppo_runs_continuous_actions_on_pendulum():
    env, agent = build("sandbox/Pendulum-v1", "ppo", seed=0, num_envs=4, num_steps=16)
    metrics = {}
    obs, _ = env.reset(seed=0)
    for _ in range(32):
        action = agent.act(obs)
        assert action.abs().max() <= 2.0  # clipped into the Box for the env
        next_obs, reward, terminated, truncated, info = env.step(action)
        metrics |= agent.learn(
            sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info)
        )
        obs = next_obs
    assert {"train/approx_kl", "train/clip_fraction", "train/std"} <= set(metrics)


@pytest.mark.parametrize("agent_id", ["reinforce", "dqn", "ppo"])
def test_same_seed_same_weights_and_resume_gives_identical_actions(agent_id, tmp_path):
    config = {
        "reinforce": dict(num_steps=8),
        "ppo": dict(num_steps=8),
        "dqn": dict(learning_starts=64, train_freq=32, gradient_steps=4),
    }[agent_id]

    def train(steps, logdir=None, resume=None):
        sandbox.seed_everything(3)
        env = sandbox.make("sandbox/CartPole-v1", num_envs=4)
        agent = sandbox.make_agent(agent_id, env, **config)
        sandbox.train(
            env,
            agent,
            steps,
            seed=3,
            logdir=logdir,
            resume=resume,
            progress=False,
            eval_every=10**9,
        )
        return agent

    a, b = train(400), train(400)
    obs = torch.randn(16, 4)
    assert torch.equal(a.act(obs, deterministic=True), b.act(obs, deterministic=True))
    for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        if isinstance(p, dict) and "weight" in str(list(p)):
            assert all(torch.equal(p[k], q[k]) for k in p)
    # stop at 200, resume to 400: the same weights as the unbroken run
    first = train(200, logdir=tmp_path)
    (run_dir,) = (tmp_path / "default").iterdir()
    del first
    resumed = train(400, resume=run_dir, logdir=tmp_path)
    sa, sr = a.state_dict(), resumed.state_dict()
    net = "q" if agent_id == "dqn" else "net"
    assert all(torch.equal(sa[net][k], sr[net][k]) for k in sa[net])


def test_ppo_anneals_over_the_loops_budget_and_a_resume_stays_on_schedule(tmp_path):
    """anneal=True: lr falls linearly to 0 over the budget the loop gives ``on_start``; a run
    stopped halfway and resumed ends with the unbroken run's weights; by hand, no annealing."""
    from sandbox.callbacks import Callback

    class StopHalfway(Callback):
        def on_step(self, run, metrics, info):
            if run.samples >= 256:
                run.stop("halfway")

    def train(logdir=None, resume=None, callbacks=()):
        sandbox.seed_everything(3)
        env = sandbox.make("sandbox/CartPole-v1", num_envs=4)
        agent = sandbox.make_agent("ppo", env, num_steps=8, anneal=True)
        sandbox.train(
            env,
            agent,
            512,
            seed=3,
            logdir=logdir,
            resume=resume,
            progress=False,
            eval_every=10**9,
            callbacks=callbacks,
        )
        return agent

    unbroken = train()
    assert unbroken.budget == 512 and unbroken.optimizer.param_groups[0]["lr"] == 0.0
    halfway = train(logdir=tmp_path, callbacks=[StopHalfway()])
    assert halfway.samples == 256
    assert halfway.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-4 * (1 - 256 / 512))
    (run_dir,) = (tmp_path / "default").iterdir()
    resumed = train(logdir=tmp_path, resume=run_dir)
    a, b = unbroken.net.state_dict(), resumed.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    env, by_hand = build("sandbox/CartPole-v1", "ppo", seed=0, num_envs=4, num_steps=8, anneal=True)
    obs, _ = env.reset(seed=0)
    for _ in range(16):  # two updates, no on_start: the lr stays
        action = by_hand.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        t = sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info)
        by_hand.learn(t)
        obs = next_obs
    assert by_hand.budget is None and by_hand.optimizer.param_groups[0]["lr"] == 2.5e-4


@pytest.mark.parametrize("agent_id", ["reinforce", "ppo"])
def test_policy_agents_accept_box_and_discrete(agent_id):
    for env_id in ("sandbox/Pendulum-v1", "sandbox/CartPole-v1"):
        env = sandbox.make(env_id, num_envs=2)
        action = sandbox.make_agent(agent_id, env).act(env.reset(seed=0)[0])
        env.step(action)  # the env's own ActionChecker accepts it


def test_categorical_policy_samples_its_probabilities():
    """ActorCritic.sample draws each action with the policy's probability (Gumbel-max)."""
    from agents.policies import ActorCritic

    torch.manual_seed(0)
    env = sandbox.make("sandbox/IrisClusters-v0", num_envs=4)  # Discrete(3) actions
    net = ActorCritic(env)
    with torch.no_grad():
        net.actor[-1].bias.copy_(torch.tensor([0.5, -1.0, 1.5]))  # logits ~ the bias
        obs = torch.zeros(100_000, 4)
        action = net.sample(obs)
        probs = net.actor(obs[:1]).softmax(-1)[0]
        frequencies = torch.bincount(action, minlength=3) / len(action)
        assert torch.allclose(frequencies, probs, atol=0.005)  # ~3 standard errors


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mlp_runs_hooks_on_its_layers_and_slices_by_name(activation):
    """A forward hook on the RL MLP's layers runs (envs/representation.py reads features that
    way), and a slice of it is an nn.Sequential computing the first layers."""
    from agents.policies import MLP
    from envs.representation import penultimate_features

    torch.manual_seed(0)
    net = MLP(6, 3, num_hiddens=16, num_layers=2, activation=activation, out_gain=1.0)
    x = torch.randn(5, 2, 3)  # flattened to (5, 6) by the MLP's nn.Flatten
    assert net(x).shape == (5, 3)
    features = penultimate_features(net, net, x)  # a forward hook on each nn.Linear
    assert features is not None and features.shape == (5, 16)
    assert torch.allclose(features, net[:5](x), atol=1e-6)  # Flatten, Linear, act, Linear, act


def test_policy_log_probabilities_and_entropy_equal_torch_distributions():
    """evaluate() and entropy() give what torch.distributions gives, Discrete and Box."""
    from agents.policies import ActorCritic

    torch.manual_seed(0)
    for env_id in ("sandbox/CartPole-v1", "sandbox/Pendulum-v1"):
        env = sandbox.make(env_id, num_envs=4)
        net = ActorCritic(env)
        obs = torch.randn(4, *env.single_observation_space.shape)
        with torch.no_grad():
            net.actor[-1].weight.normal_()  # logits/means far from the init's near-zero
            if not net.discrete:
                net.log_std.fill_(-0.7)
            action = net.sample(obs)
            out = net.actor(obs)
            if net.discrete:
                reference = torch.distributions.Categorical(logits=out)
            else:
                reference = torch.distributions.Normal(out, net.log_std.exp())
            expected_logprob = reference.log_prob(action)
            expected_entropy = reference.entropy()
            if not net.discrete:  # a diagonal Gaussian: independent dimensions add up
                expected_logprob, expected_entropy = (
                    expected_logprob.sum(-1),
                    expected_entropy.sum(-1),
                )
            got_logprob, dist = net.evaluate(obs, action)
            assert torch.allclose(got_logprob, expected_logprob, atol=1e-5)
            assert torch.allclose(net.entropy(dist), expected_entropy, atol=1e-5)


def test_dqn_refuses_a_box_action_naming_both_spaces():
    with pytest.raises(sandbox.UsageError) as e:
        sandbox.make_agent("dqn", sandbox.make("sandbox/Pendulum-v1", num_envs=2))
    assert "needs a Discrete action space" in str(e.value)
    assert "Box(-2.0, 2.0, (1,), float32)" in str(e.value)


def test_ppo_learns_digits_from_bandit_feedback_alone():
    """DESIGN §1's signature experiment: a classifier from rewards 1/0, never a label."""
    torch.set_num_threads(1)
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/Digits-v0", num_envs=64, feedback="bandit")
    agent = sandbox.make_agent("ppo", env, num_steps=4, lr=3e-3)
    before = float(sandbox.evaluate(env.eval_env(), agent)["eval/accuracy"])
    result = sandbox.train(env, agent, 10_000, seed=0, logdir=None, progress=False)
    assert before < 0.3 and result.metrics["eval/accuracy"] > 0.9, (before, result.metrics)


@pytest.mark.parametrize("agent_id", ["reinforce", "ppo", "dqn"])
def test_truncation_bootstraps_from_the_final_obs_and_termination_does_not(agent_id):
    """terminated and truncated stay apart: s' is info["final_obs"], not the reset obs."""
    env = sandbox.make("sandbox/CartPole-v1", num_envs=2)
    agent = sandbox.make_agent(agent_id, env)
    obs, _ = env.reset(seed=0)
    action = agent.act(obs)
    final, reset = torch.full((2, 4), 7.0), torch.zeros(2, 4)
    t = sandbox.Transition(
        obs, action, torch.ones(2), reset, torch.tensor([True, False]),
        torch.tensor([False, True]),
        {"final_obs": final, "_final_obs": torch.tensor([True, True])},
    )  # fmt: skip
    agent.learn(t)
    if agent_id == "dqn":
        stored = agent.buffer.storage
        next_obs, terminated = stored["next_obs"][:2], stored["terminated"][:2]
    else:
        next_obs, terminated = agent.rollout["next_obs"][0], agent.rollout["terminated"][0]
        assert agent.rollout["done"][0].tolist() == [True, True]
    assert torch.equal(next_obs, final)
    assert terminated.tolist() == [True, False]  # only the terminated one loses its bootstrap


@pytest.mark.parametrize("env_id", ["sandbox/CartPole-v1", "sandbox/Pendulum-v1"])
def test_ppo_logs_the_means_of_each_gradient_steps_own_figures(env_id, monkeypatch):
    """An update logs, as SB3 does, the mean over its gradient steps of each step's losses,
    approx KL, clip fraction and entropy, each as it was when that step ran (a Gaussian's
    entropy too, though the steps change its log-std in place)."""
    import agents.ppo as ppo

    sandbox.seed_everything(0)
    env = sandbox.make(env_id, num_envs=4)
    agent = sandbox.make_agent(
        "ppo", env, num_steps=8, num_epochs=3, num_minibatches=2, lr=3e-2, ent_coef=0.01
    )
    per_step: list[dict[str, float]] = []
    train_net, loss = agent.train_net, ppo.ppo_loss

    def recording_net(obs, action):
        logprob, dist, value = train_net(obs, action)
        per_step.append({"entropy": float(agent.net.entropy(dist.detach()).mean())})
        return logprob, dist, value

    def recording_loss(logprob, old_logprob, advantage, value, old_value, returns, clip, *args):
        pg, v = loss(logprob, old_logprob, advantage, value, old_value, returns, clip, *args)
        ratio = (logprob - old_logprob).exp().detach()
        per_step[-1].update(
            pg=float(pg.detach()),
            v=float(v.detach()),
            kl=float(((ratio - 1) - ratio.log()).mean()),
            clip=float(((ratio - 1).abs() > clip).float().mean()),
        )
        return pg, v

    agent.train_net = recording_net
    monkeypatch.setattr(ppo, "ppo_loss", recording_loss)
    obs, _ = env.reset(seed=0)
    metrics: dict = {}
    while not metrics:
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        metrics = agent.learn(
            sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info)
        )
        obs = next_obs

    assert len(per_step) == 3 * 2  # epochs x minibatches
    mean = {k: sum(s[k] for s in per_step) / len(per_step) for k in per_step[0]}
    entropies = {round(s["entropy"], 6) for s in per_step}
    assert len(entropies) > 1, "the policy's entropy should move over the steps"
    expected = {
        "train/policy_gradient_loss": mean["pg"],
        "train/value_loss": mean["v"],
        "train/entropy_loss": -mean["entropy"],
        "train/approx_kl": mean["kl"],
        "train/clip_fraction": mean["clip"],
        "train/loss": mean["pg"] + 0.5 * mean["v"] - 0.01 * mean["entropy"],
    }
    logged = {tag: float(metrics[tag]) for tag in expected}
    assert logged == pytest.approx(expected, rel=1e-5, abs=1e-7)


class Shifted(gymnasium.Env):
    """A Discrete(2, start=1) action space: the env takes 1 or 2 (the policy's 0 or 1)."""

    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2, start=1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        assert action in (1, 2), action
        return np.zeros(2, np.float32), float(action == 2), False, False, {}


@pytest.mark.parametrize("agent_id", ["ppo", "reinforce", "dqn"])
def test_a_discrete_start_is_taken_off_the_envs_actions_the_agent_did_not_draw(agent_id):
    """The env takes 1 or 2 and the policy draws 0 or 1: the agent's own draws act through
    the offset, and a transition it did not act for (its action the env's 2) is learnt as 1."""
    env = sandbox.make(Shifted, num_envs=2)
    agent = sandbox.make_agent(agent_id, env, **({} if agent_id == "dqn" else {"num_steps": 2}))
    obs, _ = env.reset(seed=0)
    for mine in (True, False):
        action = agent.act(obs) if mine else torch.tensor([2, 2])
        assert set(action.tolist()) <= {1, 2}
        next_obs, reward, terminated, truncated, info = env.step(action)
        t = sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info)
        metrics = agent.learn(t)  # the second step completes PPO's / REINFORCE's rollout
        obs = next_obs
    if agent_id == "dqn":
        assert agent.buffer.storage["action"][2:4].tolist() == [1, 1]
    else:
        assert agent.rollout["action"][1].tolist() == [1, 1]
        assert all(torch.isfinite(v).all() for v in metrics.values()) and metrics
