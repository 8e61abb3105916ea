"""RL agents on every observation space through one encoder mechanism (agents/encoders.py).

Learning runs use fixed seeds and budgets in samples; each stops once its bar is met.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
import torch.nn as nn
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

import sandbox
import sandbox.spaces as sandbox_spaces
from agents.encoders import encoder_for
from agents.ppo import PPOAgent as PPO
from agents.ppo import PPOConfig
from sandbox.errors import UsageError
from tests.test_rl_learns import last20, play


class EchoDiscreteEnv(VectorEnv):
    """One-step episodes: the obs is a Discrete(4) index; reward 1 for the action naming it."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 16, obs_space: spaces.Space | None = None) -> None:
        self.num_envs, self.device = num_envs, torch.device("cpu")
        self.single_observation_space = obs_space or spaces.Discrete(4, start=2)
        self.single_action_space = spaces.Discrete(4)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.g = torch.Generator().manual_seed(0)
        self.done = torch.ones(num_envs, dtype=torch.bool)

    def _draw(self):
        self.obs = torch.randint(2, 6, (self.num_envs,), generator=self.g)  # (N,) in [2, 6)
        return self.obs

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.g.manual_seed(seed)
        return self._draw(), {}

    def step(self, action):
        reward = (action == self.obs - 2).float()  # (N,)
        info = {"episode": {"r": reward, "l": torch.ones(self.num_envs)}, "_episode": self.done}
        info |= {"final_obs": self.obs, "_final_obs": self.done}
        return self._draw(), reward, self.done, ~self.done, info


def test_encoders_by_space():
    """Each space's encoder gives (B, out_features) floats; pixels are scaled to [0, 1]."""
    cases = [
        (spaces.Box(-1, 1, (3, 2)), torch.ones(5, 3, 2), 6),
        (spaces.Discrete(3, start=1), torch.tensor([1, 2, 3, 1, 2]), 3),
        (spaces.MultiDiscrete([2, 3]), torch.tensor([[1, 2]] * 5), 5),
        (spaces.MultiBinary(4), torch.ones(5, 4, dtype=torch.int8), 4),
        (
            spaces.Box(0, 255, (10, 5, 1), np.uint8),
            torch.zeros(5, 10, 5, 1, dtype=torch.uint8),
            512,
        ),
        (
            spaces.Box(0, 255, (4, 84, 84), np.uint8),
            torch.zeros(5, 4, 84, 84, dtype=torch.uint8),
            512,
        ),
    ]
    for space, obs, out in cases:
        enc = encoder_for(space)
        assert enc.out_features == out and enc(obs).shape == (5, out), space
    assert encoder_for(spaces.Discrete(3, start=1))(torch.tensor([3])).tolist() == [[0, 0, 1]]


def test_ambiguous_image_layout_must_be_declared():
    space = spaces.Box(0, 255, (3, 32, 3), np.uint8)  # channels first or last?
    with pytest.raises(UsageError, match="image_layout") as e:
        encoder_for(space)
    assert "\n" not in str(e.value)
    assert encoder_for(space, layout="chw")(torch.zeros(2, 3, 32, 3, dtype=torch.uint8)).shape == (
        2,
        512,
    )


def test_unsupported_space_refused_in_one_line():
    with pytest.raises(UsageError, match="Text") as e:
        PPO(EchoDiscreteEnv(obs_space=spaces.Text(5)))
    assert "\n" not in str(e.value) and "ImgObsWrapper" in str(e.value)


def test_ppo_learns_discrete_obs():
    """The obs is an index (one-hot encoded); the bandit is solved only by reading it."""
    sandbox.seed_everything(0)
    env = EchoDiscreteEnv()
    agent = PPO(env, PPOConfig(num_steps=16, lr=3e-3, num_minibatches=2))
    returns, _ = play(env, agent, 12_000, seed=0, stop=lambda r: last20(r) > 0.95)
    assert last20(returns) > 0.95


def test_user_encoder_is_used():
    """A user's nn.Module (with out_features) replaces the chosen encoder, under actor and
    critic."""

    class Embed(nn.Module):
        out_features = 8

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(6, 8)

        def forward(self, obs):
            return self.emb(obs.long())

    enc = Embed()
    agent = PPO(EchoDiscreteEnv(), encoder=enc)
    assert agent.net.encoder is enc
    assert any(p is enc.emb.weight for p in agent.net.parameters())


@pytest.mark.slow
def test_cnn_ppo_learns_catch():
    """Catch (uint8 pixels) through the CNN encoder: every ball caught at seed 0."""
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/Catch-v0", num_envs=16)
    assert isinstance(agent_net := PPO(env).net.encoder, nn.Module)
    agent = PPO(env, PPOConfig(lr=1e-3))
    assert agent.rollout["obs"].dtype == torch.uint8  # pixels stored as they came
    returns, _ = play(env, agent, 20_000, seed=0, stop=lambda r: last20(r) > 0.95)
    assert type(agent_net).__name__ == "ImageCNN"
    assert last20(returns) > 0.95


class SuccessEnv(gymnasium.Env):
    """One-step episodes; is_success when the action is 0 (a goal env's info key)."""

    observation_space = spaces.Box(-1, 1, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {"is_success": int(action) == 0}


def test_is_success_logged_as_success_rate():
    """info["is_success"] of finished episodes -> rollout/success_rate, beside ep_rew_mean."""
    from envs.gym_adapter import GymAdapter
    from sandbox.logger import EpisodeSums

    env = GymAdapter(SuccessEnv, num_envs=4)
    env.reset(seed=0)
    sums = EpisodeSums()
    for action in ([0, 0, 1, 1], [0, 0, 0, 1]):  # 5 successes in 8 episodes
        info = env.step(torch.tensor(action))[-1]
        sums.add(info["episode"], info["_episode"])
    assert sums.means()["rollout/success_rate"] == pytest.approx(5 / 8)


@pytest.mark.parametrize(
    "env_id, module, extra",
    [("ALE/Breakout-v5", "ale_py", "atari"), ("CarRacing-v3", "Box2D", "box2d")],
)
def test_missing_optional_package_one_line(env_id, module, extra, monkeypatch, tmp_path):
    """A missing optional package (hidden here) is one line naming the pip extra."""
    from envs.gym_adapter import GymAdapter

    monkeypatch.setitem(sys.modules, module, None)  # import module -> ImportError
    with pytest.raises(UsageError) as e:
        GymAdapter(env_id, num_envs=1)
    assert "\n" not in str(e.value) and f"pip install -e .[{extra}]" in str(e.value)


def test_cli_missing_box2d_one_line(tmp_path):
    """Through the console script: CarRacing without Box2D exits 2 with one line."""
    import subprocess

    if importlib.util.find_spec("Box2D") is not None:
        pytest.skip("Box2D is installed here")
    sandbox_exe = Path(sys.executable).parent / "sandbox"
    cmd = [str(sandbox_exe), "run", "CarRacing-v3", "ppo", "--steps", "8"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "pip install -e .[box2d]" in done.stderr


class EchoActionEnv(VectorEnv):
    """One-step episodes: the obs is k random classes (as floats); reward is the fraction of
    action parts that name them. MultiBinary(k) when classes=2 and binary, else
    MultiDiscrete([classes] * k)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs=16, k=3, classes=3, binary=False):
        self.num_envs, self.k, self.classes = num_envs, k, classes
        self.single_observation_space = spaces.Box(0, classes - 1, (k,), np.float32)
        self.single_action_space = (
            spaces.MultiBinary(k) if binary else spaces.MultiDiscrete([classes] * k)
        )
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.g = torch.Generator().manual_seed(0)
        self.done = torch.ones(num_envs, dtype=torch.bool)
        self.check = sandbox_spaces.ActionChecker(self.single_action_space, num_envs, "cpu")

    def _draw(self):
        self.obs = torch.randint(0, self.classes, (self.num_envs, self.k), generator=self.g)
        return self.obs.float()

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.g.manual_seed(seed)
        return self._draw(), {}

    def step(self, action):
        self.check(action)
        reward = (action == self.obs).float().mean(-1)  # (N,)
        info = {"episode": {"r": reward, "l": torch.ones(self.num_envs)}, "_episode": self.done}
        info |= {"final_obs": self.obs.float(), "_final_obs": self.done}
        return self._draw(), reward, self.done, ~self.done, info


@pytest.mark.parametrize("binary", [False, True], ids=["MultiDiscrete", "MultiBinary"])
def test_ppo_learns_multi_part_actions(binary):
    """Each action part must echo its obs part: learnt only with one head per part."""
    sandbox.seed_everything(0)
    env = EchoActionEnv(classes=2 if binary else 3, binary=binary)
    agent = PPO(env, PPOConfig(num_steps=16, lr=3e-3, num_minibatches=2))
    first = agent.act(env.reset(seed=0)[0])
    assert first.shape == (16, 3) and first.dtype == torch.long
    returns, _ = play(env, agent, 12_000, seed=0, stop=lambda r: last20(r) > 0.95)
    assert last20(returns) > 0.95


def test_dqn_refuses_multi_discrete_actions_in_one_line():
    with pytest.raises(UsageError, match="MultiDiscrete") as e:
        sandbox.make_agent("dqn", EchoActionEnv())
    assert "\n" not in str(e.value) and "ppo, reinforce" in str(e.value)


class FatalMaskEnv(gymnasium.Env):
    """Gymnasium's mask convention: info["action_mask"] allows the target action (the obs)
    and one other. An allowed action pays 1 if it is the target, else 0; a masked-out action
    is fatal (-10, the episode ends) and counted in ``FatalMaskEnv.fatal``. 8-step episodes."""

    observation_space = spaces.Discrete(4)
    action_space = spaces.Discrete(4)
    fatal = 0  # masked-out actions taken, over every instance (sync sub-envs share it)

    def _draw(self):
        self.target = int(self.np_random.integers(4))
        self.mask = np.zeros(4, np.int8)
        self.mask[[self.target, (self.target + 1 + int(self.np_random.integers(3))) % 4]] = 1
        return self.target, {"action_mask": self.mask.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._draw()

    def step(self, action):
        self.t += 1
        if not self.mask[action]:
            FatalMaskEnv.fatal += 1
            return *self._draw()[:1], -10.0, True, False, self._draw()[1]
        reward = float(action == self.target)
        obs, info = self._draw()
        return obs, reward, False, self.t >= 8, info


class DictMaskEnv(VectorEnv):
    """The same task, torch-native, with the mask as a Dict observation's ``action_mask`` part
    (travelling flat as a ``Flattened`` space); counts masked-out actions in ``fatal``."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs=16):
        self.num_envs, self.device = num_envs, torch.device("cpu")
        parts = {"target": spaces.Discrete(4), "action_mask": spaces.MultiBinary(4)}
        self.single_observation_space = sandbox_spaces.Flattened(spaces.Dict(parts))
        self.single_action_space = spaces.Discrete(4)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.g = torch.Generator().manual_seed(0)
        self.fatal = 0

    def _draw(self):
        n = self.num_envs
        self.target = torch.randint(4, (n,), generator=self.g)
        other = (self.target + 1 + torch.randint(3, (n,), generator=self.g)) % 4
        self.mask = torch.zeros(n, 4, dtype=torch.uint8)
        self.mask[torch.arange(n), self.target] = self.mask[torch.arange(n), other] = 1
        parts = self.single_observation_space.parts  # {key: (space, slice)}
        obs = torch.zeros(n, 5, dtype=torch.uint8)
        obs[:, parts["target"][1]] = self.target[:, None].to(torch.uint8)
        obs[:, parts["action_mask"][1]] = self.mask
        return obs

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.g.manual_seed(seed)
        return self._draw(), {}

    def step(self, action):
        allowed = self.mask.gather(1, action[:, None]).squeeze(1).bool()  # (N,)
        self.fatal += int((~allowed).sum())
        reward = torch.where(allowed, (action == self.target).float(), -10.0)
        done = torch.ones(self.num_envs, dtype=torch.bool)
        info = {"episode": {"r": reward, "l": torch.ones(self.num_envs)}, "_episode": done}
        obs = self._draw()
        info |= {"final_obs": obs, "_final_obs": done}  # one-step episodes: unused by s'
        return obs, reward, done, ~done, info


def test_info_action_mask_never_broken_and_ppo_learns():
    """info["action_mask"] (through the adapter) reaches sampling and greedy actions: a
    masked-out action, fatal here, never occurs; PPO still learns to pick the target."""
    FatalMaskEnv.fatal = 0
    sandbox.seed_everything(0)
    env = sandbox.make(FatalMaskEnv, num_envs=16)
    assert env.single_observation_space.mask is not None  # the mask is a part of the obs
    agent = PPO(env, PPOConfig(num_steps=16, lr=3e-3, num_minibatches=2))
    returns, _ = play(env, agent, 16_000, seed=0, stop=lambda r: last20(r) > 7.6)
    assert FatalMaskEnv.fatal == 0 and last20(returns) > 7.6  # of 8
    obs, _ = env.reset(seed=1)
    for _ in range(50):  # greedy actions honour the mask as well
        obs = env.step(agent.act(obs, deterministic=True))[0]
    assert FatalMaskEnv.fatal == 0


@pytest.mark.parametrize("agent_id", ["ppo", "reinforce"])
def test_dict_action_mask_key_never_broken(agent_id):
    """A Dict observation's action_mask part masks the policy of PPO and REINFORCE, whose
    rollouts score each action under the mask it was drawn with."""
    sandbox.seed_everything(0)
    env = DictMaskEnv()
    agent = sandbox.make_agent(agent_id, env, num_steps=16, lr=3e-3)
    returns, _ = play(env, agent, 8_000, seed=0)
    assert env.fatal == 0 and sum(returns[-160:]) / 160 > 0.9  # the target, nearly always
    obs, _ = env.reset(seed=1)
    obs = env.step(agent.act(obs, deterministic=True))[0]
    assert env.fatal == 0
    with torch.no_grad():
        log_p = agent.net.evaluate(obs, agent.act(obs))[1]  # (N, 4) log-probabilities
    masked = env.mask == 0
    assert bool((log_p.exp()[masked] == 0).all())
    assert torch.allclose(log_p.exp().sum(-1), torch.ones(16))


def test_dqn_explores_and_acts_within_the_mask_and_learns():
    """DQN: epsilon-greedy's random actions and its greedy ones stay within the mask (fatal
    otherwise here: with epsilon 1 at the start, an unmasked draw would hit one at once)."""
    sandbox.seed_everything(0)
    env = DictMaskEnv()
    agent = sandbox.make_agent(
        "dqn", env, learning_starts=256, exploration_steps=2_000, train_freq=16, gradient_steps=4
    )
    returns, _ = play(env, agent, 8_000, seed=0)
    assert env.fatal == 0 and sum(returns[-160:]) / 160 > 0.9
    obs, _ = env.reset(seed=1)
    for _ in range(20):
        obs = env.step(agent.act(obs, deterministic=True))[0]
    assert env.fatal == 0


def test_mask_of_wrong_size_is_one_line():
    class WrongMask(FatalMaskEnv):
        def _draw(self):
            obs, info = super()._draw()
            return obs, {"action_mask": info["action_mask"][:3]}

    env = sandbox.make(WrongMask, num_envs=1)
    with pytest.raises(UsageError, match="action_mask.* 3 entries, expected 4") as e:
        env.reset(seed=0)
    assert "\n" not in str(e.value)


class PartsEnv(gymnasium.Env):
    """One-step episodes whose right action needs every part of a Tuple or Dict observation.

    Tuple: (Discrete(3) k, Box(2) x): the action is k if x[0] > 0 else (k + 1) % 3.
    Dict: {"image": a (5, 3, 1) uint8 image lit at column c, "flip": Discrete(2) f}: the
    action is (c + f) % 3 (the image reaches its CNN inside the Dict).
    """

    action_space = spaces.Discrete(3)

    def __init__(self, kind="tuple"):
        self.kind = kind
        if kind == "tuple":
            self.observation_space = spaces.Tuple((spaces.Discrete(3), spaces.Box(-1, 1, (2,))))
        else:
            image = spaces.Box(0, 255, (5, 3, 1), np.uint8)
            self.observation_space = spaces.Dict({"image": image, "flip": spaces.Discrete(2)})

    def _draw(self):
        k, b = int(self.np_random.integers(3)), int(self.np_random.integers(2))
        if self.kind == "tuple":
            x = self.np_random.uniform(-1, 1, 2).astype(np.float32)
            x[0] = abs(x[0]) if b else -abs(x[0])
            self.answer = k if b else (k + 1) % 3
            return (k, x)
        image = np.zeros((5, 3, 1), np.uint8)
        image[:, k] = 255
        self.answer = (k + b) % 3
        return {"image": image, "flip": b}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._draw(), {}

    def step(self, action):
        reward = float(action == self.answer)
        return self._draw(), reward, True, False, {}


@pytest.mark.parametrize("kind", ["tuple", "dict"])
def test_ppo_learns_tuple_and_dict_obs(kind):
    """One encoder per part (the Dict's image through a CNN), features concatenated: only an
    agent that reads both parts beats 1/2 (one part alone gives at most 1/2)."""
    sandbox.seed_everything(0)
    env = sandbox.make(PartsEnv, num_envs=16, kind=kind)
    agent = PPO(env, PPOConfig(num_steps=16, lr=3e-3, num_minibatches=2))
    encoders = [type(e).__name__ for e in agent.net.encoder.encoders]
    assert encoders == (["OneHot", "Flatten"] if kind == "tuple" else ["OneHot", "ImageCNN"])
    if kind == "dict":
        assert agent.rollout["obs"].dtype == torch.uint8  # pixels and a small index: 1 byte
    returns, _ = play(env, agent, 16_000, seed=0, stop=lambda r: sum(r[-200:]) / 200 > 0.95)
    assert sum(returns[-200:]) / 200 > 0.95


def test_text_part_refused_in_one_line():
    """MiniGrid's shape (image, direction, mission text): the Text part is named, with the
    way around it."""

    class MissionEnv(PartsEnv):
        def __init__(self):
            super().__init__("dict")
            parts = dict(self.observation_space.spaces, mission=spaces.Text(20))
            self.observation_space = spaces.Dict(parts)

    with pytest.raises(UsageError, match="'mission' is Text") as e:
        sandbox.make(MissionEnv, num_envs=1)
    assert "\n" not in str(e.value) and "ImgObsWrapper" in str(e.value)


@pytest.mark.slow
def test_ppo_runs_atari_breakout_with_the_cnn(tmp_path, capsys):
    """ALE/Breakout-v5 with the standard preprocessing: (4, 84, 84) uint8 frames kept uint8
    in the rollout, the Nature CNN; a few thousand samples and a checkpoint of the weights
    and optimizer (the finished rollout is not saved)."""
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    sandbox.seed_everything(0)
    # 2,000 frames (500 agent steps) per episode: an untrained greedy policy may never FIRE
    env = sandbox.make(
        "ALE/Breakout-v5", num_envs=8, eval_num_envs=2, max_num_frames_per_episode=2000
    )
    assert env.single_observation_space == spaces.Box(0, 255, (4, 84, 84), np.uint8)
    agent = PPO(env)
    assert type(agent.net.encoder).__name__ == "ImageCNN"
    assert agent.rollout["obs"].dtype == torch.uint8
    result = sandbox.train(
        env, agent, 4096, seed=0, logdir=tmp_path, progress=False, eval_episodes=2
    )
    size = (result.run_dir / "checkpoint.pt").stat().st_size
    with capsys.disabled():
        print(
            f"\nBreakout PPO: {result.samples_per_s:.0f} samples/s, checkpoint {size / 1e6:.1f} MB"
        )
    assert result.samples == 4096 and "eval/score" in result.metrics
    assert size < 30e6  # the weights and Adam's moments of the ~1.7M-parameter CNN policy
