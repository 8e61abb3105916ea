"""A GAN game as a plain PettingZoo AEC env with NumPy arrays, for third-party agents.

The torch game has three turns a round because a gradient learner needs the generator's
reward to run through a second, attached scoring of the fake. NumPy carries no graphs, so
this view has two: the generator acts with a batch of samples, the discriminator scores real
+ fake once, and both rewards (batch means, as floats) follow from those scores. It passes
``pettingzoo.test.api_test``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import AECEnv

from sandbox.multi import MultiAgentEnv


class GANGameAEC(AECEnv):
    """``GANGame`` through PettingZoo's AEC API: whole batches as NumPy arrays.

    Observations and actions are batches: the generator observes noise ``(N, latent)`` and
    acts with samples ``(N, *shape)``; the discriminator observes real then fake
    ``(2N, *shape)`` and acts with logits ``(2N,)``. Each round ends with both rewards.

    Args:
        game: the torch game to show, a ``GANGame`` (``sandbox.make("sandbox/RingGAN-v0")``):
            a ``MultiAgentEnv`` with per-player ``observation_space``/``action_space`` and a
            ``device``.
        max_rounds: rounds before every player is truncated (``None``: never).
    """

    metadata = {"name": "sandbox_gan_v0", "render_modes": [], "is_parallelizable": False}

    def __init__(self, game: MultiAgentEnv, max_rounds: int | None = None) -> None:
        super().__init__()
        self.game, self.max_rounds = game, max_rounds
        self.possible_agents = list(game.possible_agents)
        n = game.num_envs
        self._spaces = {}  # built once: PettingZoo asserts the same object on every call
        for agent, rows in (("generator", n), ("discriminator", 2 * n)):
            obs, act = game.observation_space(agent), game.action_space(agent)
            self._spaces[agent] = (
                _batched(obs, rows),
                _batched(act, n if agent == "generator" else rows),
            )

    def observation_space(self, agent: str) -> spaces.Box:
        """The batch ``agent`` observes."""
        return self._spaces[agent][0]

    def action_space(self, agent: str) -> spaces.Box:
        """The batch ``agent`` acts with."""
        return self._spaces[agent][1]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a new game; the generator's turn."""
        self.game.reset(seed=seed)
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self.agent_selection = self.game.agent_selection
        self.num_rounds = 0

    def observe(self, agent: str) -> np.ndarray:
        """The batch ``agent`` sees now, as float32 NumPy."""
        return self.game.observe(agent).detach().cpu().numpy()

    def step(self, action: np.ndarray | None) -> None:
        """Apply the selected player's batch; after the discriminator, both rewards."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        act = torch.as_tensor(np.asarray(action, np.float32), device=self.game.device)
        self._clear_rewards()
        if agent == "generator":
            self.game.step(act)
        else:  # one scoring stands in for both of the torch game's discriminator turns
            self.game.step(act)
            d_reward = self.game.rewards["discriminator"]
            self.game.step(act[self.game.num_envs :])
            g_reward = self.game.rewards["generator"]
            self.rewards = {
                "generator": float(g_reward.mean()),
                "discriminator": float(d_reward.mean()),
            }
            self.num_rounds += 1
            if self.max_rounds is not None and self.num_rounds >= self.max_rounds:
                self.truncations = dict.fromkeys(self.agents, True)
        self.agent_selection = self.game.agent_selection
        self._accumulate_rewards()

    def render(self) -> None:
        """No rendering: TensorBoard's ``media/samples`` shows the samples."""

    def close(self) -> None:
        """Nothing to release."""


def _batched(space: spaces.Box, rows: int) -> spaces.Box:
    shape = (rows, *space.shape)
    return spaces.Box(
        np.broadcast_to(space.low, shape), np.broadcast_to(space.high, shape), shape, np.float32
    )
