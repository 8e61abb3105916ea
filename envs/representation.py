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


# --- an agent's view, for the env hooks ``media`` and ``embedding`` -------------------------
def unit_range(X: Tensor) -> Tensor:
    """Each image of ``(N, C, H, W)`` scaled to [0, 1] by its own minimum and maximum.

    Example:
        >>> unit_range(torch.tensor([[[[2.0, 4.0]]]])).tolist()
        [[[[0.0, 1.0]]]]
    """
    low, high = X.amin(dim=(1, 2, 3), keepdim=True), X.amax(dim=(1, 2, 3), keepdim=True)
    return (X - low) / (high - low).clamp_min(1e-8)


def agent_net(agent: Any) -> tuple[nn.Module | None, Callable[[Tensor], Any]]:
    """The agent's ``net`` (``None`` where it has no ``nn.Module`` there) and its
    evaluation-mode policy, which the hooks watch that net run."""
    net = getattr(agent, "net", None)
    return (net if isinstance(net, nn.Module) else None), lambda obs: agent.act(
        obs, deterministic=True
    )


def agent_feature_maps(agent: Any, x: Tensor) -> dict[str, Tensor]:
    """``{"feature_maps/<layer>": images}`` of the agent's conv layers on one image ``x``
    ``(C, H, W)`` (``conv_feature_maps``); empty for an agent without a net or for non-images."""
    net, policy = agent_net(agent)
    if net is None or x.dim() != 3:
        return {}
    return {f"feature_maps/{k}": v for k, v in conv_feature_maps(net, policy, x).items()}


def agent_embedding(agent: Any, X: Tensor, labels: Tensor) -> dict[str, Any] | None:
    """``SummaryWriter.add_embedding`` keywords: the agent's penultimate features of ``X``,
    its ``labels`` and, for images of 1 or 3 channels, the images as sprites in [0, 1]."""
    net, policy = agent_net(agent)
    features = None if net is None else penultimate_features(net, policy, X)
    if features is None:
        return None
    images = unit_range(X) if X.dim() == 4 and X.shape[1] in (1, 3) else None
    return {"mat": features, "metadata": labels.tolist(), "label_img": images}
