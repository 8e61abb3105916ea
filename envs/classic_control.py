"""Torch-native batched classic control: CartPole and Pendulum on the env's device.

Gymnasium's physics (``gymnasium/envs/classic_control/{cartpole,pendulum}.py``) written over
a batch of ``N`` states as tensor operations, so thousands of sub-envs step at once and a
rollout never leaves the device (the point of "GPU-backed" RL). From the same state and
action each step matches Gymnasium's to 1e-5 (``tests/test_classic_control.py``); the
reset states are drawn from the same distributions with a ``torch.Generator`` of the env's
own. Time limits (500 and 200 steps) truncate as Gymnasium's ``TimeLimit`` does, autoreset
is SAME_STEP, and episode statistics come as ``info["episode"]`` with mask ``_episode``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from torch import Tensor

from sandbox.device import canonical_device
from sandbox.spaces import ActionChecker


class TorchClassicEnv(gymnasium.vector.VectorEnv):
    """What the torch-native classic control envs share: reset, autoreset, statistics.

    A subclass sets its spaces, ``Config`` and, in ``_constants``, ``_init_high`` (reset
    states are uniform in ``[-_init_high, _init_high]``), and writes
    ``_dynamics(state, action) -> (state, reward, terminated)`` and ``_obs(state)``.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
    RESERVED_KWARGS = ()
    Config: type
    single_observation_space: spaces.Box
    single_action_space: spaces.Space

    def __init__(self, num_envs: int, device: str | torch.device, config: Any) -> None:
        self.num_envs, self.device, self.config = num_envs, canonical_device(device), config
        self._constants()
        # A constant reward of 1, returned as is each step (CartPole): do not modify it.
        self._ones = torch.ones(num_envs, device=self.device)  # (N,)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._check_action = ActionChecker(self.single_action_space, num_envs, self.device)
        self._generator = torch.Generator(self.device).manual_seed(0)
        self.state = self._initial_state(num_envs)  # (N, state_dim)
        self._return = torch.zeros(num_envs, device=self.device)  # (N,)
        self._length = torch.zeros(num_envs, dtype=torch.long, device=self.device)  # (N,)

    def _const(self, value: float) -> Tensor:
        """A 0-d float32 constant on the device: ``x * tensor`` skips wrapping a Python float
        into a tensor at every op, which is most of an op's cost at small batches."""
        return torch.tensor(value, dtype=torch.float32, device=self.device)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Start new episodes in every sub-env (reseeding the env's generator if ``seed``)."""
        if seed is not None:
            self._generator.manual_seed(seed)
        self.state = self._initial_state(self.num_envs)
        self._return = torch.zeros_like(self._return)
        self._length = torch.zeros_like(self._length)
        return self._obs(self.state), {}

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """One batched step; finished sub-envs restart at once (SAME_STEP autoreset).

        Every step, on every device, reports ``final_obs`` and ``episode`` for all sub-envs,
        masked by ``_final_obs`` and ``_episode`` (on an accelerator, asking which episodes
        ended would wait for the device). Only the resets differ: on the CPU, where reading
        which episodes ended is free, fresh states are drawn for those sub-envs alone.
        """
        self._check_action(action)
        state, reward, terminated = self._dynamics(self.state, action)
        self._return = self._return + reward
        self._length = self._length + 1
        # As TimeLimit: truncated at the limit, even when the episode terminated there too.
        truncated = self._length >= self.config.max_episode_steps  # (N,)
        done = terminated | truncated  # (N,)
        final_obs = self._obs(state)  # (N, obs_dim)
        self.state = self._autoreset(state, done)
        info = {
            "final_obs": final_obs,
            "_final_obs": done,
            "episode": {"r": self._return, "l": self._length},
            "_episode": done,
        }
        self._return = self._return.masked_fill(done, 0)
        self._length = self._length.masked_fill(done, 0)
        return self._obs(self.state), reward, terminated, truncated, info

    def _autoreset(self, state: Tensor, done: Tensor) -> Tensor:
        """``state`` with fresh states in the rows of ``done``: ``(N, state_dim)``."""
        if self.device.type != "cpu":
            # Fresh states for every row, kept only where an episode ended: no host sync.
            return torch.where(done[:, None], self._initial_state(self.num_envs), state)
        # Reading which episodes ended is free here: fresh states for those rows only, not
        # N drawn to keep a few (most steps end no episode).
        ended = done.nonzero().squeeze(1)  # (E,)
        if len(ended) == 0:
            return state
        return state.index_put((ended,), self._initial_state(len(ended)))

    def eval_env(self) -> TorchClassicEnv:
        """A fresh copy with 10 sub-envs: one evaluation episode each."""
        return type(self)(10, device=self.device, **dataclasses.asdict(self.config))

    def video_env(self) -> TorchClassicEnv:
        """The eval env: it draws its own ``frames`` (``--capture-video``)."""
        return self.eval_env()

    def frames(self, num: int) -> Tensor:
        """The first ``num`` sub-envs drawn now: ``(num, H, W, 3)`` uint8 on the env's device."""
        return self._draw(self.state[:num])

    def state_dict(self) -> dict[str, Any]:
        """Physics state, episode counters and generator: a resumed run continues exactly."""
        return {
            "state": self.state,
            "return": self._return,
            "length": self._length,
            "generator": self._generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> Tensor:
        """Restore ``state_dict``; return the current observation to act on."""
        self.state = state["state"].to(self.device)
        self._return = state["return"].to(self.device)
        self._length = state["length"].to(self.device)
        self._generator.set_state(state["generator"])
        return self._obs(self.state)

    def _constants(self) -> None:
        """Build the subclass's constant tensors on ``self.device`` (before the first reset)."""

    def _initial_state(self, num: int) -> Tensor:
        """``num`` fresh states, U(-_init_high, _init_high) as Gymnasium's resets: (num, d)."""
        high = self._init_high  # (d,)
        u = torch.rand(num, len(high), generator=self._generator, device=self.device)
        return torch.lerp(-high, high, u)

    def _dynamics(self, state: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def _obs(self, state: Tensor) -> Tensor:
        raise NotImplementedError

    def _draw(self, state: Tensor) -> Tensor:
        raise NotImplementedError


# --- a batched renderer: every sub-env's picture at once, as masks over one pixel grid ---
def pixel_grid(height: int, width: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Pixel centres ``(x, y)``, each ``(H, W)``; y grows downwards, as in an image."""
    y, x = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32) + 0.5,
        torch.arange(width, device=device, dtype=torch.float32) + 0.5,
        indexing="ij",
    )
    return x, y


def segment_mask(x: Tensor, y: Tensor, start: Tensor, end: Tensor, half_width: float) -> Tensor:
    """Pixels within ``half_width`` of each segment ``start -> end`` ((K, 2) pixels): (K, H, W).

    The distance to a segment is the distance to the closest point of it: the pixel's
    projection on the line, clamped to the segment's ends.
    """
    sx, sy = start[:, 0, None, None], start[:, 1, None, None]  # (K, 1, 1)
    dx, dy = (end - start)[:, 0, None, None], (end - start)[:, 1, None, None]
    rx, ry = x - sx, y - sy  # (K, H, W) pixel relative to the start
    t = ((rx * dx + ry * dy) / (dx * dx + dy * dy).clamp_min(1e-9)).clamp(0, 1)
    return (rx - t * dx).square() + (ry - t * dy).square() <= half_width**2


def paint(image: Tensor, mask: Tensor, rgb: tuple[int, int, int]) -> Tensor:
    """``image`` (K, H, W, 3) uint8 with ``rgb`` where ``mask`` (K, H, W)."""
    color = torch.tensor(rgb, dtype=torch.uint8, device=image.device)
    return torch.where(mask[..., None], color, image)


def blank(num: int, height: int, width: int, device: torch.device) -> Tensor:
    """White images: ``(num, H, W, 3)`` uint8."""
    return torch.full((num, height, width, 3), 255, dtype=torch.uint8, device=device)


@dataclass(frozen=True)
class CartPoleConfig:
    """Options of the torch-native CartPole (Gymnasium's CartPole-v1 by default)."""

    max_episode_steps: int = 500
    """Episodes are truncated after this many steps (CartPole-v1: 500)."""

    def __post_init__(self) -> None:
        if self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {self.max_episode_steps}")


class CartPoleEnv(TorchClassicEnv):
    """``sandbox/CartPole-v1``: Barto, Sutton & Anderson (1983), as Gymnasium's CartPole-v1.

    State ``(x, x_dot, theta, theta_dot)``; action 0 pushes left, 1 pushes right; reward 1
    per step; terminated when ``|x| > 2.4`` or ``|theta| > 12°``; truncated at 500 steps.
    """

    Config = CartPoleConfig
    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    total_mass = masscart + masspole
    polemass_length = masspole * length
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    _high = np.array([x_threshold * 2, np.inf, theta_threshold * 2, np.inf], dtype=np.float32)
    single_observation_space = spaces.Box(-_high, _high, dtype=np.float32)
    single_action_space = spaces.Discrete(2)

    def __init__(self, num_envs: int = 8, *, device: str | torch.device = "cpu", **config: Any):
        super().__init__(num_envs, device, CartPoleConfig(**config))

    def _constants(self) -> None:
        self._init_high = torch.full((4,), 0.05, device=self.device)  # every state variable
        # the force over the total mass, for action 0 (left) and 1 (right)
        force = torch.tensor([-self.force_mag, self.force_mag], device=self.device)
        self._force_per_mass = force / self.total_mass
        self._gravity = self._const(self.gravity)
        self._four_thirds_length = self._const(4.0 / 3.0 * self.length)
        # |x| and |theta| beyond these end an episode
        self._x_limit = self._const(self.x_threshold)
        self._theta_limit = self._const(self.theta_threshold)

    def _dynamics(self, state: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        _, x_dot, theta, theta_dot = state.unbind(1)  # each (N,)
        cos, sin = theta.cos(), theta.sin()
        # https://coneural.org/florian/papers/05_cart_pole.pdf, as Gymnasium writes it:
        #   temp      = (force + polemass_length * theta_dot² * sin) / total_mass
        #   theta_acc = (gravity * sin - cos * temp)
        #               / (length * (4/3 - masspole * cos² / total_mass))
        #   x_acc     = temp - polemass_length * theta_acc * cos / total_mass
        # with the constants folded, as fused multiply-adds: fewer ops than the formulas, as a
        # small batch costs its ops, not its arithmetic (tests match Gymnasium to 1e-5)
        pml_per_mass = self.polemass_length / self.total_mass
        # index_select gathers without advanced indexing's general path; it takes int32/int64
        # indices only
        force_per_mass = self._force_per_mass.index_select(0, action.long())
        temp = torch.addcmul(force_per_mass, theta_dot.square(), sin, value=pml_per_mass)
        theta_acc = torch.addcmul(sin * self._gravity, cos, temp, value=-1) / torch.addcmul(
            self._four_thirds_length, cos, cos, value=-pml_per_mass
        )
        x_acc = torch.addcmul(temp, theta_acc, cos, value=-pml_per_mass)
        # explicit Euler, Gymnasium's default "euler" integrator: s + tau * ds/dt
        derivative = torch.stack([x_dot, x_acc, theta_dot, theta_acc], dim=1)  # (N, 4)
        state = torch.add(state, derivative, alpha=self.tau)  # (N, 4)
        # |x| or |theta| too far; column by column, not one compare over a strided (N, 2) view
        terminated = (state[:, 0].abs() > self._x_limit) | (state[:, 2].abs() > self._theta_limit)
        return state, self._ones, terminated  # reward 1 per step, the last one too

    def _obs(self, state: Tensor) -> Tensor:
        return state

    def _draw(self, state: Tensor) -> Tensor:
        """Gymnasium's CartPole picture at a quarter of its size (150x100): cart, pole, track."""
        width, height = 150, 100
        scale = width / (2 * self.x_threshold)  # pixels per metre
        x, y = pixel_grid(height, width, self.device)
        k = len(state)
        cart_x = state[:, 0] * scale + width / 2  # (K,)
        cart_y = torch.full_like(cart_x, height - 25.0)
        image = paint(
            blank(k, height, width, self.device), (y - (height - 25.0)).abs() <= 0.5, (0, 0, 0)
        )
        cart = ((x - cart_x[:, None, None]).abs() <= 6.25) & (
            (y - cart_y[:, None, None]).abs() <= 3.75
        )
        image = paint(image, cart, (0, 0, 0))
        pivot = torch.stack([cart_x, cart_y - 2.0], dim=1)  # (K, 2) the axle, on top of the cart
        theta = state[:, 2]  # (K,) from upright, positive to the right
        pole_length = scale * 2 * self.length
        tip = pivot + pole_length * torch.stack([theta.sin(), -theta.cos()], dim=1)  # (K, 2)
        image = paint(image, segment_mask(x, y, pivot, tip, 1.25), (202, 152, 101))
        return paint(image, segment_mask(x, y, pivot, pivot, 1.25), (129, 132, 203))


@dataclass(frozen=True)
class PendulumConfig:
    """Options of the torch-native Pendulum (Gymnasium's Pendulum-v1 by default)."""

    max_episode_steps: int = 200
    """Episodes are truncated after this many steps (Pendulum-v1: 200)."""
    g: float = 10.0
    """Gravity."""

    def __post_init__(self) -> None:
        if self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {self.max_episode_steps}")


def angle_normalize(x: Tensor) -> Tensor:
    """Wrap angles into [-pi, pi)."""
    return ((x + math.pi) % (2 * math.pi)) - math.pi


class PendulumEnv(TorchClassicEnv):
    """``sandbox/Pendulum-v1``: swing a pendulum up and hold it, as Gymnasium's Pendulum-v1.

    State ``(theta, theta_dot)``; observation ``(cos, sin, theta_dot)``; action a torque in
    ``[-2, 2]``; reward ``-(theta² + 0.1 theta_dot² + 0.001 u²)``; never terminates,
    truncated at 200 steps.
    """

    Config = PendulumConfig
    max_speed, max_torque, dt, m, l = 8.0, 2.0, 0.05, 1.0, 1.0  # noqa: E741  Gymnasium's names
    single_observation_space = spaces.Box(
        -np.array([1.0, 1.0, 8.0], np.float32), np.array([1.0, 1.0, 8.0], np.float32)
    )
    single_action_space = spaces.Box(-2.0, 2.0, (1,), np.float32)

    def __init__(self, num_envs: int = 8, *, device: str | torch.device = "cpu", **config: Any):
        super().__init__(num_envs, device, PendulumConfig(**config))

    def _constants(self) -> None:
        self._init_high = torch.tensor([math.pi, 1.0], device=self.device)  # theta, theta_dot

    def _dynamics(self, state: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        th, thdot = state.unbind(1)  # each (N,)
        u = action[:, 0].clamp(-self.max_torque, self.max_torque)  # (N,)
        cost = angle_normalize(th).square() + 0.1 * thdot.square() + 0.001 * u.square()
        g, m, l, dt = self.config.g, self.m, self.l, self.dt  # noqa: E741
        new_thdot = thdot + (3 * g / (2 * l) * th.sin() + 3.0 / (m * l**2) * u) * dt
        new_thdot = new_thdot.clamp(-self.max_speed, self.max_speed)
        new_th = th + new_thdot * dt
        terminated = torch.zeros(len(state), dtype=torch.bool, device=self.device)  # (N,)
        return torch.stack([new_th, new_thdot], dim=1), -cost, terminated

    def _obs(self, state: Tensor) -> Tensor:
        th, thdot = state.unbind(1)
        return torch.stack([th.cos(), th.sin(), thdot], dim=1)  # (N, 3)

    def _draw(self, state: Tensor) -> Tensor:
        """Gymnasium's Pendulum picture at 100x100: a rod from the centre, upright at theta 0."""
        size, length = 100, 40.0
        x, y = pixel_grid(size, size, self.device)
        th = state[:, 0]  # (K,)
        centre = torch.full((len(state), 2), size / 2, device=self.device)  # (K, 2)
        tip = centre + length * torch.stack([th.sin(), -th.cos()], dim=1)  # (K, 2)
        image = paint(
            blank(len(state), size, size, self.device),
            segment_mask(x, y, centre, tip, 4.0),
            (204, 77, 77),
        )
        return paint(image, segment_mask(x, y, centre, centre, 2.5), (0, 0, 0))
