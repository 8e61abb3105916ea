"""Encoders chosen from the observation space: one mechanism every RL agent uses (DESIGN §3a).

``encoder_for(space)`` returns an ``nn.Module`` mapping a batch of observations ``(B, *obs)``
to features ``(B, out_features)``, which the agents' MLP heads take:
flat Box → flatten; image Box (uint8, 2-D or 3-D) → a CNN on pixels scaled to [0, 1] (the
Nature-DQN CNN, Mnih et al. 2015, for images of 36 px and more; two 3x3 convolutions for
smaller ones such as Catch's 10x5); Discrete → one-hot; MultiDiscrete → one-hot per part,
concatenated; MultiBinary → its bits as floats; a Dict or Tuple space (``Flattened``: its
parts travel as one flat vector, ``sandbox/spaces.py``) → one encoder per part, their features
concatenated (Stable-Baselines3's ``MultiInputPolicy``). A user may pass their own module
instead: anything with an ``out_features`` attribute.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from gymnasium import spaces
from torch import Tensor

from sandbox.errors import UsageError
from sandbox.spaces import Flattened

IMAGE_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA; a frame stack of 4 greys is also 4


def image_layout(space: spaces.Box, layout: str = "auto") -> str:
    """``"hw"``, ``"hwc"`` or ``"chw"``: read from the shape, or the declared ``layout``.

    A 3-D shape is read as HWC when only its last size is a channel count (1, 3 or 4), as
    CHW when only its first is; when both or neither are, the layout must be declared.
    """
    shape = space.shape
    if len(shape) == 2:
        return "hw"
    if layout in ("hwc", "chw"):
        return layout
    last, first = shape[-1] in IMAGE_CHANNELS, shape[0] in IMAGE_CHANNELS
    if last != first:
        return "hwc" if last else "chw"
    raise UsageError(
        f"cannot tell the channel axis of the image observation space {space}: expected "
        f"channels (1, 3 or 4) first or last; declare it with image_layout='hwc' or 'chw'"
    )


def is_image(space: spaces.Space) -> bool:
    """A uint8 Box of 2 or 3 dimensions: pixels."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) in (2, 3)


class Flatten(nn.Module):
    """A flat (or any float) Box: ``(B, *shape) -> (B, prod(shape))``."""

    def __init__(self, space: spaces.Box) -> None:
        super().__init__()
        self.out_features = int(np.prod(space.shape))

    def forward(self, obs: Tensor) -> Tensor:
        return obs.float().flatten(1)


class OneHot(nn.Module):
    """Discrete ``(B,)`` or MultiDiscrete ``(B, k)`` indices -> concatenated one-hots."""

    def __init__(self, space: spaces.Discrete | spaces.MultiDiscrete) -> None:
        super().__init__()
        if isinstance(space, spaces.Discrete):
            nvec, start = np.array([space.n]), np.array([space.start])
        else:
            nvec, start = space.nvec.reshape(-1), np.asarray(space.start).reshape(-1)
        self.sizes = [int(n) for n in nvec]
        self.register_buffer("start", torch.as_tensor(start, dtype=torch.long))
        self.out_features = sum(self.sizes)

    def forward(self, obs: Tensor) -> Tensor:
        idx = obs.long().reshape(len(obs), -1) - self.start  # (B, k)
        parts = [F.one_hot(idx[:, i], n) for i, n in enumerate(self.sizes)]
        return torch.cat(parts, dim=-1).float()  # (B, sum(nvec))


class ImageCNN(nn.Module):
    """Pixels ``(B, H, W[, C])`` or ``(B, C, H, W)`` uint8 -> ``(B, 512)`` features.

    The Nature-DQN CNN (32 8x8/4, 64 4x4/2, 64 3x3/1, Linear 512, ReLU) where the image has
    36 px or more on each side (the stack's smallest input); smaller images get two 3x3
    convolutions of 32 and 64 channels (stride 1) before the same Linear 512.
    """

    def __init__(self, space: spaces.Box, layout: str = "auto") -> None:
        super().__init__()
        self.layout = image_layout(space, layout)
        if self.layout == "hw":
            (h, w), c = space.shape, 1
        elif self.layout == "hwc":
            h, w, c = space.shape
        else:
            c, h, w = space.shape
        if min(h, w) >= 36:
            convs = [nn.Conv2d(c, 32, 8, 4), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU()]
            convs += [nn.Conv2d(64, 64, 3, 1), nn.ReLU()]
        else:
            convs = [nn.Conv2d(c, 32, 3, 1, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU()]
        self.convs = nn.Sequential(*convs, nn.Flatten())
        with torch.no_grad():
            n = self.convs(torch.zeros(1, c, h, w)).shape[1]  # flattened conv features
        self.linear = nn.Sequential(nn.Linear(n, 512), nn.ReLU())
        for m in self.modules():  # orthogonal, gain sqrt(2), as CleanRL's ppo_atari
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.orthogonal_(m.weight, math.sqrt(2))
                nn.init.zeros_(m.bias)
        self.out_features = 512

    def forward(self, obs: Tensor) -> Tensor:
        x = obs.float() / 255.0  # uint8 pixels -> [0, 1]
        if self.layout == "hw":
            x = x.unsqueeze(1)  # (B, 1, H, W)
        elif self.layout == "hwc":
            x = x.permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)
        return self.linear(self.convs(x))  # (B, 512)


class MultiInput(nn.Module):
    """A ``Flattened`` Dict or Tuple: ``(B, D)`` -> each part's encoder on its own slice,
    features concatenated ``(B, sum of out_features)``.

    Every part is encoded, a Dict's ``action_mask`` too (it tells the value what is legal; the
    policy also applies it to its logits, ``agents/policies.py``).
    """

    def __init__(self, space: Flattened, layout: str = "auto") -> None:
        super().__init__()
        self.space = space
        self.keys = list(space.parts)
        self.encoders = nn.ModuleList(encoder_for(leaf, layout) for leaf, _ in space.parts.values())
        self.out_features = sum(int(e.out_features) for e in self.encoders)

    def forward(self, obs: Tensor) -> Tensor:
        parts = self.space.split(obs)  # {key: (B, *part shape)}
        feats = [enc(parts[k]) for k, enc in zip(self.keys, self.encoders, strict=True)]
        return torch.cat(feats, dim=-1)  # (B, out_features)


def encoder_for(space: spaces.Space, layout: str = "auto") -> nn.Module:
    """The encoder of ``space`` (see the module docstring); a ``UsageError`` naming a space
    no encoder takes, and the way around it."""
    if isinstance(space, Flattened):  # before Box: it is one
        return MultiInput(space, layout)
    if isinstance(space, spaces.Dict | spaces.Tuple):  # a torch-native env's own Dict
        raise UsageError(
            f"the observation space {space} must travel as one flat tensor: make the env's "
            "observation space sandbox.spaces.Flattened(space), its observations flat vectors"
        )
    if is_image(space):
        return ImageCNN(space, layout)
    if isinstance(space, spaces.Box | spaces.MultiBinary):
        return Flatten(space)
    if isinstance(space, spaces.Discrete | spaces.MultiDiscrete):
        return OneHot(space)
    raise UsageError(
        f"no encoder for the observation space {space}: expected Box, Discrete, MultiDiscrete "
        f"or MultiBinary; wrap the env to drop or convert that part (MiniGrid: ImgObsWrapper), "
        f"or pass your own encoder (an nn.Module with out_features)"
    )


def is_flat(space: spaces.Space) -> bool:
    """A float Box: the agents' plain MLP takes it as it is (its state-dict keys unchanged)."""
    return (
        isinstance(space, spaces.Box) and not is_image(space) and not isinstance(space, Flattened)
    )
