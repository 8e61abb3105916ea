"""The env contract (DESIGN §2) on every registered sandbox env, and bad actions refused."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

import sandbox
from sandbox.core import ActionError
from tests.conftest import DEVICES


@pytest.mark.parametrize("env_id", sorted(sandbox.ENVS))
def test_every_registered_env_keeps_the_contract(env_id):
    sandbox.check_env(sandbox.make(env_id, num_envs=4))


@pytest.mark.parametrize("device", DEVICES)
def test_linreg_tensors_live_on_the_env_device(device):
    env = sandbox.make("sandbox/LinReg-v0", num_envs=8, device=device)
    obs, _ = env.reset(seed=0)
    action = torch.zeros(8, 1, device=device)
    obs2, reward, terminated, truncated, info = env.step(action)
    for t in (obs, obs2, reward, terminated, truncated, info["final_obs"]):
        assert t.device.type == device


def test_gymnasium_make_vec_builds_sandbox_envs():
    env = gymnasium.make_vec("sandbox/LinReg-v0", num_envs=32)
    assert isinstance(env, gymnasium.vector.VectorEnv)
    assert env.num_envs == 32 and env.spec.id == "sandbox/LinReg-v0"
    assert env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
    obs, _ = env.reset(seed=1)
    assert obs.shape == (32, 2) and obs.dtype == torch.float32


def test_same_step_autoreset_every_sample_is_a_one_step_episode():
    env = sandbox.make("sandbox/LinReg-v0", num_envs=4)
    obs, _ = env.reset(seed=0)
    next_obs, _, terminated, truncated, info = env.step(torch.zeros(4, 1))
    assert terminated.all() and not truncated.any()
    assert torch.equal(info["final_obs"], obs)  # the finished episode's (only) observation
    assert info["_final_obs"].all()
    assert not torch.equal(next_obs, obs)  # the next batch is the new episodes' first obs


def test_reward_is_minus_squared_error_and_keeps_its_graph():
    env = sandbox.make("sandbox/LinReg-v0", num_envs=5)
    env.reset(seed=0)
    y = env.y[env._idx]  # the labels: only the env (and this test) sees them
    action = torch.zeros(5, 1, requires_grad=True)
    _, reward, *_ = env.step(action)
    assert torch.allclose(reward, -(y.squeeze(1) ** 2))
    reward.sum().backward()
    assert torch.allclose(action.grad, 2 * y)  # d/da -(a - y)^2 at a = 0


def test_a_training_epoch_shows_every_sample_once():
    env = sandbox.make("sandbox/LinReg-v0", num_envs=10)
    obs, _ = env.reset(seed=3)
    seen = [obs]
    for _ in range(len(env.X) // 10 - 1):
        obs, *_ = env.step(torch.zeros(10, 1))
        seen.append(obs)
    rows = torch.cat(seen)
    assert rows.shape == env.X.shape
    assert torch.equal(rows[rows[:, 0].argsort()], env.X[env.X[:, 0].argsort()])


def test_splits_are_disjoint_and_fixed_by_the_data_seed():
    train = sandbox.make("sandbox/LinReg-v0")
    test = train.eval_env()
    assert test.split == "test" and len(train.X) == 700 and len(test.X) == 200
    as_set = lambda X: {tuple(r) for r in X.tolist()}  # noqa: E731
    assert not as_set(train.X) & as_set(test.X)
    assert torch.equal(sandbox.make("sandbox/LinReg-v0").X, train.X)


BAD_ACTIONS = [
    ("numpy array", np.zeros((4, 1), np.float32), "must be a torch.Tensor"),
    ("wrong shape", torch.zeros(4), "expected (4, 1)"),
    ("wrong batch", torch.zeros(3, 1), "expected (4, 1)"),
    ("integer dtype", torch.zeros(4, 1, dtype=torch.long), "expected a float tensor"),
    ("NaN", torch.tensor([[0.0], [float("nan")], [0.0], [0.0]]), "NaN/inf"),
    ("inf", torch.tensor([[0.0], [float("inf")], [0.0], [0.0]]), "NaN/inf"),
    ("wrong device", torch.zeros(4, 1, device="meta"), "expected cpu, got meta"),
]


@pytest.mark.parametrize("case,action,message", BAD_ACTIONS, ids=[c[0] for c in BAD_ACTIONS])
def test_bad_actions_are_refused_with_expected_and_given(case, action, message):
    env = sandbox.make("sandbox/LinReg-v0", num_envs=4)
    env.reset(seed=0)
    with pytest.raises(ActionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        env.step(action)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"num_envs": 0}, "num_envs must be a positive integer, got 0"),
        ({"num_envs": 701}, "larger than the train split (700 samples)"),
        ({"noise": -1.0}, "noise must be >= 0"),
        ({"nosie": 0.1}, "has no option 'nosie' (did you mean noise?)"),
    ],
)
def test_bad_env_options_are_refused(kwargs, message):
    with pytest.raises(sandbox.UsageError) as e:
        sandbox.make("sandbox/LinReg-v0", **kwargs)
    assert message in str(e.value)


def test_unknown_env_id_names_the_closest():
    with pytest.raises(sandbox.UsageError, match="did you mean sandbox/LinReg-v0"):
        sandbox.make("sandbox/LinRge-v0")
