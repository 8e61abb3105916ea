"""``--capture-video``: evaluation episodes as a GIF in the run directory and in TensorBoard."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from PIL import Image

import sandbox
from sandbox.apps.cli import main
from tests.conftest import tensorboard_server


class Dot(gymnasium.Env):
    """A dot walking right for 5 steps, drawn as a white column on black: rgb_array frames."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 5, (1,), np.float32)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(1, self.t, np.float32), 1.0, self.t >= 5, False, {}

    def render(self):
        frame = np.zeros((8, 6, 3), np.uint8)  # (H, W, 3)
        frame[:, self.t] = 255
        return frame


def train(env, tmp_path, steps=256, **options):
    sandbox.seed_everything(0)
    agent = sandbox.make_agent("ppo", env, num_steps=16)
    return sandbox.train(env, agent, steps, seed=0, logdir=tmp_path, progress=False,
                         eval_episodes=4, **options)  # fmt: skip


def gif_frames(path):
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        return gif.n_frames, gif.size


@pytest.mark.slow  # a TensorBoard server starts in 5-20 s
def test_a_torch_native_run_writes_a_playable_gif_that_tensorboard_lists(tmp_path):
    result = train(sandbox.make("sandbox/CartPole-v1", 4), tmp_path, capture_video=True)
    final = result.run_dir / "videos" / "eval-256.gif"  # one per evaluation, by sample
    assert len(list(final.parent.glob("eval-*.gif"))) > 1
    frames, size = gif_frames(final)
    assert frames > 1 and size == (4 * 150, 100)  # four sub-envs side by side
    with tensorboard_server(tmp_path) as api:
        tags = api("/data/plugin/images/tags")
    run = str(result.run_dir.relative_to(tmp_path))
    assert "media/episode" in tags[run]


def test_a_gymnasium_env_is_recorded_through_its_rgb_array_render(tmp_path):
    env = sandbox.make(Dot, 2)  # the adapter, with a user's env class
    result = train(env, tmp_path, steps=64, capture_video=True)
    frames, size = gif_frames(result.run_dir / "videos" / "eval-64.gif")
    assert size == (4 * 6, 8) and frames == 6  # the reset frame and 5 steps


def test_recording_does_not_change_the_evaluation(tmp_path):
    env = lambda: sandbox.make("sandbox/Pendulum-v1", 4)  # noqa: E731
    plain = train(env(), tmp_path / "a", eval_every=256)
    recorded = train(env(), tmp_path / "b", eval_every=256, capture_video=True)
    assert plain.metrics == recorded.metrics


def test_the_cart_is_drawn_where_it_is():
    env = sandbox.make("sandbox/CartPole-v1", 2)
    env.reset(seed=0)
    env.state[:] = 0
    env.state[1, 0] = 1.0  # one metre right
    frames = env.frames(2)  # (2, H, W, 3)
    assert frames.shape == (2, 100, 150, 3) and frames.dtype == torch.uint8
    black = (frames.int().sum(-1) == 0)[:, 70:74]  # rows of the cart, above the track
    columns = [b.nonzero()[:, 1].float().mean() for b in black]
    assert float(columns[1] - columns[0]) == pytest.approx(150 / 4.8, abs=1)


def test_sandbox_eval_records_a_trained_agent(tmp_path, capsys):
    result = train(sandbox.make("sandbox/CartPole-v1", 4), tmp_path)
    assert main(["eval", str(result.run_dir), "--capture-video"]) == 0
    out = capsys.readouterr().out
    path = out.split("video     ")[1].strip()
    assert gif_frames(path)[0] > 1


def test_an_env_that_cannot_render_is_one_line(tmp_path, capsys):
    code = main(["run", "sandbox/LinReg-v0", "gradient", "--capture-video", "--no-progress",
                 "--logdir", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "renders frames" in err
    assert not list(tmp_path.iterdir())  # refused before any run directory
