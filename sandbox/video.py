"""Videos of evaluation episodes: frames from an env's ``frames`` hook, written as animated GIFs.

A GIF needs nothing beyond Pillow, plays in every browser and is what TensorBoard's own
``add_video`` writes into its image summaries (which need moviepy, silent in 2.x: NOTES.md),
so one encoder serves both the file in the run directory and TensorBoard.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from sandbox.core import env_hook
from sandbox.errors import UsageError

VIDEO_ENVS = 4
"""Sub-envs drawn side by side in a video (the first ones of the eval env)."""
MAX_FRAMES = 500
"""Frames per video: one CartPole-v1 episode at most, about 100 MB of frames at 100x600."""


def video_env(env: object) -> object:
    """The eval env of ``env``, built to render (its ``video_env`` hook), checked to draw a frame.

    Raises ``UsageError`` in one line for an env that cannot render, before any run starts.
    """
    make = env_hook(env, "video_env")
    if make is None:
        name = getattr(getattr(env, "spec", None), "id", None) or type(env).__name__
        raise UsageError(
            f"--capture-video needs an env that renders frames: Gymnasium envs with rgb_array "
            f"rendering, sandbox/CartPole-v1, sandbox/Pendulum-v1; {name} has none"
        )
    return make()


def tile(frames: Tensor) -> Tensor:
    """``(K, H, W, 3)`` frames of K sub-envs side by side: ``(H, K * W, 3)``."""
    k, h, w, c = frames.shape
    return frames.permute(1, 0, 2, 3).reshape(h, k * w, c)


def gif_bytes(frames: list[Tensor], fps: float) -> bytes:
    """An animated GIF, looping, of ``frames`` (each ``(H, W, 3)`` uint8)."""
    if not frames:
        raise ValueError("a video needs at least one frame")
    video = torch.stack(frames).cpu().numpy()  # (T, H, W, 3), one copy to the host
    images = [Image.fromarray(frame) for frame in video]
    out = io.BytesIO()
    duration = max(20, round(1000 / fps))  # ms; browsers slow down GIF frames under 20 ms
    images[0].save(
        out, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0
    )
    return out.getvalue()


def write_gif(frames: list[Tensor], path: str | Path, fps: float) -> Path:
    """``gif_bytes`` into ``path`` (its directory made if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gif_bytes(frames, fps))
    return path
