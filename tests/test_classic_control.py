"""The torch-native CartPole and Pendulum match Gymnasium's step for step, from the same state."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

import sandbox
from tests.conftest import DEVICES


def _compare(env_id: str, sandbox_id: str, sample_action, steps: int = 600):
    """Step both envs from Gymnasium's state; every obs, reward and flag must agree."""
    gym_env = gymnasium.make(env_id)
    env = sandbox.make(sandbox_id, num_envs=1)
    gym_env.reset(seed=0)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    flags_seen = set()
    for _ in range(steps):
        state = torch.tensor(np.asarray(gym_env.unwrapped.state), dtype=torch.float32)[None]
        env.state = state
        env._length = torch.tensor([gym_env._elapsed_steps])  # the TimeLimit's step count
        action = sample_action(rng)
        obs, reward, terminated, truncated, _ = gym_env.step(action)
        t_obs, t_reward, t_terminated, t_truncated, info = env.step(torch.as_tensor(action)[None])
        assert set(info) == {"final_obs", "_final_obs", "episode", "_episode"}  # every step
        assert bool(info["_final_obs"][0]) == (terminated or truncated)
        t_obs = info["final_obs"]
        np.testing.assert_allclose(t_obs[0].numpy(), obs, atol=1e-5, rtol=0)
        assert abs(float(t_reward[0]) - reward) < 1e-5
        assert (bool(t_terminated[0]), bool(t_truncated[0])) == (terminated, truncated)
        flags_seen.add((terminated, truncated))
        if terminated or truncated:
            gym_env.reset()
    return flags_seen


def test_cartpole_matches_gymnasium_to_1e5():
    flags = _compare("CartPole-v1", "sandbox/CartPole-v1", lambda rng: int(rng.integers(2)))
    assert (True, False) in flags  # episodes ended by falling were compared too


def test_cartpole_truncates_at_500_like_time_limit():
    env = sandbox.make("sandbox/CartPole-v1", num_envs=2)
    env.reset(seed=0)
    env.state = torch.zeros(2, 4)
    env._length = torch.tensor([498, 0])
    for expected in (False, True):  # alternate pushes keep the pole up
        _, _, terminated, truncated, info = env.step(torch.tensor([0, 1]))
        assert bool(truncated[0]) is expected and not terminated.any()
    assert int(info["episode"]["l"][0]) == 500 and bool(info["_episode"][0])


def test_pendulum_matches_gymnasium_to_1e5():
    flags = _compare(
        "Pendulum-v1",
        "sandbox/Pendulum-v1",
        lambda rng: rng.uniform(-2.5, 2.5, size=1).astype(np.float32).clip(-2, 2),
    )
    assert (False, True) in flags  # the 200-step time limit was reached


@pytest.mark.parametrize("device", DEVICES)
def test_autoreset_restarts_only_the_sub_envs_that_ended(device):
    env = sandbox.make("sandbox/CartPole-v1", num_envs=3, device=device)
    env.reset(seed=0)
    # sub-env 0 leaves the track (x > 2.4), 1 goes on, 2 reaches the 500-step limit
    env.state = torch.tensor([[2.39, 1.0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], device=device)
    env._length = torch.tensor([7, 3, 499], device=device)
    env._return = env._length.float()
    obs, _, terminated, truncated, info = env.step(torch.tensor([1, 0, 1], device=device))
    assert terminated.tolist() == [True, False, False]
    assert truncated.tolist() == [False, False, True]
    ended = [True, False, True]
    assert info["_final_obs"].tolist() == ended and info["_episode"].tolist() == ended
    assert info["episode"]["l"][[0, 2]].tolist() == [8, 500]
    assert info["episode"]["r"][[0, 2]].tolist() == [8.0, 500.0]
    assert info["final_obs"][0, 0] > 2.4  # the state the episode ended in, not the new one
    assert torch.equal(obs[1], info["final_obs"][1])  # the running episode continues
    fresh = obs[[0, 2]]
    assert (fresh.abs() <= 0.05).all() and not torch.equal(fresh[0], fresh[1])
    assert env._length.tolist() == [0, 4, 0] and env._return.tolist() == [0.0, 4.0, 0.0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("env_id", ["sandbox/CartPole-v1", "sandbox/Pendulum-v1"])
def test_thousands_of_sub_envs_stay_on_the_device(env_id, device):
    env = sandbox.make(env_id, num_envs=4096, device=device)
    obs, _ = env.reset(seed=1)
    action = torch.as_tensor(
        np.stack([env.single_action_space.sample() for _ in range(4096)]), device=device
    )
    for _ in range(200):  # until an episode ends (Pendulum: truncated at 200)
        obs, reward, terminated, truncated, info = env.step(action)
        if bool(info["_final_obs"].any()):
            break
    for x in (obs, reward, terminated, truncated, info["final_obs"], info["episode"]["r"]):
        assert x.device.type == device and x.shape[0] == 4096


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("env_id", ["sandbox/CartPole-v1", "sandbox/Pendulum-v1"])
def test_info_holds_the_same_keys_on_every_device_and_every_step(env_id, device):
    env = sandbox.make(env_id, num_envs=4, device=device)
    env.reset(seed=0)
    action = torch.as_tensor(env.action_space.sample(), device=device)
    *_, info = env.step(action)  # no episode ends on the first step
    assert set(info) == {"final_obs", "_final_obs", "episode", "_episode"}
    assert not info["_final_obs"].any() and not info["_episode"].any()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
def test_cartpole_takes_actions_of_any_integer_dtype(dtype):
    action = torch.tensor([0, 1, 1, 0])
    obs = []
    for a in (action, action.to(dtype)):  # e.g. torch.as_tensor of a numpy uint8 array
        env = sandbox.make("sandbox/CartPole-v1", num_envs=4)
        env.reset(seed=0)
        obs.append(env.step(a)[0])
    assert torch.equal(obs[0], obs[1])


def test_same_seed_same_rollout_and_state_dict_resumes_exactly():
    def run(env, steps):
        return [env.step(torch.ones(16, dtype=torch.long))[0] for _ in range(steps)]

    a, b = sandbox.make("sandbox/CartPole-v1", 16), sandbox.make("sandbox/CartPole-v1", 16)
    a.reset(seed=3), b.reset(seed=3)
    run(a, 20), run(b, 20)
    saved = a.state_dict()
    rest = run(a, 30)
    c = sandbox.make("sandbox/CartPole-v1", 16)
    c.load_state_dict(saved)
    assert all(torch.equal(x, y) for x, y in zip(rest, run(c, 30), strict=True))
    assert all(torch.equal(x, y) for x, y in zip(rest, run(b, 30), strict=True))
