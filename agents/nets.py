"""The model zoo of the gradient learner: networks built from the env's spaces.

Every net maps a batch of observations ``(N, *obs_shape)`` to a batch of actions
``(N, *action_shape)``, so any of them plugs into any env whose action is a prediction:
values for regression, logits ``(N, C)`` for classes, one logit ``(N,)`` for two classes.
``make_net`` is the one entry point.
"""

from __future__ import annotations

import math

import torch.nn as nn

from agents.attention import AttentionNet

MODELS = ("linear", "mlp", "cnn", "attention")


def _head(action_shape: tuple[int, ...]) -> nn.Module:
    """(N, prod(action_shape)) -> (N, *action_shape)."""
    if action_shape == ():
        return nn.Flatten(0)  # (N, 1) -> (N,): one scalar per sample, e.g. a binary logit
    return nn.Unflatten(1, action_shape)


def linear(obs_shape: tuple[int, ...], action_shape: tuple[int, ...]) -> nn.Module:
    """Linear (or softmax) regression, d2l §3.1: ``y_hat = X w + b``."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(math.prod(obs_shape), math.prod(action_shape)), _head(action_shape)
    )


def mlp(
    obs_shape: tuple[int, ...],
    action_shape: tuple[int, ...],
    num_hiddens: int = 256,
    dropout: float = 0.0,
    num_layers: int = 1,
) -> nn.Module:
    """``num_layers`` hidden ReLU layers, each followed by dropout, d2l §5.1 and §5.6.

    Example:
        >>> import torch
        >>> mlp((64,), (10,), num_hiddens=32, num_layers=2)(torch.zeros(5, 64)).shape
        torch.Size([5, 10])
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(obs_shape)
    for _ in range(num_layers):
        layers += [nn.Linear(width, num_hiddens), nn.ReLU(), nn.Dropout(dropout)]
        width = num_hiddens
    return nn.Sequential(*layers, nn.Linear(width, math.prod(action_shape)), _head(action_shape))


def cnn(
    obs_shape: tuple[int, ...],
    action_shape: tuple[int, ...],
    num_hiddens: int = 256,
    dropout: float = 0.0,
) -> nn.Module:
    """A small LeNet-style CNN for ``(C, H, W)`` images, d2l §7.6: two conv-pool blocks, an MLP.

    Example:
        >>> import torch
        >>> cnn((1, 8, 8), (10,))(torch.zeros(5, 1, 8, 8)).shape
        torch.Size([5, 10])
    """
    if len(obs_shape) != 3 or min(obs_shape[1:]) < 4:
        raise ValueError(
            f"model 'cnn' needs image observations (C, H, W) of at least 4x4 pixels, "
            f"got observations of shape {obs_shape}; use 'mlp' for flat features"
        )
    C, H, W = obs_shape
    return nn.Sequential(
        nn.Conv2d(C, 16, kernel_size=3, padding=1),  # (N, 16, H, W)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 16, H/2, W/2)
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 32, H/4, W/4)
        nn.Flatten(),
        nn.Linear(32 * (H // 4) * (W // 4), num_hiddens),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(num_hiddens, math.prod(action_shape)),
        _head(action_shape),
    )


def make_net(
    name: str,
    obs_shape: tuple[int, ...],
    action_shape: tuple[int, ...],
    num_hiddens: int = 256,
    dropout: float = 0.0,
    num_layers: int = 1,
    num_heads: int = 4,
) -> nn.Module:
    """Build the zoo's model ``name`` for these observation and action shapes."""
    if name == "linear":
        return linear(obs_shape, action_shape)
    if name == "mlp":
        return mlp(obs_shape, action_shape, num_hiddens, dropout, num_layers)
    if name == "cnn":
        return cnn(obs_shape, action_shape, num_hiddens, dropout)
    if name == "attention":  # agents/attention.py: multi-head self-attention over (L, d)
        return AttentionNet(obs_shape, action_shape, num_hiddens, num_heads, num_layers, dropout)
    raise ValueError(f"unknown model {name!r}: expected one of {MODELS}")
