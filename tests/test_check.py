"""`sandbox check`: every registered env passes; a broken env fails with the reason named."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

import sandbox
from sandbox.apps.check import run_checks
from sandbox.apps.cli import main
from sandbox.apps.single import SingleEnvView


class NumpyRewardEnv(gymnasium.vector.VectorEnv):
    """Breaks the contract: rewards come back as NumPy arrays, and ``terminated`` as ints."""

    metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 2, device: str = "cpu") -> None:
        self.num_envs, self.device = num_envs, torch.device(device)
        self.single_observation_space = spaces.Box(-1, 1, (3,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed=None, options=None):
        return torch.zeros(self.num_envs, 3), {}

    def step(self, action):
        obs = torch.zeros(self.num_envs, 3)
        return (
            obs,
            np.zeros(self.num_envs),
            torch.ones(self.num_envs, dtype=torch.int64),
            torch.zeros(self.num_envs, dtype=torch.bool),
            {},
        )


@pytest.fixture
def broken_env_id():
    sandbox.register_env(
        "test/Broken-v0",
        f"{__name__}:NumpyRewardEnv",
        paradigm="test",
        description="breaks the contract",
        num_envs=2,
    )
    yield "test/Broken-v0"
    del sandbox.ENVS["test/Broken-v0"], gymnasium.registry["test/Broken-v0"]


@pytest.mark.parametrize("env_id", sorted(sandbox.ENVS))
def test_sandbox_check_passes_on_every_registered_env(env_id, capsys):
    assert main(["check", env_id]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "0 failed" in out
    if "turn-based game contract" in out:
        assert "PettingZoo api_test (NumPy AEC view)" in out
    else:
        assert "gymnasium check_env (single-env NumPy view)" in out


def test_sandbox_check_fails_a_broken_env_and_says_why(broken_env_id, capsys):
    assert main(["check", broken_env_id]) == 1
    out = capsys.readouterr().out
    assert "FAIL  tensors: shapes, dtypes, device; SAME_STEP autoreset" in out
    assert "reward must be a torch.Tensor, got ndarray" in out
    assert "pass  attributes and spaces" in out  # the rest is still checked and reported


def test_run_checks_never_raises_on_a_broken_env():
    rows = run_checks(NumpyRewardEnv())
    assert [r.ok for r in rows] == [True, False, False, False]


class BadObsEnv(NumpyRewardEnv):
    """Keeps the tensor contract but breaks the observation space in one way at a time."""

    def __init__(self, obs: torch.Tensor, reward: float = 0.0) -> None:
        super().__init__(num_envs=2)
        self.obs, self.reward = obs, reward

    def reset(self, *, seed=None, options=None):
        return self.obs.clone(), {}

    def step(self, action):
        flags = torch.zeros(2, dtype=torch.bool)
        return self.obs.clone(), torch.full((2,), self.reward), flags, flags.clone(), {}


@pytest.mark.parametrize(
    "obs, reason",
    [
        (torch.full((2, 3), 2.0), "reset obs outside the space's bounds [-1.0, 1.0]: e.g. [2.0"),
        (torch.full((2, 3), float("nan")), "reset obs holds NaN"),
        (torch.zeros(2, 3, dtype=torch.float64), "expected torch.float32 (the space's), got "),
    ],
)
def test_observations_are_checked_against_the_space(obs, reason):
    (_, rollout, *_) = run_checks(BadObsEnv(obs))
    assert not rollout.ok and reason in rollout.detail


def test_the_same_rollout_check_counts_nan_as_equal_to_nan():
    rows = {r.name: r for r in run_checks(BadObsEnv(torch.zeros(2, 3), reward=float("nan")))}
    assert rows["same seed, same rollout"].ok  # the same NaN at the same place: the same
    assert not rows["rewards finite"].ok and "NaN" in rows["rewards finite"].detail


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_single_env_view_undoes_autoreset_and_passes_gymnasium_check_env():
    view = SingleEnvView(sandbox.make("sandbox/LinReg-v0", num_envs=1))
    gymnasium_check_env(view, skip_render_check=True)
    first, _ = view.reset(seed=0)
    final, reward, terminated, _, _ = view.step(np.zeros(1, np.float32))
    assert terminated and np.array_equal(final, first)  # the episode's own final obs
    nxt, _ = view.reset()  # the autoreset obs, kept for the caller's reset
    assert not np.array_equal(nxt, first)
    assert isinstance(reward, float) and reward <= 0
