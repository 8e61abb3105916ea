"""``optimizer.step()`` and its two chores, written for the small models of this sandbox.

``optimizer.zero_grad``, ``nn.utils.clip_grad_norm_`` and ``Adam.step`` are general: a
profiler range per call, hooks, parameters grouped by device and dtype on every call. On a
64-64 MLP their Python is most of their cost (a sixth of a PPO update on CPU;
bench/ppo_cartpole.py). These do the same arithmetic with the same kernels, less the Python.
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


def adam_step(optimizer: torch.optim.Adam) -> None:
    """``optimizer.step()`` for a fused Adam (``fused=True``) whose parameters share a device.

    The same kernel (``torch._fused_adam_``) on the optimizer's own state, so its
    ``state_dict`` and learning-rate changes (``param_groups``) work as with ``step()``;
    ~50 instead of ~150 us a step on a 64-64 MLP (CPU). The first step, and any optimizer
    this does not cover (AMSGrad, decoupled weight decay, several groups), is ``step()``.

    Example:
        >>> w = nn.Parameter(torch.ones(2)); opt = torch.optim.Adam([w], lr=0.1, fused=True)
        >>> for _ in range(2):
        ...     w.grad = torch.ones(2); adam_step(opt)
        >>> [round(x, 4) for x in w.tolist()]
        [0.8, 0.8]
    """
    groups = optimizer.param_groups
    group = groups[0]
    params = [p for p in group["params"] if p.grad is not None]
    states = [optimizer.state.get(p) for p in params]
    plain = group["fused"] and not (group["amsgrad"] or group.get("decoupled_weight_decay"))
    if len(groups) > 1 or not plain or not all(states):  # states: made by the first step()
        optimizer.step()
        return
    _counters(states).add_(1)  # the step counts of the parameters with a gradient
    steps = [state["step"] for state in states]
    torch._fused_adam_(
        params,
        [p.grad for p in params],
        [state["exp_avg"] for state in states],
        [state["exp_avg_sq"] for state in states],
        [],
        steps,
        amsgrad=False,
        lr=group["lr"],
        beta1=group["betas"][0],
        beta2=group["betas"][1],
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        maximize=group["maximize"],
    )


def _counters(states: list[dict]) -> Tensor:
    """The states' step counts as views of one ``(P,)`` tensor, which is returned: adding to
    it advances them all in one op (``_foreach_add_`` is a loop of P adds on CPU). Made when
    they are not that already (first call, a loaded state dict, another set of parameters
    with a gradient); each state keeps its own count.
    """
    counters = states[0]["step"]._base
    if (
        counters is None
        or len(counters) != len(states)
        or any(state["step"]._base is not counters for state in states)
    ):
        counters = torch.stack([state["step"] for state in states])  # (P,)
        for state, count in zip(states, counters.unbind(), strict=True):
            state["step"] = count
    return counters
