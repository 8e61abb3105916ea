"""Reliability (issue 9): every bad input refused clearly, a crashed worker loses nothing,
a third-party agent trains on a sandbox env through the single-env NumPy view."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces

import sandbox
from sandbox.apps.single import SingleEnvView


def _step(env_id, action, **kwargs):
    env = sandbox.make(env_id, **kwargs)
    env.reset(seed=0)
    env.step(action)


class NoSpaces:
    """A custom env that violates the Gymnasium API: no spaces, no step."""


# (case, what the user did, the error class, what the message must say: expected and given)
BAD_INPUTS = [
    (
        "wrong action shape",
        lambda: _step("sandbox/Digits-v0", torch.zeros(4, 9), num_envs=4),
        sandbox.ActionError,
        "expected (4, 10)",
    ),
    (
        "wrong action dtype",
        lambda: _step(
            "sandbox/Digits-v0", torch.zeros(4, dtype=torch.long), num_envs=4, feedback="gradient"
        ),
        sandbox.ActionError,
        "shape mismatch",
    ),
    (
        "float action in bandit mode",
        lambda: _step("sandbox/Digits-v0", torch.zeros(4), num_envs=4, feedback="bandit"),
        sandbox.ActionError,
        "expected integer class indices",
    ),
    (
        "wrong action device",
        lambda: _step("sandbox/LinReg-v0", torch.zeros(4, 1, device="meta"), num_envs=4),
        sandbox.ActionError,
        "expected cpu, got meta",
    ),
    (
        "action outside the space",
        lambda: _step("sandbox/Pendulum-v1", torch.full((4, 1), 9.0), num_envs=4),
        sandbox.ActionError,
        "expected values in [-2.0, 2.0]",
    ),
    (
        "class index out of range",
        lambda: _step("sandbox/Digits-v0", torch.full((4,), 10), num_envs=4, feedback="bandit"),
        sandbox.ActionError,
        "expected class indices in [0, 10)",
    ),
    (
        "NaN action",
        lambda: _step("sandbox/LinReg-v0", torch.full((4, 1), float("nan")), num_envs=4),
        sandbox.ActionError,
        "NaN/inf",
    ),
    (
        "inf action",
        lambda: _step("sandbox/LinReg-v0", torch.full((4, 1), float("inf")), num_envs=4),
        sandbox.ActionError,
        "NaN/inf",
    ),
    (
        "wrong num_envs",
        lambda: sandbox.make("sandbox/Digits-v0", num_envs=0),
        sandbox.UsageError,
        "num_envs must be a positive integer, got 0",
    ),
    (
        "unknown env id",
        lambda: sandbox.make("sandbox/Digit-v0"),
        sandbox.UsageError,
        "did you mean sandbox/Digits-v0",
    ),
    (
        "unknown agent id",
        lambda: sandbox.make_agent("ppo2", sandbox.make("sandbox/LinReg-v0")),
        sandbox.UsageError,
        "did you mean ppo",
    ),
    (
        "negative lr",
        lambda: sandbox.make_agent("gradient", sandbox.make("sandbox/LinReg-v0"), lr=-0.1),
        sandbox.UsageError,
        "lr must be > 0, got -0.1",
    ),
    (
        "batch larger than the dataset",
        lambda: sandbox.make("sandbox/Iris-v0", num_envs=1000),
        sandbox.UsageError,
        "larger than the train split",
    ),
    (
        "k < 1",
        lambda: sandbox.make("sandbox/Blobs-v0", num_clusters=0),
        sandbox.UsageError,
        "num_clusters must be >= 1, got 0",
    ),
    (
        "missing dataset files",
        lambda: sandbox.make("sandbox/MNIST-v0", data_root="/nonexistent"),
        Exception,
        "MNIST not found: expected train-images-idx3-ubyte",
    ),
    (
        "agent and env spaces do not fit",
        lambda: sandbox.make_agent("dqn", sandbox.make("sandbox/Pendulum-v1")),
        sandbox.UsageError,
        "needs a Discrete action",
    ),
    (
        "a custom env that violates the Gymnasium API",
        lambda: sandbox.make(NoSpaces),
        sandbox.UsageError,
        "NoSpaces",
    ),
]


@pytest.mark.parametrize("case,call,error,message", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_refused_naming_expected_and_given(case, call, error, message):
    with pytest.raises(error) as e:
        call()
    assert message in str(e.value), str(e.value)


class CrashingWalk(gymnasium.Env):
    """A Gymnasium env whose worker process dies with an error after 40 steps."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    lifetime = 0  # steps taken by this process's env, across episodes

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.lifetime += 1
        if self.lifetime > 40:
            raise RuntimeError("sensor 3 disconnected")
        return np.zeros(2, np.float32), 1.0, False, self.lifetime % 10 == 0, {}


def test_a_crashed_async_worker_stops_the_run_with_its_error_after_a_checkpoint(tmp_path):
    env = sandbox.make(CrashingWalk, num_envs=2, vectorization="async")
    agent = sandbox.make_agent("ppo", env, num_steps=8)
    with pytest.raises(sandbox.RunFailed) as e:
        sandbox.train(env, agent, 10_000, seed=0, logdir=tmp_path, progress=False)
    env.close()
    message = str(e.value)
    assert "sensor 3 disconnected" in message and "at sample" in message
    assert "the last good checkpoint is" in message
    (run_dir,) = (tmp_path / "default").iterdir()
    state = sandbox.load_checkpoint(run_dir)
    assert 0 < state["samples"] <= 80 and "agent" in state


@pytest.mark.slow
def test_stable_baselines3_ppo_learns_the_digits_bandit_through_the_numpy_view():
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import Logger

    torch.set_num_threads(1)
    view = SingleEnvView(sandbox.make("sandbox/Digits-v0", num_envs=1, feedback="bandit"))
    model = PPO(
        "MlpPolicy",
        view,
        n_steps=256,
        batch_size=64,
        learning_rate=1e-3,
        seed=0,
        device="cpu",
        verbose=0,
    )
    model.set_logger(Logger(folder=None, output_formats=[]))  # no /tmp/SB3-<date> folder
    model.learn(total_timesteps=15_000)
    test = sandbox.make("sandbox/Digits-v0", feedback="bandit").eval_env()
    figures = test.score(
        lambda obs: torch.as_tensor(model.predict(obs.numpy(), deterministic=True)[0])
    )
    assert float(figures["accuracy"]) > 0.3  # chance is 0.1
