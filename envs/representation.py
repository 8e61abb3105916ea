"""What a network learnt to see (d2l §1.x representation learning): features and feature maps.

Read with forward hooks while the agent acts, so any ``nn.Module`` works: the input of the
last ``nn.Linear`` that runs is the learnt representation (the projector's embedding), and
the output of each ``nn.Conv2d`` is a stack of feature maps (one grey image per channel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor


def _outputs(
    net: nn.Module, forward: Callable[[Tensor], Any], X: Tensor, pick: Callable[[nn.Module], bool]
) -> dict[str, tuple[Tensor, Tensor]]:
    """``{name: (input, output)}`` of each of ``net``'s modules that ``pick`` accepts, as
    ``forward(X)`` runs them (no grad), ordered by when each last ran; hooks removed after."""
    captured: dict[str, tuple[Tensor, Tensor]] = {}

    def keep(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
            captured.pop(name, None)  # a module run again moves to the end
            captured[name] = (inputs[0], out)

        return hook

    hooks = [m.register_forward_hook(keep(name)) for name, m in net.named_modules() if pick(m)]
    try:
        with torch.no_grad():
            forward(X)
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def penultimate_features(
    net: nn.Module, forward: Callable[[Tensor], Any], X: Tensor
) -> Tensor | None:
    """The input of the last of ``net``'s ``nn.Linear`` layers that ``forward(X)`` runs.

    Returns ``(N, features)``, or ``None`` when no linear layer of ``net`` ran.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> penultimate_features(net, net, torch.zeros(5, 4)).shape
        torch.Size([5, 3])
    """
    seen = _outputs(net, forward, X, lambda m: isinstance(m, nn.Linear))
    return list(seen.values())[-1][0].flatten(1) if seen else None


def conv_feature_maps(
    net: nn.Module, forward: Callable[[Tensor], Any], x: Tensor
) -> dict[str, Tensor]:
    """Each ``nn.Conv2d``'s output as ``forward`` runs on one image ``x`` ``(C, H, W)``, as
    images ``(C', 1, H', W')`` scaled to [0, 1] per channel; keyed by the layer's name.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        >>> conv_feature_maps(net, net, torch.rand(1, 8, 8))["0"].shape
        torch.Size([4, 1, 8, 8])
    """
    captured = _outputs(net, forward, x.unsqueeze(0), lambda m: isinstance(m, nn.Conv2d))
    maps = {}
    for name, (_, out) in captured.items():
        fmap = out[0].unsqueeze(1)  # (C', 1, H', W')
        low = fmap.amin(dim=(2, 3), keepdim=True)
        high = fmap.amax(dim=(2, 3), keepdim=True)
        maps[name] = (fmap - low) / (high - low).clamp_min(1e-8)
    return maps


def attention_maps(
    net: nn.Module, forward: Callable[[Tensor], Any], X: Tensor
) -> dict[str, Tensor]:
    """The attention weights of each of ``net``'s attention layers as ``forward(X)`` runs:
    ``(N, heads, L, L)``, keyed by the layer's name.

    An attention layer is any module with an ``attention_weights(input)`` method (the zoo's
    ``agents.attention.MultiHeadSelfAttention``): its forward may run a fused kernel that never
    returns the weights, so they are recomputed from the input the hook sees.

    Example:
        >>> from agents.attention import AttentionNet
        >>> net = AttentionNet((5, 3), (2,), num_hiddens=8, num_heads=2)
        >>> attention_maps(net, net, torch.zeros(4, 5, 3))["blocks.0.attention"].shape
        torch.Size([4, 2, 5, 5])
    """
    layers = dict(net.named_modules())
    captured = _outputs(net, forward, X, lambda m: callable(getattr(m, "attention_weights", None)))
    return {name: layers[name].attention_weights(x) for name, (x, _) in captured.items()}
