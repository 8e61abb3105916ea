"""Two chores around ``optimizer.step()``, written for the small models of this sandbox.

``optimizer.zero_grad`` and ``nn.utils.clip_grad_norm_`` are general: a profiler range per
call, parameters grouped by device and dtype on every call. On a 64-64 MLP their Python is
most of their cost (a tenth of a PPO update on CPU; bench/ppo_cartpole.py). These do the
same arithmetic on a parameter list made once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def zero_grad(params: Sequence[nn.Parameter]) -> None:
    """``optimizer.zero_grad(set_to_none=True)`` for these parameters.

    Example:
        >>> w = nn.Parameter(torch.ones(2)); w.sum().backward(); zero_grad([w]); w.grad is None
        True
    """
    for p in params:
        p.grad = None


def clip_grad_norm_(params: Sequence[nn.Parameter], max_norm: float) -> Tensor:
    """Scale the gradients so that their joint L2 norm is at most ``max_norm``; return the
    norm before clipping. The arithmetic of ``nn.utils.clip_grad_norm_`` (coefficient
    ``max_norm / (norm + 1e-6)``, capped at 1), for parameters on one device.

    Example:
        >>> w = nn.Parameter(torch.zeros(2)); w.grad = torch.tensor([3.0, 4.0])
        >>> float(clip_grad_norm_([w], 1.0)), [round(g, 4) for g in w.grad.tolist()]
        (5.0, [0.6, 0.8])
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, (max_norm / (norm + 1e-6)).clamp_(max=1.0))
    return norm
