"""Data-centric lessons: garbage in (label noise, feature noise, class imbalance) and augmentation.

Each is an option of every dataset env (``--env.label-noise 0.4``, ``--env.augment-shift 1``),
applied by ``SupervisedEnv`` to its train split only, so the held-out splits stay clean and
measure the harm (or the help). They are options rather than Gymnasium wrappers because
they act on the labels, which only the env holds, and because a wrapper would hide the env's
``eval_env``/``score``/``state_dict`` from the loop. The functions here are the math: batched
tensor operations, no per-sample Python loop.

Augmentation draws its randomness per sample: ``torchvision.transforms.v2`` applied to an
``(N, C, H, W)`` batch draws ONE parameter set for the whole batch (pytorch/vision#2929), so
every image would move the same way. Shifts and flips are done here by index arithmetic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def flip_labels(y: Tensor, rate: float, num_classes: int, generator: torch.Generator) -> Tensor:
    """A copy of ``y`` with ``round(rate * n)`` labels, chosen at random, set to another class.

    Each chosen label moves to one of the other ``num_classes - 1`` classes uniformly, so
    exactly that fraction of labels is wrong.

    Example:
        >>> y = torch.zeros(10, dtype=torch.long)
        >>> int((flip_labels(y, 0.4, 3, torch.Generator().manual_seed(0)) != y).sum())
        4
    """
    n = len(y)
    chosen = torch.randperm(n, generator=generator)[: round(rate * n)]  # (k,)
    shift = torch.randint(1, num_classes, (len(chosen),), generator=generator)  # (k,) never 0
    noisy = y.clone()
    noisy[chosen] = (y[chosen] + shift) % num_classes
    return noisy


def add_feature_noise(X: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """``X + N(0, std²)``, drawn once (the same corrupted copy is shown every epoch).

    Example:
        >>> X = add_feature_noise(torch.zeros(1000, 2), 0.5, torch.Generator().manual_seed(0))
        >>> round(float(X.std()), 1)
        0.5
    """
    return X + std * torch.randn(X.shape, generator=generator)


def imbalance_indices(
    y: Tensor, ratio: float, num_classes: int, generator: torch.Generator
) -> Tensor:
    """Indices of a long-tailed subset: class ``c`` keeps ``ratio ** (c / (C - 1))`` of its samples.

    Class 0 keeps all, the last class the fraction ``ratio`` (the "imbalance ratio" of
    long-tailed CIFAR, Cui et al. 2019); which samples stay is random. Sorted indices.

    Example:
        >>> y = torch.arange(3).repeat_interleave(100)
        >>> kept = imbalance_indices(y, 0.1, 3, torch.Generator().manual_seed(0))
        >>> torch.bincount(y[kept]).tolist()
        [100, 32, 10]
    """
    counts = torch.bincount(y, minlength=num_classes)  # (C,)
    quota = (counts * ratio ** (torch.arange(num_classes) / (num_classes - 1))).round()  # (C,)
    order = torch.randperm(len(y), generator=generator)  # which samples of a class stay: random
    y_ord = y[order]
    one_hot = F.one_hot(y_ord, num_classes)  # (n, C)
    rank = (one_hot.cumsum(0) * one_hot).sum(1) - 1  # (n,) rank of each sample within its class
    return order[rank < quota[y_ord]].sort().values


def random_shift(X: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift each image of ``(N, C, H, W)`` by its own ``(dy, dx)`` in ``[-max_shift, max_shift]``.

    A random crop of an edge-padded image, done by gathering shifted row and column indices;
    the edge pixels repeat into the gap (background, for digits).

    Example:
        >>> X = torch.arange(4.0).reshape(1, 1, 2, 2)
        >>> g = torch.Generator().manual_seed(1)
        >>> [random_shift(X, 1, g).flatten().tolist() for _ in range(2)]  # (0, 1), (-1, 1)
        [[1.0, 1.0, 3.0, 3.0], [1.0, 1.0, 1.0, 1.0]]
    """
    N, C, H, W = X.shape
    d = torch.randint(-max_shift, max_shift + 1, (2, N, 1), generator=generator, device=X.device)
    rows = (torch.arange(H, device=X.device) + d[0]).clamp_(0, H - 1)  # (N, H)
    cols = (torch.arange(W, device=X.device) + d[1]).clamp_(0, W - 1)  # (N, W)
    X = X.gather(2, rows[:, None, :, None].expand(N, C, H, W))
    return X.gather(3, cols[:, None, None, :].expand(N, C, H, W))


def random_flip(X: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror each image of ``(N, C, H, W)`` left-right with probability 1/2, independently.

    Example:
        >>> X = torch.tensor([[[[0.0, 1.0]]]]).repeat(4, 1, 1, 1)
        >>> random_flip(X, torch.Generator().manual_seed(0))[:, 0, 0, 0].tolist()
        [1.0, 0.0, 1.0, 1.0]
    """
    flip = torch.rand(len(X), generator=generator, device=X.device) < 0.5  # (N,)
    return torch.where(flip[:, None, None, None], X.flip(-1), X)


class Augment:
    """Per-sample random shifts and flips of a batch of images, on its device.

    Args:
        shift: largest shift in pixels (0: none).
        flip: mirror left-right with probability 1/2.
    """

    def __init__(self, shift: int = 0, flip: bool = False) -> None:
        self.shift, self.flip = shift, flip

    def __call__(self, X: Tensor, generator: torch.Generator) -> Tensor:
        """Augment ``X`` ``(N, C, H, W)``; a new draw per sample and per call."""
        if self.shift:
            X = random_shift(X, self.shift, generator)
        if self.flip:
            X = random_flip(X, generator)
        return X
