"""Turn-based games: the ``MultiAgentEnv`` contract and the loop's turns over it (DESIGN §2, §3).

A ``MultiAgentEnv`` has the shape of PettingZoo's AEC API, torch-native and batched: the agent
named ``agent_selection`` observes (``observe``), acts (``step``), and a step may reveal
rewards in ``rewards`` — each one answers its agent's *latest* action and may keep an autograd
graph through the other players' actions (the GAN game: the generator's reward runs through
the discriminator's scores). ``sandbox.train`` plays such a game when it is given a dict of
agents keyed by player; ``Turns`` is the only part of that loop that differs from one agent's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium
import torch
from torch import Tensor

from sandbox.core import Agent, Transition, env_hook
from sandbox.errors import UsageError


@runtime_checkable
class MultiAgentEnv(Protocol):
    """A turn-based, batched, torch-native game in the shape of PettingZoo's AEC API.

    Each player acts on a batch: observations and actions have a leading batch dimension, and
    one *round* (PettingZoo's cycle: every turn until the first player's comes back) consumes
    ``num_envs`` samples. After ``step``, ``rewards`` holds only the rewards that step revealed,
    keyed by player, each ``(num_envs,)`` float and answering that player's latest action.

    Example:
        >>> import sandbox
        >>> game = sandbox.make("sandbox/RingGAN-v0", 4)
        >>> isinstance(game, MultiAgentEnv), game.agent_selection, game.observe("generator").shape
        (True, 'generator', torch.Size([4, 2]))
    """

    possible_agents: list[str]
    """Every player, in the order of a round's first turns."""
    agents: list[str]
    """The players still in the game."""
    agent_selection: str
    """Whose turn it is."""
    num_envs: int
    """Samples per round (the batch)."""
    rewards: dict[str, Tensor]
    """The rewards revealed by the last ``step``: ``{player: (num_envs,)}``, graphs kept."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a new game; the first player's turn."""
        ...

    def observe(self, agent: str) -> Tensor:
        """What ``agent`` sees now: a batch on the env's device."""
        ...

    def step(self, action: Tensor) -> None:
        """Apply the selected player's batched action; move the turn on."""
        ...

    def player_view(self, agent: str) -> PlayerView:
        """The single-agent face of one player, for building its agent."""
        ...


@dataclass(frozen=True)
class PlayerView:
    """What an agent's constructor reads of an env, for one player of a game.

    Example:
        >>> from gymnasium.spaces import Box
        >>> v = PlayerView(Box(-1, 1, (2,)), Box(-1, 1, ()), 8, torch.device("cpu"))
        >>> v.single_action_space.shape
        ()
    """

    single_observation_space: gymnasium.Space
    """One sample's observation."""
    single_action_space: gymnasium.Space
    """One sample's action."""
    num_envs: int
    """The batch of the game."""
    device: torch.device
    """Where the game's tensors live."""


def is_multi_agent(env: Any) -> bool:
    """Whether ``env`` is a turn-based game rather than a vector env.

    Example:
        >>> import sandbox
        >>> is_multi_agent(sandbox.make("sandbox/LinReg-v0"))
        False
    """
    return hasattr(env, "agent_selection") and hasattr(env, "possible_agents")


def player_tag(player: str, tag: str) -> str:
    """An agent's metric tag, named for its player: ``train/loss`` -> ``train/generator_loss``.

    Example:
        >>> player_tag("discriminator", "train/loss")
        'train/discriminator_loss'
    """
    section, _, name = tag.rpartition("/")
    return f"{section}/{player}_{name}" if section else f"{player}_{name}"


class Turns:
    """The multi-agent loop's step: one round of turns, each player learning from its rewards.

    A player acts when it is selected; whenever a ``step`` reveals a player's reward, that
    player learns at once from its latest observation, action and the reward (so the GAN's
    discriminator updates before it scores the generator's samples, as in the usual
    alternating loop). Logs ``reward/<player>``, the agents' tags renamed per player
    (``train/generator_loss``) and ``reward/mean`` over every revealed reward.

    Args:
        env: the game.
        agents: one agent per player, keyed as ``env.possible_agents``.

    Example:
        >>> import sandbox
        >>> from agents.gan import make_players
        >>> env = sandbox.make("sandbox/RingGAN-v0", 8)
        >>> turns = Turns(env, make_players(env))
        >>> turns.start(seed=0)
        >>> metrics, info = turns.step()  # one round of 8 samples
        >>> sorted(metrics)[:3]
        ['reward/discriminator', 'reward/generator', 'reward/mean']
    """

    def __init__(self, env: MultiAgentEnv, agents: Mapping[str, Agent]) -> None:
        """Refuse agents that do not match the players one to one."""
        if set(agents) != set(env.possible_agents):
            raise UsageError(
                f"this game has the players {', '.join(env.possible_agents)}; "
                f"got agents for {', '.join(agents) or 'none'} (pass a dict keyed by player)"
            )
        self.env, self.agents = env, dict(agents)
        self._tags: dict[tuple[str, str], str] = {}  # (player, tag) -> renamed: no string work
        self._last: dict[str, tuple[Tensor, Tensor]] = {}  # player -> its latest (obs, action)
        self._done: Tensor | None = None

    def start(self, seed: int | None, state: Mapping[str, Any] | None = None) -> None:
        """Reset the game, or restore agents and env from a checkpoint's ``state``."""
        if state is not None:
            for player, agent in self.agents.items():
                agent.load_state_dict(state["agent"][player])
            if state["env"] is not None:
                self.env.load_state_dict(state["env"])
                return
        self.env.reset(seed=seed)

    def step(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Play one round; return its metrics by tag (and an empty info: no episodes)."""
        env, first = self.env, self.env.possible_agents[0]
        metrics: dict[str, Tensor] = {}
        rewards: list[Tensor] = []
        while True:
            player = env.agent_selection
            obs = env.observe(player)
            action = self.agents[player].act(obs)
            env.step(action)
            self._last[player] = (obs, action)
            for rewarded, reward in env.rewards.items():
                metrics.update(self._learn(rewarded, reward))
                rewards.append(reward)
            if env.agent_selection == first:
                # every revealed reward counts once in reward/mean: (P, N) -> (N,)
                return {"reward/mean": torch.stack(rewards).mean(0), **metrics}, {}

    def _learn(self, player: str, reward: Tensor) -> dict[str, Tensor]:
        """The player learns from its latest action and this reward; its tagged metrics."""
        obs, action = self._last[player]
        # A round is a one-step episode for each player (as a supervised sample is), so
        # next_obs repeats obs: the next round's batch is not drawn yet.
        if self._done is None:  # made once: the loop allocates nothing per turn
            self._done = torch.ones(len(reward), dtype=torch.bool, device=reward.device)  # (N,)
            self._not_done = torch.zeros_like(self._done)  # (N,)
        metrics = self.agents[player].learn(
            Transition(obs, action, reward, obs, self._done, self._not_done, {})
        )
        metrics = {"reward": reward, **metrics}  # logged as reward/<player>
        return {self._tag(player, t): v for t, v in metrics.items()}

    def _tag(self, player: str, tag: str) -> str:
        key = (player, tag)
        if key not in self._tags:
            self._tags[key] = f"reward/{player}" if tag == "reward" else player_tag(player, tag)
        return self._tags[key]

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint's ``agent`` (one state per player) and ``env`` entries."""
        state = env_hook(self.env, "state_dict")
        return {
            "agent": {p: a.state_dict() for p, a in self.agents.items()},
            "env": state() if state else None,
        }


def check_game(env: MultiAgentEnv, *, seed: int = 0, num_rounds: int = 2) -> None:
    """Assert that a game keeps the ``MultiAgentEnv`` contract; raise ``AssertionError`` if not.

    Plays ``num_rounds`` rounds with zero actions (one row per observed row; the first legal
    move where the game has an ``action_mask``): observations are
    tensors on the env's device whose rows fit the player's space; each revealed reward is a
    finite float ``(num_envs,)``; every player is rewarded once a round; the turn comes back
    to the first player; the same seed gives the same observations.

    Example:
        >>> import sandbox
        >>> check_game(sandbox.make("sandbox/RingGAN-v0", 4))
    """
    first, second = _play_rounds(env, seed, num_rounds), _play_rounds(env, seed, num_rounds)
    same = all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert same, "the same seed gave different observations"


def _play_rounds(env: MultiAgentEnv, seed: int, num_rounds: int) -> list[Tensor]:
    env.reset(seed=seed)
    assert env.agent_selection == env.possible_agents[0], "a round starts with the first player"
    seen: list[Tensor] = []
    for _ in range(num_rounds):
        rewarded: list[str] = []
        while True:
            player = env.agent_selection
            obs = env.observe(player)
            space = env.player_view(player).single_observation_space
            assert isinstance(obs, Tensor) and tuple(obs.shape[1:]) == space.shape, (
                f"{player}'s observation: expected (rows, *{space.shape}), got {obs!r:.80}"
            )
            action_shape = env.player_view(player).single_action_space.shape
            action = torch.zeros(len(obs), *action_shape, device=obs.device)
            if hasattr(env, "action_mask"):  # a board game: the first legal square, (N,)
                action = env.action_mask(player).int().argmax(1)
            env.step(action)
            for name, reward in env.rewards.items():
                assert reward.shape == (env.num_envs,) and reward.is_floating_point(), name
                assert bool(torch.isfinite(reward).all()), f"{name}'s reward holds NaN/inf"
                rewarded.append(name)
            seen.append(obs.detach().clone())
            if env.agent_selection == env.possible_agents[0]:
                break
        assert sorted(rewarded) == sorted(env.possible_agents), f"rewarded in a round: {rewarded}"
    return seen
