"""Actions checked against the action space on every step, and structured observations as
one flat vector (DESIGN §2, §3a).

An ``ActionChecker`` is what every sandbox env calls first in ``step``. Its shape, dtype and
device checks cost no synchronisation; the value checks (NaN, bounds, class range) read the
tensor, so they run where that is free (CPU). On an accelerator the loop's once-per-interval
non-finite check stands in for them.

A ``Flattened`` space is a Dict or Tuple observation space whose members travel as one flat
tensor ``(N, D)``, so the loop, rollouts and replay buffers keep handling one tensor; the
agents' encoders split it back into its parts (``agents/encoders.py``), and a Dict's
``action_mask`` part is the policy's action mask.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from sandbox.device import canonical_device
from sandbox.errors import ActionError, UsageError

INTEGER_SPACES = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
LEAF_SPACES = (spaces.Box, *INTEGER_SPACES)
"""The parts a ``Flattened`` space holds (inside any nesting of Dict and Tuple)."""
MASK_KEY = "action_mask"
"""The Dict observation key of an action mask (PettingZoo's and Gymnasium's name)."""


def _leaves(space: spaces.Space, path: str = "") -> list[tuple[str, spaces.Space]]:
    """``(key, space)`` of each non-Dict/Tuple part, depth first in the space's own order;
    nested keys are joined with dots (``"agent.pos"``), Tuple members named by index."""
    if isinstance(space, spaces.Dict):
        items = [(str(k), s) for k, s in space.spaces.items()]
    elif isinstance(space, spaces.Tuple):
        items = [(str(i), s) for i, s in enumerate(space.spaces)]
    else:
        return [(path, space)]
    return [leaf for k, s in items for leaf in _leaves(s, f"{path}.{k}" if path else k)]


def _bounds(space: spaces.Space) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest value of each flattened entry of a leaf space (as float64)."""
    if isinstance(space, spaces.Box):
        return space.low.astype(np.float64).ravel(), space.high.astype(np.float64).ravel()
    if isinstance(space, spaces.Discrete):
        low = np.array([space.start], np.float64)
        return low, low + space.n - 1
    if isinstance(space, spaces.MultiDiscrete):
        low = np.asarray(space.start, np.float64).ravel()
        return low, low + space.nvec.ravel() - 1
    n = int(np.prod(space.shape))  # MultiBinary
    return np.zeros(n), np.ones(n)


class Flattened(spaces.Box):
    """A Dict or Tuple observation space whose members travel as one flat vector.

    A ``Box`` of shape ``(D,)``: each part's values in the space's order, raveled as they are
    (a Discrete part is its index, not a one-hot; an image its pixels), so ``split`` gives the
    encoders every part back in its own shape. The dtype is uint8 where every part's values
    fit (pixels, small Discrete, MultiBinary, masks: a rollout of images stays 1 byte a
    pixel), else float32, which holds each part's values exactly (integers up to 2**24).

    Args:
        space: the Dict or Tuple space; its leaves must be Box, Discrete, MultiDiscrete or
            MultiBinary (a Text, Sequence or Graph part is refused naming the part).

    Example:
        >>> parts = {"pos": spaces.Box(-1, 1, (2,)), "cell": spaces.Discrete(3)}
        >>> sp = Flattened(spaces.Dict(parts))
        >>> sp.shape, sp.dtype, list(sp.parts)
        ((3,), dtype('float32'), ['cell', 'pos'])
        >>> sp.flatten({"pos": np.array([0.5, -0.5]), "cell": 2})
        array([ 2. ,  0.5, -0.5], dtype=float32)
    """

    def __init__(self, space: spaces.Dict | spaces.Tuple) -> None:
        if not isinstance(space, spaces.Dict | spaces.Tuple):
            raise TypeError(f"Flattened takes a Dict or Tuple space, got {space}")
        self.structure = space
        self.parts: dict[str, tuple[spaces.Space, slice]] = {}
        lows, highs, start = [], [], 0
        for key, leaf in _leaves(space):
            if not isinstance(leaf, LEAF_SPACES):
                raise UsageError(
                    f"the observation part {key!r} is {leaf}, which no encoder takes: expected "
                    "Box, Discrete, MultiDiscrete or MultiBinary parts; drop or convert that "
                    "part with a wrapper (MiniGrid: ImgObsWrapper keeps the image)"
                )
            low, high = _bounds(leaf)
            self.parts[key] = (leaf, slice(start, start + low.size))
            lows.append(low)
            highs.append(high)
            start += low.size
        low, high = np.concatenate(lows), np.concatenate(highs)
        fits = all(
            leaf.dtype == np.uint8 if isinstance(leaf, spaces.Box) else True
            for leaf, _ in self.parts.values()
        ) and bool((low >= 0).all() and (high <= 255).all())
        dtype = np.uint8 if fits else np.float32
        super().__init__(low.astype(dtype), high.astype(dtype), (start,), dtype)

    @property
    def mask(self) -> slice | None:
        """Where a Dict's top-level ``action_mask`` part lies in the vector, or ``None``."""
        part = self.parts.get(MASK_KEY) if isinstance(self.structure, spaces.Dict) else None
        return None if part is None else part[1]

    def flatten(self, value: Any) -> np.ndarray:
        """One observation of ``structure`` (nested dicts/tuples of arrays) -> ``(D,)``."""
        out = np.empty(self.shape, self.dtype)
        for key, (_, where) in self.parts.items():
            part = value
            for k in key.split("."):  # a Tuple member by index, a Dict member by key
                part = part[int(k)] if isinstance(part, tuple | list) else part[k]
            out[where] = np.asarray(part).ravel()
        return out

    def split(self, flat: Tensor) -> dict[str, Tensor]:
        """A batch ``(B, D)`` -> ``{key: (B, *part shape)}``, views of ``flat``."""
        return {
            key: flat[:, where].reshape(len(flat), *leaf.shape)
            for key, (leaf, where) in self.parts.items()
        }

    def __repr__(self) -> str:
        return f"Flattened({self.structure}, ({self.shape[0]},), {self.dtype})"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class ActionChecker:
    """Checks that an action is a batch of ``num_envs`` members of ``space``, on ``device``.

    Built once per env (the expected shape and bounds are precomputed) and called first
    in every ``step``; raises ``ActionError`` naming what was expected and what was given.

    Args:
        space: the env's ``single_action_space`` (Box, Discrete, MultiDiscrete, MultiBinary).
        num_envs: the batch size ``N`` the env expects.
        device: the env's device; the action must already be there.

    Example:
        >>> from gymnasium.spaces import Discrete
        >>> check = ActionChecker(Discrete(3), 2, torch.device("cpu"))
        >>> check(torch.tensor([0, 2]))
        >>> check(torch.tensor([0, 3]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sandbox.errors.ActionError: action out of range: expected class indices in [0, 3), got ...
    """

    def __init__(self, space: gymnasium.Space, num_envs: int, device: torch.device) -> None:
        if not isinstance(space, (spaces.Box, *INTEGER_SPACES)):
            raise ActionError(
                f"unsupported action space {space}: expected Box, Discrete, MultiDiscrete "
                "or MultiBinary"
            )
        self.space, self.num_envs, self.device = space, num_envs, canonical_device(device)
        self.shape = (num_envs, *space.shape)
        self.discrete = isinstance(space, INTEGER_SPACES)  # integer class indices
        # Reading values costs a host sync: only where that is free (CPU).
        self.check_values = self.device.type == "cpu"
        self.bounds = None
        self.scalar_bounds: tuple[float, float] | None = None  # the same bounds everywhere
        if not self.discrete and space.is_bounded("both"):
            self.bounds = (torch.as_tensor(space.low), torch.as_tensor(space.high))
            low, high = float(space.low.min()), float(space.high.max())
            if low == float(space.low.max()) and high == float(space.high.min()):
                self.scalar_bounds = (low, high)

    def __call__(self, action: object) -> None:
        """Raise ``ActionError`` unless ``action`` fits; return ``None`` when it does."""
        if not isinstance(action, Tensor):
            raise ActionError(
                f"action must be a torch.Tensor on {self.device}, got {type(action).__name__}"
            )
        if action.shape != self.shape:
            raise ActionError(
                f"action shape mismatch: expected {_shape(self.shape)} ({self.num_envs} sub-envs "
                f"x action shape {_shape(self.space.shape)}), got {_shape(tuple(action.shape))}"
            )
        if action.device != self.device:
            raise ActionError(
                f"action on the wrong device: expected {self.device}, got {action.device}"
            )
        if self.discrete:
            self._check_indices(action)
        elif not action.is_floating_point():
            raise ActionError(f"action dtype mismatch: expected a float tensor, got {action.dtype}")
        elif self.check_values:
            self._check_box_values(action.detach())

    def _check_indices(self, action: Tensor) -> None:
        if action.is_floating_point() or action.is_complex() or action.dtype == torch.bool:
            raise ActionError(
                f"action dtype mismatch: expected integer class indices for "
                f"{self.space}, got {action.dtype}"
            )
        if self.check_values:
            low, high = self._index_range()  # Python ints, or nvec per part
            a_min, a_max = (int(v) for v in action.aminmax())  # one reduction
            if isinstance(high, Tensor):  # a bound per part: compare element-wise
                bad = a_min < low or bool((action >= high).any())
                high = high.tolist()
            else:
                bad = a_min < low or a_max >= high
            if bad:
                raise ActionError(
                    f"action out of range: expected class indices in [{low}, "
                    f"{high}), got values from {a_min} to {a_max}"
                )

    def _index_range(self) -> tuple[int | Tensor, int | Tensor]:
        """[low, high) of the class indices: Discrete's start and start + n, MultiDiscrete's
        0 and nvec (one bound per part), MultiBinary's 0 and 2."""
        if isinstance(self.space, spaces.Discrete):
            return int(self.space.start), int(self.space.start + self.space.n)
        if isinstance(self.space, spaces.MultiDiscrete):
            nvec = torch.as_tensor(self.space.nvec)
            return 0, (int(nvec.max()) if bool((nvec == nvec.max()).all()) else nvec)
        return 0, 2

    def _check_box_values(self, a: Tensor) -> None:
        if self.scalar_bounds is not None:  # one min/max read checks bounds, NaN and inf
            low, high = self.scalar_bounds
            a_min, a_max = (float(v) for v in a.aminmax())
            if low <= a_min and a_max <= high:  # False for a NaN, which min/max propagate
                return
        # One cheap reduction: NaN and inf propagate through a sum (isfinite().all() costs
        # ~10x more); only a non-finite sum pays for the exact count.
        if not math.isfinite(float(a.sum())) and not bool(torch.isfinite(a).all()):
            bad = int((~torch.isfinite(a)).sum())
            raise ActionError(f"action holds {bad} NaN/inf value(s): expected finite numbers")
        if self.bounds is not None:
            low, high = self.bounds
            if bool(((a < low) | (a > high)).any()):
                raise ActionError(
                    f"action outside the space: expected values in [{float(low.min())}, "
                    f"{float(high.max())}], got values from {float(a.min())} to {float(a.max())}"
                )
