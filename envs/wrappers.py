"""Data-centric lessons: garbage in (label noise, feature noise, class imbalance).

Each is an option of every dataset env (``--env.label-noise 0.4``, ``--env.imbalance 0.1``),
applied by ``SupervisedEnv`` to its train split only, so the held-out splits stay clean and
measure the harm (or the help). They are options rather than Gymnasium wrappers because
they act on the labels, which only the env holds, and because a wrapper would hide the env's
``eval_env``/``score``/``state_dict`` from the loop. The functions here are the math: batched
tensor operations, no per-sample Python loop. Augmentation, the help side, is
``envs/augment.py``.
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
