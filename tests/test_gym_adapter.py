"""Any Gymnasium env through the adapter: ids, "module:Id", classes, instances, spaces, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces

import sandbox
from sandbox.apps.cli import main


class Corridor(gymnasium.Env):
    """A user's own env: walk right along 5 cells to the goal (reward 1), 20-step limit."""

    def __init__(self, length: int = 5):
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Discrete(2)  # 0 left, 1 right

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.pos = max(self.pos + (1 if action == 1 else -1), 0)
        at_goal = self.pos == self.length
        return np.array([self.pos / self.length], np.float32), float(at_goal), at_goal, False, {}


class DictObs(gymnasium.Env):
    """Dict and MultiDiscrete observations, travelling flat (``Flattened``) through the adapter."""

    observation_space = spaces.Dict(
        {"pos": spaces.Box(-1.0, 1.0, (2,), np.float64), "cell": spaces.MultiDiscrete([3, 2])}
    )
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def _obs(self):
        return {"pos": self.np_random.uniform(-1, 1, 2), "cell": self.np_random.integers([3, 2])}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(), {}

    def step(self, action):
        return self._obs(), float(action[0]), False, False, {}


gymnasium.register("Corridor-v0", entry_point=Corridor, max_episode_steps=20)


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_registered_id_keeps_the_sandbox_contract(vectorization):
    env = sandbox.make("CartPole-v1", num_envs=4, vectorization=vectorization)
    sandbox.check_env(env)
    assert env.spec.id == "CartPole-v1" and env.config_dict()["vectorization"] == vectorization
    env.close()


def test_episode_statistics_final_obs_and_truncation_for_every_sub_env():
    env = sandbox.make("tests.test_gym_adapter:Corridor-v0", num_envs=2)
    env.reset(seed=0)
    # sub-env 0 walks right (reaches the goal at step 5), sub-env 1 walks left (cut at 20)
    for step in range(1, 21):
        obs, reward, terminated, truncated, info = env.step(torch.tensor([1, 0]))
        if step == 5:
            assert terminated.tolist() == [True, False] and reward.tolist() == [1.0, 0.0]
            assert info["final_obs"][0].tolist() == [1.0] and obs[0].tolist() == [0.0]
            assert info["_episode"].tolist() == [True, False]
            assert info["episode"]["r"][0] == 1.0 and info["episode"]["l"][0] == 5
    assert truncated.tolist() == [False, True] and not terminated[1]
    assert info["episode"]["l"][1] == 20 and info["episode"]["r"][1] == 0.0
    assert reward.dtype == torch.float32 and terminated.dtype == torch.bool


def test_env_class_and_instance_and_flattened_dict_obs():
    by_class = sandbox.make(Corridor, num_envs=3, length=3)
    assert by_class.num_envs == 3 and by_class.spec.id == "Corridor"
    by_instance = sandbox.make(Corridor(length=3), num_envs=2)
    assert by_instance.reset(seed=0)[0].shape == (2, 1)
    env = sandbox.make(DictObs, num_envs=2)
    assert env.single_observation_space.shape == (2 + 2,)  # MultiDiscrete's 2 + Box(2), raw
    sandbox.check_env(env)


def test_unsupported_spaces_are_named():
    class TextObs(Corridor):
        def __init__(self):
            super().__init__()
            self.observation_space = spaces.Text(5)

    class MultiAction(Corridor):
        def __init__(self):
            super().__init__()
            self.action_space = spaces.Tuple((spaces.Discrete(2), spaces.Discrete(2)))

    with pytest.raises(sandbox.UsageError, match=r"unsupported observation space Text"):
        sandbox.make(TextObs)
    with pytest.raises(sandbox.UsageError, match=r"unsupported action space Tuple"):
        sandbox.make(MultiAction)


def test_unknown_ids_name_the_closest_or_the_missing_module():
    with pytest.raises(sandbox.UsageError, match="did you mean CartPole-v1"):
        sandbox.make("CartPol-v1")
    with pytest.raises(sandbox.UsageError, match="cannot import module 'nomodule'"):
        sandbox.make("nomodule:Env-v0")


def test_dqn_on_a_box_action_is_refused_naming_both_spaces():
    env = sandbox.make("Pendulum-v1", num_envs=2)
    with pytest.raises(sandbox.UsageError) as e:
        sandbox.make_agent("dqn", env)
    message = str(e.value)
    assert "needs a Discrete action space" in message
    assert "'Pendulum-v1'" in message and "Box(-2.0, 2.0, (1,), float32)" in message


def test_custom_env_from_this_file_runs_through_sandbox_run_async(tmp_path):
    """A user's env class, registered the Gymnasium way, by "module:Id", in async workers."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "run",
            "tests.test_gym_adapter:Corridor-v0",
            "ppo",
            "--steps",
            "2048",
            "--num-envs",
            "4",
            "--num-steps",
            "64",
            "--lr",
            "0.003",
            "--env.vectorization",
            "async",
            "--device",
            "cpu",
            "--logdir",
            str(tmp_path),
            "--eval-every",
            "100000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "eval      score 1" in out.stdout  # it learned to walk right: return 1 every episode


def test_another_gymnasium_id_runs_through_sandbox_run(capsys, tmp_path):
    code = main(
        [
            "run",
            "Acrobot-v1",
            "reinforce",
            "--steps",
            "800",
            "--num-envs",
            "2",
            "--num-steps",
            "100",
            "--device",
            "cpu",
            "--logdir",
            str(tmp_path),
            "--no-progress",
            "--eval-every",
            "100000",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "samples   800" in capsys.readouterr().out


USER_ENV = """
import gymnasium, numpy as np

class Coin(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, action):
        return np.ones(1, np.float32), float(action == 1), True, False, {}

gymnasium.register("Coin-v0", entry_point=Coin)
"""


def test_the_console_script_runs_an_env_module_of_the_working_directory(tmp_path):
    """`sandbox run mymod:Coin-v0 ppo` from the directory holding mymod.py, as a user types it."""
    (tmp_path / "mymod.py").write_text(USER_ENV)
    script = Path(sys.executable).with_name("sandbox")
    out = subprocess.run(
        [str(script), "run", "mymod:Coin-v0", "ppo", "--steps", "256", "--num-steps", "16",
         "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "runs" / "default").is_dir()
