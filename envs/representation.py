"""What a network learnt to see (d2l §1.x representation learning): features and feature maps.

Read with forward hooks, so any ``nn.Module`` works: the input of its last ``nn.Linear`` is
the learnt representation (the projector's embedding), and the output of each ``nn.Conv2d``
is a stack of feature maps (one grey image per channel).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor


def penultimate_features(net: nn.Module, X: Tensor) -> Tensor | None:
    """The input of ``net``'s last ``nn.Linear`` for the batch ``X``: ``(N, features)``.

    ``None`` for a net without a linear layer.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> penultimate_features(net, torch.zeros(5, 4)).shape
        torch.Size([5, 3])
    """
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not linears:
        return None
    captured: list[Tensor] = []
    hook = linears[-1].register_forward_hook(lambda m, inputs, out: captured.append(inputs[0]))
    try:
        with torch.no_grad():
            net(X)
    finally:
        hook.remove()
    return captured[0].flatten(1)


def conv_feature_maps(net: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """Each ``nn.Conv2d``'s output for one image ``x`` ``(C, H, W)``, as images ``(C', 1, H', W')``
    scaled to [0, 1] per channel; keyed by the layer's name.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        >>> conv_feature_maps(net, torch.rand(1, 8, 8))["0"].shape
        torch.Size([4, 1, 8, 8])
    """
    captured: dict[str, Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda m, inputs, out, name=name: captured.__setitem__(name, out))
        for name, m in net.named_modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            net(x.unsqueeze(0))
    finally:
        for hook in hooks:
            hook.remove()
    maps = {}
    for name, out in captured.items():
        fmap = out[0].unsqueeze(1)  # (C', 1, H', W')
        low = fmap.amin(dim=(2, 3), keepdim=True)
        high = fmap.amax(dim=(2, 3), keepdim=True)
        maps[name] = (fmap - low) / (high - low).clamp_min(1e-8)
    return maps
