"""Clustering as an env (issue 5): the reward is minus the batch's k-means inertia, the labels
stay hidden, and the k-means agents end where scikit-learn's KMeans ends from the same centres."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from gymnasium import spaces
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits

import sandbox
from agents.kmeans import assign, kmeans_plusplus, lloyd_update, minibatch_update
from envs.cluster_stats import CHUNK, cluster_means
from envs.clustering import ClusteringConfig, ClusteringEnv
from sandbox.core import ActionError
from tests.conftest import DEVICES

CLUSTER_ENVS = ["sandbox/Blobs-v0", "sandbox/DigitsClusters-v0", "sandbox/IrisClusters-v0"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on 2 shared cores a busy neighbour stalls OpenMP's second thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def inertia_by_hand(X: torch.Tensor, assignment: torch.Tensor) -> float:
    """Within-cluster sum of squares, in float64, one cluster at a time."""
    X, assignment = X.double().numpy(), assignment.numpy()
    total = 0.0
    for c in np.unique(assignment):
        members = X[assignment == c]
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def random_actions(env, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(env.num_clusters, (env.num_envs,), generator=g)


def fit(env_id, agent_name, steps, num_envs=None, seed=0, device="cpu"):
    """Train from k-means++ centres drawn from the train split: (env, agent, init, result)."""
    env = sandbox.make(env_id, num_envs=num_envs, device=device)
    sandbox.seed_everything(seed)
    init = kmeans_plusplus(env.X, env.num_clusters)  # (k, d), shared with scikit-learn
    agent_cls = sandbox.registry.agent_class(agent_name)
    agent = agent_cls(env, centers=init)
    result = sandbox.train(env, agent, steps, seed=seed, logdir=None, progress=False)
    return env, agent, init, result


def train_inertia(env, agent) -> float:
    return float(
        env.with_split("train").score(lambda x: agent.act(x, deterministic=True))["inertia"]
    )


# --- the env --------------------------------------------------------------------------------


def test_reward_of_a_hand_worked_batch():
    X = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [5.0, 5.0]])
    env = ClusteringEnv(X, num_clusters=3, num_envs=4, test_fraction=0.0)
    obs, _ = env.reset(seed=0)
    order = [X.tolist().index(row) for row in obs.tolist()]  # the batch comes shuffled
    action = torch.tensor([[0, 0, 1, 2][i] for i in order])
    _, reward, *_ = env.step(action)
    # {0, 2} share the mean 1 (distance² 1 each); 10 and 5 are alone in their clusters
    assert reward.tolist() == [[-1.0, -1.0, 0.0, 0.0][i] for i in order]


@pytest.mark.parametrize("env_id", CLUSTER_ENVS)
def test_summed_reward_is_minus_the_batch_inertia(env_id):
    """Must show: reward identity, against an independent float64 computation."""
    env = sandbox.make(env_id, num_envs=64)
    obs, _ = env.reset(seed=1)
    for step in range(3):
        action = random_actions(env, step)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        assert reward.shape == (64,) and not reward.requires_grad
        assert float(-reward.sum()) == pytest.approx(inertia_by_hand(obs, action), rel=1e-5)
        assert terminated.all() and not truncated.any()
        obs = next_obs


def test_labels_never_reach_obs_reward_or_info():
    """Must show: no label leak. Permuting the hidden labels changes nothing but the score."""
    digits = load_digits()
    perm = np.random.default_rng(0).permutation(len(digits.target))
    envs = [
        ClusteringEnv(digits.data, labels, num_clusters=10, num_envs=100)
        for labels in (digits.target, digits.target[perm])
    ]
    rollouts = []
    for env in envs:
        obs, info = env.reset(seed=3)
        seen = [obs, *info.values()]
        for step in range(4):
            obs, reward, terminated, truncated, info = env.step(random_actions(env, step))
            seen += [obs, reward, terminated, truncated, *info.values()]
        rollouts.append(seen)
    assert all(torch.equal(a, b) for a, b in zip(*rollouts, strict=True))
    policy = lambda X: (X[:, 20] > 8).long()  # noqa: E731  some fixed clustering
    ari = [float(env.eval_env().score(policy)["ari"]) for env in envs]
    assert ari[0] != pytest.approx(ari[1], abs=1e-3)  # the labels were really different


BAD_ACTIONS = [
    ("assignment = k", torch.tensor([0, 1, 3, 2]), r"expected class indices in \[0, 3\), got"),
    ("negative", torch.tensor([0, -1, 2, 2]), r"in \[0, 3\), got values from -1 to 2"),
    (
        "float",
        torch.tensor([0.0, 1.0, 2.0, 0.0]),
        "expected integer class indices .* got torch.float32",
    ),
    ("batch of 3", torch.tensor([0, 1, 2]), r"expected \(4,\) \(4 sub-envs.*got \(3,\)"),
    ("one-hot", torch.zeros(4, 3, dtype=torch.long), r"expected \(4,\).*got \(4, 3\)"),
    ("numpy", np.zeros(4, dtype=np.int64), "must be a torch.Tensor"),
]


@pytest.mark.parametrize("case,action,message", BAD_ACTIONS, ids=[c[0] for c in BAD_ACTIONS])
def test_bad_assignments_are_refused_naming_expected_and_given(case, action, message):
    """Must show: bad input gets a clear error."""
    env = sandbox.make("sandbox/IrisClusters-v0", num_envs=4)
    env.reset(seed=0)
    with pytest.raises(ActionError, match=message):
        env.step(action)


@pytest.mark.parametrize("device", DEVICES)
def test_an_out_of_range_assignment_on_an_accelerator_gives_nan_not_a_crash(device):
    env = sandbox.make("sandbox/IrisClusters-v0", num_envs=4, device=device)
    env.reset(seed=0)
    env._check_action.check_values = False  # as on an accelerator, where values go unread
    _, reward, *_ = env.step(torch.tensor([0, 1, 3, 2], device=device))
    assert reward.device.type == device and torch.isnan(reward).any()


def test_spaces_let_rl_agents_run_but_not_the_gradient_learner():
    env = sandbox.make("sandbox/Blobs-v0", num_envs=32)
    assert isinstance(env.single_action_space, spaces.Discrete)
    assert env.single_action_space.n == 10 and env.action_space.shape == (32,)
    with pytest.raises(sandbox.UsageError, match="needs a Box action space"):
        sandbox.make_agent("gradient", env)


@pytest.mark.parametrize("agent_name", ["ppo", "reinforce", "dqn"])
def test_rl_agents_cluster_from_reward_values(agent_name):
    """Bandit feedback: the RL agents of issue 4 run on the env (however poorly they cluster)."""
    if agent_name not in sandbox.AGENTS:
        pytest.skip(f"agent {agent_name!r} is not registered in this tree")
    env = sandbox.make("sandbox/IrisClusters-v0", num_envs=30)
    sandbox.seed_everything(0)
    agent = sandbox.make_agent(agent_name, env)
    result = sandbox.train(env, agent, 600, seed=0, logdir=None, progress=False)
    assert set(result.metrics) >= {"eval/score", "eval/ari", "eval/nmi", "eval/inertia"}


def test_points_without_labels_score_by_inertia():
    X = torch.tensor([[0.0], [1.0], [10.0], [11.0]])
    env = ClusteringEnv(X, num_clusters=2, num_envs=4, test_fraction=0.0)
    figures = env.eval_env().score(lambda x: (x[:, 0] > 5).long())
    assert set(figures) == {"score", "inertia"}
    assert float(figures["inertia"]) == 1.0 and float(figures["score"]) == -0.25


def test_the_env_shows_the_raw_points_and_a_full_batch_is_the_whole_split():
    env = sandbox.make("sandbox/DigitsClusters-v0", num_envs=1438)
    expected = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)[env._parts["train"]]
    assert torch.equal(env.X, expected)
    obs, _ = env.reset(seed=0)
    next_obs, *_ = env.step(torch.zeros(1438, dtype=torch.long))
    assert torch.equal(obs, env.X) and torch.equal(next_obs, env.X)
    with pytest.raises(sandbox.UsageError, match=r"larger than the train split \(1438 samples\)"):
        sandbox.make("sandbox/DigitsClusters-v0", num_envs=1439)


def test_bad_env_options_are_refused():
    with pytest.raises(sandbox.UsageError, match="num_clusters must be >= 1, got 0"):
        sandbox.make("sandbox/Blobs-v0", num_clusters=0)
    with pytest.raises(sandbox.UsageError, match="num_samples generate the blobs only"):
        sandbox.make("sandbox/IrisClusters-v0", num_samples=50)
    with pytest.raises(sandbox.UsageError, match="has no option 'k'$"):
        sandbox.make("sandbox/Blobs-v0", k=3)
    with pytest.raises(sandbox.UsageError, match=r"shape \(num_points, num_features\), got \(5,\)"):
        ClusteringEnv(torch.zeros(5), num_clusters=2, num_envs=2)


@pytest.mark.parametrize(
    "env_id,num_clusters,num_envs,shape",
    [
        ("sandbox/Blobs-v0", 10, 256, (16,)),
        ("sandbox/DigitsClusters-v0", 10, 256, (64,)),
        ("sandbox/IrisClusters-v0", 3, 30, (4,)),
    ],
)
def test_one_config_with_each_datasets_defaults(env_id, num_clusters, num_envs, shape):
    env = sandbox.make(env_id)
    assert sandbox.registry.env_class(env_id).Config is ClusteringConfig
    assert env.num_clusters == num_clusters and env.num_envs == num_envs
    assert env.single_observation_space.shape == shape and env.labels is not None
    assert env.config_dict() == dataclasses.asdict(ClusteringConfig())
    assert sandbox.make(env_id, num_clusters=4).single_action_space.n == 4


@pytest.mark.parametrize("device", DEVICES)
def test_info_holds_the_same_keys_on_every_device(device):
    env = sandbox.make("sandbox/IrisClusters-v0", num_envs=4, device=device)
    obs, _ = env.reset(seed=0)
    action = torch.tensor([0, 1, 2, 0], device=device)
    _, reward, *_, info = env.step(action)
    keys = {"final_obs", "_final_obs", "cluster_means", "cluster_sizes", "batch_inertia"}
    assert set(info) == keys and torch.equal(info["final_obs"], obs)
    # What the reward was computed from, revealed once: the batch's means, sizes, inertia.
    means, sizes = cluster_means(obs, action, 3)
    assert torch.equal(info["cluster_means"], means) and torch.equal(info["cluster_sizes"], sizes)
    assert float(info["batch_inertia"]) == pytest.approx(float(-reward.sum()))


def test_an_unlabelled_env_holds_no_labels_and_resumes_its_batch_order():
    X = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    env = ClusteringEnv(X, num_clusters=2, num_envs=8, test_fraction=0.0)
    assert env.labels is None
    env.reset(seed=1)
    for _ in range(4):  # into the second epoch of 50 points
        env.step(torch.zeros(8, dtype=torch.long))
    state = env.state_dict()
    ahead = [env.step(torch.zeros(8, dtype=torch.long))[0] for _ in range(5)]
    other = ClusteringEnv(X, num_clusters=2, num_envs=8, test_fraction=0.0)
    obs = other.load_state_dict(state)
    assert torch.equal(obs, env.X[state["sampler"]["indices"]])
    again = [other.step(torch.zeros(8, dtype=torch.long))[0] for _ in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(ahead, again, strict=True))


# --- the agents' math ----------------------------------------------------------------------


def test_minibatch_update_is_sculleys_per_point_loop():
    """Known answer: Algorithm 1 of Sculley (2010), one point at a time, rate 1/v."""
    g = torch.Generator().manual_seed(0)
    X, centers = (
        torch.randn(50, 3, generator=g, dtype=torch.float64),
        torch.randn(4, 3, dtype=torch.float64),
    )
    seen = torch.tensor([0.0, 3.0, 1.0, 7.0], dtype=torch.float64)
    a = assign(X, centers)  # the cached nearest centres d[x]
    c_loop, v_loop = centers.clone(), seen.clone()
    for x, c in zip(X, a, strict=True):
        v_loop[c] += 1
        c_loop[c] = (1 - 1 / v_loop[c]) * c_loop[c] + x / v_loop[c]
    counts = torch.bincount(a, minlength=4).double()
    means = (
        torch.zeros(4, 3, dtype=torch.float64).index_add_(0, a, X) / counts.clamp(min=1)[:, None]
    )
    c_batch, v_batch, rate = minibatch_update(centers, seen, means, counts)
    assert torch.allclose(c_batch, c_loop) and torch.equal(v_batch, v_loop)
    assert torch.allclose(rate, counts / v_loop)


def test_lloyd_update_by_hand():
    centers = torch.tensor([[0.0, 0.0], [4.0, 4.0], [9.0, 9.0]])
    # points (0,0), (2,0) in cluster 0 and (4,6) in cluster 1; cluster 2 is empty
    means, counts = (
        torch.tensor([[1.0, 0.0], [4.0, 6.0], [0.0, 0.0]]),
        torch.tensor([2.0, 1.0, 0.0]),
    )
    new, shift = lloyd_update(centers, means, counts)
    assert new.tolist() == [[1.0, 0.0], [4.0, 6.0], [9.0, 9.0]]  # the empty cluster stays
    assert float(shift) == 1.0 + 4.0
    frozen, shift_frozen = lloyd_update(centers, means, counts, frozen=torch.tensor(True))
    assert torch.equal(frozen, centers) and float(shift_frozen) == 0.0


@pytest.mark.parametrize("env_id", CLUSTER_ENVS)
def test_train_inertia_equals_a_direct_computation(env_id):
    env = sandbox.make(env_id, num_envs=64)
    sandbox.seed_everything(0)
    agent = sandbox.make_agent("kmeans", env)
    obs, _ = env.reset(seed=0)
    action = agent.act(obs)
    centers = agent.centers.clone()
    next_obs, reward, term, trunc, info = env.step(action)
    metrics = agent.learn(sandbox.Transition(obs, action, reward, next_obs, term, trunc, info))
    direct = (obs - centers[action]).square().sum()
    assert float(metrics["train/inertia"]) == pytest.approx(float(direct), rel=1e-4)


@pytest.mark.parametrize("agent_name,num_envs", [("kmeans", 16), ("lloyd", 120)])
def test_agents_learn_the_same_from_the_envs_statistics_or_from_the_points(agent_name, num_envs):
    """The env's info spares k-means a pass over the points; without it (any other env),
    the agent computes the same means and inertia itself, and never reads the reward."""
    env = sandbox.make("sandbox/IrisClusters-v0", num_envs=num_envs)
    obs, _ = env.reset(seed=0)
    sandbox.seed_everything(0)
    real, blind = (sandbox.make_agent(agent_name, env) for _ in range(2))
    action = real.act(obs)
    blind.centers = real.centers.clone()
    next_obs, reward, term, trunc, info = env.step(action)
    m1 = real.learn(sandbox.Transition(obs, action, reward, next_obs, term, trunc, info))
    nothing = torch.full_like(reward, torch.nan)
    m2 = blind.learn(sandbox.Transition(obs, action, nothing, next_obs, term, trunc, {}))
    assert torch.equal(real.centers, blind.centers)
    for key in m1:  # the inertia by the decomposition: equal to rounding
        assert float(m1[key]) == pytest.approx(float(m2[key]), rel=1e-5), key


@pytest.mark.parametrize("num_points", [100, 3 * CHUNK + 7])
def test_the_assignment_in_slices_is_the_nearest_centre(num_points):
    """Slices of CHUNK points (the last one short) give each point its nearest centre."""
    X = torch.randn(num_points, 5, generator=torch.Generator().manual_seed(0))
    centers = X[:7].clone()
    d2 = (X.unsqueeze(1) - centers).square().sum(2)  # (N, k) by hand
    nearest = assign(X, centers)
    # The same centre, or one as near up to float32 rounding (||x||² - 2x.c + ||c||²).
    chosen = d2.gather(1, nearest.unsqueeze(1)).squeeze(1)
    assert torch.allclose(chosen, d2.min(1).values, rtol=1e-5, atol=1e-5)
    assert (nearest == d2.argmin(1)).float().mean() > 0.9999


def test_kmeans_plusplus_puts_one_centre_in_each_far_blob():
    g = torch.Generator().manual_seed(0)
    offsets = torch.tensor([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
    X = (offsets.repeat_interleave(25, 0) + torch.randn(100, 2, generator=g)).contiguous()
    for seed in range(5):
        torch.manual_seed(seed)
        centers = kmeans_plusplus(X, 4)
        assert sorted(assign(centers, offsets).tolist()) == [0, 1, 2, 3]


# --- Must show: the agents against scikit-learn, from the same initial centres -------------


@pytest.mark.parametrize("env_id", ["sandbox/DigitsClusters-v0", "sandbox/Blobs-v0"])
def test_lloyd_ends_within_1_percent_of_sklearn_kmeans(env_id):
    env = sandbox.make(env_id)
    num_points = len(env.X)
    env, agent, init, result = fit(env_id, "lloyd", 100 * num_points, num_envs=num_points)
    sk = KMeans(env.num_clusters, init=init.numpy(), n_init=1).fit(env.X.numpy())
    assert bool(agent.converged)
    assert train_inertia(env, agent) == pytest.approx(sk.inertia_, rel=0.01)
    if env_id == "sandbox/Blobs-v0":
        assert result.metrics["eval/ari"] >= 0.95


@pytest.mark.parametrize(
    "env_id,steps", [("sandbox/DigitsClusters-v0", 40_000), ("sandbox/Blobs-v0", 40_000)]
)
def test_minibatch_kmeans_ends_within_5_percent_of_sklearn_kmeans(env_id, steps):
    env, agent, init, result = fit(env_id, "kmeans", steps, num_envs=256)
    sk = KMeans(env.num_clusters, init=init.numpy(), n_init=1).fit(env.X.numpy())
    assert train_inertia(env, agent) == pytest.approx(sk.inertia_, rel=0.05)
    if env_id == "sandbox/Blobs-v0":
        assert result.metrics["eval/ari"] >= 0.95


def test_digit_centres_look_like_digits():
    """The media hook's cluster means: each is close to the mean image of some digit."""
    env, agent, _, _ = fit("sandbox/DigitsClusters-v0", "kmeans", 20_000, num_envs=256)
    held_out = env.eval_env()
    images = held_out.media(agent)["cluster_centers"]  # (k, 1, 8, 8)
    assert images.shape == (10, 1, 8, 8) and 0 <= images.min() and images.max() <= 1
    labels = held_out.labels.to(held_out.X.device)
    digit_means = torch.stack([held_out.X[labels == d].mean(0) for d in range(10)])  # (10, 64)
    corr = torch.corrcoef(torch.cat([images.flatten(1), digit_means]))[:10, 10:]  # (k, 10)
    best, digit = corr.max(dim=1)
    # k-means on digits merges some (1 and 8) and splits others (two styles of 1)
    assert best.min() > 0.8 and len(set(digit.tolist())) >= 8, (best, digit)
    noise = torch.corrcoef(torch.cat([torch.rand(10, 64), digit_means]))[:10, 10:]
    assert noise.max() < 0.8  # what centres that look like nothing score


@pytest.mark.parametrize("device", DEVICES)
def test_both_agents_run_on_the_env_device(device):
    """Everything stays on the device; Lloyd still ends where scikit-learn ends."""
    num_points = 8000  # Blobs-v0's train split
    env, agent, init, result = fit(
        "sandbox/Blobs-v0", "lloyd", 20 * num_points, num_envs=num_points, device=device
    )
    assert agent.centers.device.type == device and env.X.device.type == device
    sk = KMeans(env.num_clusters, init=init.cpu().numpy(), n_init=1).fit(env.X.cpu().numpy())
    assert train_inertia(env, agent) == pytest.approx(sk.inertia_, rel=1e-3)
    env, agent, _, result = fit("sandbox/DigitsClusters-v0", "kmeans", 5000, device=device)
    assert agent.centers.device.type == device and result.metrics["eval/ari"] > 0.4
    images = env.eval_env().media(agent)["cluster_centers"]
    assert images.device.type == device and images.shape == (10, 1, 8, 8)


# --- determinism, save and resume ----------------------------------------------------------


def test_same_seed_same_centres_other_seed_other_centres():
    runs = [fit("sandbox/IrisClusters-v0", "kmeans", 600, seed=s)[1].centers for s in (0, 0, 1)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("agent_name,num_envs", [("kmeans", 16), ("lloyd", 120)])
def test_resume_continues_bit_identically(tmp_path, agent_name, num_envs):
    def run(steps, logdir, resume=None):
        sandbox.seed_everything(0)
        env = sandbox.make("sandbox/IrisClusters-v0", num_envs=num_envs)
        agent = sandbox.make_agent(agent_name, env)
        return agent, sandbox.train(
            env, agent, steps, seed=0, logdir=logdir, progress=False, resume=resume
        )

    whole, _ = run(num_envs * 12, tmp_path / "whole")
    _, part = run(num_envs * 5, tmp_path / "part")
    resumed, _ = run(num_envs * 12, None, resume=part.run_dir)
    for key, value in whole.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, resumed.state_dict()[key]), key


def test_lloyd_needs_the_whole_split_and_kmeans_needs_a_discrete_env():
    with pytest.raises(sandbox.UsageError, match="num_envs=120 .--num-envs 120., got 30"):
        sandbox.make_agent("lloyd", sandbox.make("sandbox/IrisClusters-v0"))
    with pytest.raises(sandbox.UsageError, match="needs points .* Discrete action space"):
        sandbox.make_agent("kmeans", sandbox.make("sandbox/LinReg-v0"))
    with pytest.raises(sandbox.UsageError, match=r"initial centres must have shape \(3, 4\)"):
        sandbox.registry.agent_class("kmeans")(
            sandbox.make("sandbox/IrisClusters-v0"), centers=torch.zeros(3, 5)
        )


@pytest.mark.slow  # ~20 s here, nearly all of it importing torch in a fresh process
def test_cli_runs_lloyd_on_iris(tmp_path):
    args = "run sandbox/IrisClusters-v0 lloyd --num-envs 120 --steps 2400 --threads 1 --tol 0"
    out = subprocess.run(
        [sys.executable, "-m", "sandbox", *args.split(), "--logdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "samples   2,400" in out and "ari" in out and "inertia" in out
