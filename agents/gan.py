"""The GAN's two players: the gradient learner with a generator's or a discriminator's net.

Goodfellow et al. (2014), "Generative Adversarial Nets"; d2l §20.1. Nothing here trains a
GAN: the game (envs/gan_game.py) rewards each player with its side of the BCE objective,
keeping the graph, and ``GradientAgent`` minimises ``-reward.mean()`` as it does for
regression. These classes only choose the networks (MLPs in the style of d2l §20.1 and the
PyTorch DCGAN example: LeakyReLU in the discriminator, tanh on bounded samples) and
defaults that suit them (Adam). ``GAN`` is the preset pairing the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn as nn

from agents.gradient import GradientAgent, GradientConfig
from sandbox.core import Env


@dataclass(frozen=True)
class GANPlayerConfig(GradientConfig):
    """Hyperparameters of a GAN player: the gradient learner's, with GAN defaults."""

    model: Literal["mlp"] = "mlp"
    """The player's MLP (agents/gan.py): ReLU in the generator, LeakyReLU(0.2) in the other."""
    num_hiddens: int = 128
    """Hidden units per layer."""
    num_layers: int = 2
    """Hidden layers."""
    optimizer: Literal["sgd", "adam"] = "adam"
    """Adam, as GANs are usually trained; or SGD."""
    lr: float = 2e-3
    """Learning rate."""
    beta1: float = 0.5
    """Adam's first-moment decay; 0.5 as in DCGAN (Radford et al. 2016), which GANs need."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")


def use_beta1(agent: GradientAgent, cfg: GANPlayerConfig) -> None:
    """Rebuild the agent's Adam with ``betas=(beta1, 0.999)`` (GradientConfig has no beta1)."""
    if cfg.optimizer == "adam":
        agent.optimizer = torch.optim.Adam(
            agent.net.parameters(),
            lr=cfg.lr,
            betas=(cfg.beta1, 0.999),
            weight_decay=cfg.weight_decay,
        )


def hidden_layers(
    num_inputs: int, cfg: GANPlayerConfig, activation: type[nn.Module], *args: float
) -> list[nn.Module]:
    """``cfg.num_layers`` x (Linear, activation[, Dropout]): (N, inputs) -> (N, num_hiddens)."""
    layers: list[nn.Module] = []
    for i in range(cfg.num_layers):
        layers += [nn.Linear(num_inputs if i == 0 else cfg.num_hiddens, cfg.num_hiddens)]
        layers += [activation(*args)] + ([nn.Dropout(cfg.dropout)] if cfg.dropout else [])
    return layers


def generator_mlp(
    latent_dim: int, sample_shape: tuple[int, ...], cfg: GANPlayerConfig, bounded: bool
) -> nn.Module:
    """Noise (N, latent) -> samples (N, *sample_shape); tanh when samples lie in [-1, 1]."""
    return nn.Sequential(
        *hidden_layers(latent_dim, cfg, nn.ReLU),
        nn.Linear(cfg.num_hiddens, math.prod(sample_shape)),
        nn.Tanh() if bounded else nn.Identity(),
        nn.Unflatten(1, sample_shape),
    )


def discriminator_mlp(sample_shape: tuple[int, ...], cfg: GANPlayerConfig) -> nn.Module:
    """Samples (N, *sample_shape) -> one logit each (N,)."""
    return nn.Sequential(
        nn.Flatten(),
        *hidden_layers(math.prod(sample_shape), cfg, nn.LeakyReLU, 0.2),
        nn.Linear(cfg.num_hiddens, 1),
        nn.Flatten(0),  # (N, 1) -> (N,)
    )


class GeneratorAgent(GradientAgent):
    """``gan-generator``: the gradient learner with ``generator_mlp``.

    Args:
        env: the generator's view of the game (``env.player_view("generator")``).
        config: hyperparameters; defaults to ``GANPlayerConfig()``.
        net: a generator of your own instead of the MLP.
    """

    Config = GANPlayerConfig
    name = "gan-generator"

    def __init__(
        self, env: Env, config: GANPlayerConfig | None = None, *, net: nn.Module | None = None
    ) -> None:
        cfg = config or GANPlayerConfig()
        space = env.single_action_space
        bounded = bool(np.all(space.low == -1) and np.all(space.high == 1))
        (latent_dim,) = env.single_observation_space.shape
        net = net or generator_mlp(latent_dim, space.shape, cfg, bounded)
        super().__init__(env, cfg, net=net)
        use_beta1(self, cfg)


class DiscriminatorAgent(GradientAgent):
    """``gan-discriminator``: the gradient learner with ``discriminator_mlp``.

    Args:
        env: the discriminator's view of the game (``env.player_view("discriminator")``).
        config: hyperparameters; defaults to ``GANPlayerConfig()``.
        net: a discriminator of your own instead of the MLP.
    """

    Config = GANPlayerConfig
    name = "gan-discriminator"

    def __init__(
        self, env: Env, config: GANPlayerConfig | None = None, *, net: nn.Module | None = None
    ) -> None:
        cfg = config or GANPlayerConfig()
        net = net or discriminator_mlp(env.single_observation_space.shape, cfg)
        super().__init__(env, cfg, net=net)
        use_beta1(self, cfg)


GAN: dict[str, str] = {"generator": "gan-generator", "discriminator": "gan-discriminator"}
"""The ``gan`` preset: which registered agent plays each player of a GAN game."""


def make_players(env: Any, **configs: GANPlayerConfig) -> dict[str, GradientAgent]:
    """The ``gan`` preset for ``env`` (a GAN game), with optional per-player configs.

    Example:
        >>> import sandbox
        >>> players = make_players(sandbox.make("sandbox/RingGAN-v0"))
        >>> sorted(players), type(players["generator"]).__name__
        (['discriminator', 'generator'], 'GeneratorAgent')
    """
    return {
        "generator": GeneratorAgent(env.player_view("generator"), configs.get("generator")),
        "discriminator": DiscriminatorAgent(
            env.player_view("discriminator"), configs.get("discriminator")
        ),
    }
