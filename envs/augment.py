"""Data augmentation (d2l §14.1): random crops, flips, rotations and colour jitter, per sample.

A dataset env takes a pipeline as its ``augment`` option, by name from the command line
(``--env.augment "crop:4,flip,rotate:10,jitter:0.2"``) or, from Python, as any callable on
``(N, C, H, W)`` batches (a ``torchvision.transforms.v2`` transform, your own function). The
env applies it to each training batch on its device, to images in ``[0, 1]`` as torchvision's
float images are (the env maps its standardized pixels there and back), so black is 0 and
the held-out splits stay clean.

The named transforms follow ``torchvision.transforms.v2`` (tests/test_augment.py checks each
against torchvision's functional op with the same parameters), but every sample draws its own
parameters from the env's ``torch.Generator``. A v2 transform called on a batch draws ONE set
for the whole batch (pytorch/vision#2929): every digit would move the same way.

Why torch ops and not kornia: ``kornia.augmentation`` does draw per sample on the device, and
it installs here, but it draws from torch's global RNG (no generator argument), so the env
could not own its augmentation stream (same seed, same batches; an exact resume from the env's
``state_dict``) without saving and restoring the global state around every batch; and it is one
more dependency (with a compiled ``kornia_rs``) for four transforms that are a few lines each.
Here consecutive geometric transforms compose into one map per sample and ONE
``grid_sample`` call (nearest, zero fill: torchvision's defaults), so ``crop,flip,rotate`` is
one interpolation of the batch. Unlike torchvision applied in turn, a rotated crop then keeps
image content where the crop alone would have filled black.

=======  =======================  ===============================================
name     torchvision v2           per sample
=======  =======================  ===============================================
crop:P   RandomCrop(size, P)      zero-pad by P, crop back at a random offset
flip:p   RandomHorizontalFlip(p)  mirror left-right with probability p (0.5)
rotate:D RandomRotation(D)        rotate by an angle uniform in [-D, D] degrees
jitter:J ColorJitter(J, J, J)     brightness, contrast, saturation factors in
                                  [1 - J, 1 + J]; ``jitter:B:C:S`` sets each
=======  =======================  ===============================================

ColorJitter applies its parts in a random order; here they always go brightness, contrast,
saturation (saturation leaves one-channel images as they are, as torchvision does).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from sandbox.errors import UsageError

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)
"""ITU-R 601-2 luma, torchvision's ``rgb_to_grayscale``."""


def _uniform(n: int, low: float, high: float, g: torch.Generator, device: torch.device) -> Tensor:
    """``n`` draws uniform in ``[low, high]``, shape ``(n,)``."""
    return low + (high - low) * torch.rand(n, generator=g, device=device)


# --- geometric transforms ---------------------------------------------------------------------
# Each maps points back through itself: given where every output pixel reads, ``(N, 2, H * W)``
# (rows x and y, in centred pixel coordinates: x right, y down, the image centre at 0), it
# returns where they read before it, drawing its own parameters per sample.


@dataclass(frozen=True)
class Crop:
    """``RandomCrop(size=(H, W), padding=padding)``: a shift by ``(dx, dy)`` in
    ``[-padding, padding]`` each, integer and uniform, the uncovered border zero."""

    padding: int

    def read_back(self, where: Tensor, g: torch.Generator) -> Tensor:
        n, k = len(where), self.padding
        shift = torch.randint(
            -k, k + 1, (n, 2, 1), generator=g, device=where.device, dtype=where.dtype
        )  # (n, 2, 1) whole pixels
        return where + shift  # output pixel (x, y) reads (x + dx, y + dy)


@dataclass(frozen=True)
class Flip:
    """``RandomHorizontalFlip(p)``: x -> -x for a random fraction ``p`` of the samples."""

    p: float = 0.5

    def read_back(self, where: Tensor, g: torch.Generator) -> Tensor:
        flip = torch.rand(len(where), 1, 1, generator=g, device=where.device) < self.p
        mirror = _constants(1, 1, where.device, where.dtype)[2]  # (2, 1) x -> -x
        return torch.where(flip, where * mirror, where)  # (n, 2, HW); a mirror undoes itself


@dataclass(frozen=True)
class Rotate:
    """``RandomRotation(degrees)``: counter-clockwise by an angle uniform in
    ``[-degrees, degrees]`` about the image centre, corners filled with zero."""

    degrees: float

    def read_back(self, where: Tensor, g: torch.Generator) -> Tensor:
        n = len(where)
        angle = _uniform(n, -self.degrees, self.degrees, g, where.device) * (math.pi / 180)
        cos, sin = angle.cos(), angle.sin()  # (n,) each
        # counter-clockwise on screen (y down) is clockwise in these coordinates; reading
        # back, output -> input, turns the other way
        inverse = torch.stack([cos, -sin, sin, cos], dim=1).view(n, 2, 2)
        return inverse @ where  # (n, 2, HW)


GEOMETRIC = (Crop, Flip, Rotate)


def warp(X: Tensor, steps: Sequence[Crop | Flip | Rotate], g: torch.Generator) -> Tensor:
    """``steps`` applied in turn to each image of ``X`` ``(N, C, H, W)``, as one map per sample
    and one ``grid_sample`` (nearest, zero fill).

    Example:
        >>> X = torch.arange(4.0).reshape(1, 1, 2, 2)
        >>> warp(X, [Flip(p=1.0)], torch.Generator().manual_seed(0)).flatten().tolist()
        [1.0, 0.0, 3.0, 2.0]
    """
    N, C, H, W = X.shape
    pixels, scale, _ = _constants(H, W, X.device, X.dtype)  # (2, H * W), (2, 1)
    where = pixels.expand(N, 2, H * W)  # rows x and y: H * W wide, which vectorizes
    for step in reversed(steps):  # the last step is undone first
        where = step.read_back(where, g)  # (N, 2, H * W)
    grid = (where * scale).transpose(1, 2).reshape(N, H, W, 2)  # grid_sample's (x, y)
    return F.grid_sample(X, grid, mode="nearest", padding_mode="zeros", align_corners=False)


@functools.lru_cache(maxsize=16)
def _constants(
    H: int, W: int, device: torch.device, dtype: torch.dtype
) -> tuple[Tensor, Tensor, Tensor]:
    """Built once per image size: the output pixels' centres, centred, as rows x and y,
    ``(2, H * W)``; the scale ``(2, 1)`` to ``grid_sample``'s coordinates
    (``align_corners=False``: -1 and 1 are the outer pixel edges, so x scales by 2 / W); the
    mirror ``(2, 1)``, x -> -x."""
    ys, xs = torch.meshgrid(
        torch.arange(H, device=device, dtype=dtype) - (H - 1) / 2,
        torch.arange(W, device=device, dtype=dtype) - (W - 1) / 2,
        indexing="ij",
    )  # (H, W) each
    pixels = torch.stack([xs.flatten(), ys.flatten()])
    scale = torch.tensor([[2.0 / W], [2.0 / H]], device=device, dtype=dtype)
    return pixels, scale, torch.tensor([[-1.0], [1.0]], device=device, dtype=dtype)


# --- colour -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Jitter:
    """``ColorJitter(brightness, contrast, saturation)`` with a factor per sample and part,
    uniform in ``[max(0, 1 - s), 1 + s]``; each result is clipped to ``[0, 1]``."""

    brightness: float
    contrast: float
    saturation: float

    def __call__(self, X: Tensor, g: torch.Generator) -> Tensor:
        N, C = X.shape[:2]

        def factor(strength: float) -> Tensor:  # (N, 1, 1, 1)
            return _uniform(N, max(0.0, 1 - strength), 1 + strength, g, X.device)[
                :, None, None, None
            ]

        if self.brightness:  # blend with black
            X = (X * factor(self.brightness)).clamp(0, 1)
        if self.contrast:  # blend with the image's mean grey
            mean = grayscale(X).mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
            X = torch.lerp(mean, X, factor(self.contrast)).clamp(0, 1)
        if self.saturation and C == 3:  # blend with the image in grey
            X = torch.lerp(grayscale(X), X, factor(self.saturation)).clamp(0, 1)
        return X


def grayscale(X: Tensor) -> Tensor:
    """``(N, 1, H, W)`` luma of RGB images ``(N, 3, H, W)``; one-channel images as they are."""
    if X.shape[1] != 3:
        return X
    weights = torch.tensor(GRAY_WEIGHTS, device=X.device, dtype=X.dtype)
    return (X * weights[:, None, None]).sum(dim=1, keepdim=True)


# --- the pipeline -----------------------------------------------------------------------------
class Pipeline:
    """Transforms applied in turn to a batch of images ``(N, C, H, W)`` in ``[0, 1]``.

    Consecutive geometric transforms run as one ``warp``; a user's callable is called on the
    batch as it is (its randomness is its own) and must keep the batch's shape.

    Args:
        steps: ``Crop``, ``Flip``, ``Rotate``, ``Jitter`` or callables ``X -> X``.
        spec: how it was written (``"crop:4,flip"``), for the run's config.

    Example:
        >>> pipe = parse("crop:1,flip")
        >>> pipe(torch.rand(8, 1, 8, 8), torch.Generator().manual_seed(0)).shape
        torch.Size([8, 1, 8, 8])
    """

    def __init__(self, steps: Sequence[object], spec: str) -> None:
        self.spec = spec
        self.stages: list[object] = []  # each a list of geometric steps, or one other step
        for step in steps:
            if isinstance(step, GEOMETRIC):
                if self.stages and isinstance(self.stages[-1], list):
                    self.stages[-1].append(step)
                else:
                    self.stages.append([step])
            else:
                self.stages.append(step)

    def __call__(self, X: Tensor, generator: torch.Generator) -> Tensor:
        for stage in self.stages:
            if isinstance(stage, list):
                X = warp(X, stage, generator)
            elif isinstance(stage, Jitter):
                X = stage(X, generator)
            else:
                X = _user_step(stage, X)
        return X

    def __repr__(self) -> str:
        return f"Pipeline({self.spec!r})"


def _user_step(fn: Callable[[Tensor], Tensor], X: Tensor) -> Tensor:
    out = fn(X)
    if not isinstance(out, Tensor) or out.shape != X.shape:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise UsageError(
            f"augment callable {_name(fn)} must return a tensor of the batch's shape "
            f"{tuple(X.shape)}, got {got}"
        )
    return out


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


# --- the option: a spec string or a callable --------------------------------------------------
USAGE = "crop:PIXELS, flip[:P], rotate:DEGREES, jitter:S or jitter:B:C:S"


def _number(name: str, text: str, kind: type, low: float, high: float = math.inf) -> float:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        what = "an integer" if kind is int else "a number"
        bound = f"in [{low:g}, {high:g}]" if high < math.inf else f">= {low:g}"
        raise UsageError(f"augment {name!r} takes {what} {bound}, got {text!r} (as {USAGE})")
    return value


def _step(item: str) -> object:
    name, *values = item.strip().split(":")
    name = name.strip().lower()
    arity = {"crop": (1,), "flip": (0, 1), "rotate": (1,), "jitter": (1, 3)}
    if name not in arity:
        raise UsageError(
            f"unknown augmentation {name!r}; expected one of {', '.join(arity)} ({USAGE})"
        )
    if len(values) not in arity[name]:
        raise UsageError(f"augment {name!r} got {len(values)} values in {item!r}; expected {USAGE}")
    if name == "crop":
        return Crop(int(_number(name, values[0], int, 0)))
    if name == "flip":
        return Flip(_number(name, values[0], float, 0, 1) if values else 0.5)
    if name == "rotate":
        return Rotate(_number(name, values[0], float, 0, 180))
    strengths = [_number(name, v, float, 0) for v in values] * (3 // len(values))
    return Jitter(*strengths)


def parse(spec: str) -> Pipeline:
    """The pipeline written as ``"crop:4,flip,rotate:10,jitter:0.2"`` (module docstring).

    Example:
        >>> parse("crop:4, flip").stages
        [[Crop(padding=4), Flip(p=0.5)]]
        >>> parse("blur:2")
        Traceback (most recent call last):
        ...
        sandbox.errors.UsageError: unknown augmentation 'blur'; expected one of crop, flip, \
rotate, jitter (crop:PIXELS, flip[:P], rotate:DEGREES, jitter:S or jitter:B:C:S)
    """
    items = [item for item in spec.split(",") if item.strip()]
    if not items:
        raise UsageError(f"augment got no transform in {spec!r}; expected {USAGE}")
    return Pipeline([_step(item) for item in items], spec)


def pipeline(option: str | Callable[[Tensor], Tensor] | None) -> Pipeline | None:
    """The env option ``augment``: ``""``/``None`` for none, a spec string, or a callable.

    Example:
        >>> pipeline(lambda X: X.flip(-1)).spec
        'callable <lambda>'
    """
    if not option:
        return None
    if isinstance(option, str):
        if option.startswith("callable "):  # a run's config naming a Python callable
            raise UsageError(
                f"augment {option!r} was a Python callable; pass it again as augment=..."
            )
        return parse(option)
    if callable(option):
        return Pipeline([option], f"callable {_name(option)}")
    raise UsageError(
        f"augment must be a string such as 'crop:4,flip' or a callable on (N, C, H, W) "
        f"images, got {type(option).__name__}"
    )
