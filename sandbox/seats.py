"""Who plays a game: a game's ``{player: agent}`` from ``sandbox run``'s AGENT argument.

Two kinds of game name their agents: a turn-based game of several learners (a GAN:
``generator=AGENT,discriminator=AGENT`` or its preset's name, ``gan``) and a board game of
one learner in some seats (``player_1=ppo,player_2=random``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox import registry
from sandbox.core import Agent, UsageError


def players(env_id: str, spec: str) -> dict[str, str] | None:
    """A game's ``{player: agent name}`` from a preset (``gan``) or ``PLAYER=AGENT,...``.

    ``None`` for an env with one agent (``spec`` is then an agent's name).

    Example:
        >>> players("sandbox/DigitsGAN-v0", "gan")
        {'generator': 'gan-generator', 'discriminator': 'gan-discriminator'}
        >>> players("sandbox/LinReg-v0", "gradient") is None
        True
    """
    game = getattr(registry.env_class(env_id), "possible_agents", None)
    if game is None:
        return None
    if "=" in spec:
        names = dict(part.partition("=")[::2] for part in spec.split(","))
    else:
        names = registry.agent_class(spec)
        if not isinstance(names, Mapping):
            names = {}
    if set(names) != set(game):
        raise UsageError(
            f"{env_id} is a game of {', '.join(game)}: name one agent per player, as a "
            f"preset or as {','.join(f'{p}=AGENT' for p in game)} (got {spec!r})"
        )
    for name in names.values():
        registry.agent_class(name)  # unknown names fail here, with the closest ones
    return {p: names[p] for p in game}


def seated(env_id: str, spec: str) -> tuple[str, str] | None:
    """A board game's ``PLAYER=AGENT,...``: the learning agent's name and the env's ``seats``.

    ``None`` where ``env_id`` seats no learner (not a board game) or ``spec`` names one agent.

    Example:
        >>> seated("sandbox/TicTacToe-v0", "player_1=ppo,player_2=random")
        ('ppo', 'player_1=learner,player_2=random')
        >>> seated("sandbox/TicTacToe-v0", "ppo") is None
        True
    """
    parse = getattr(registry.env_class(env_id), "learner_from_players", None)
    if parse is None or "=" not in spec:
        return None
    name, seats = parse(spec, sorted(registry.AGENTS))
    registry.agent_class(name)  # a user's module:Class that is not an agent fails here
    return name, seats


def make_players(env: Any, options: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Agent]:
    """``{player: agent}``, each built by name (with its config) for its player's view."""
    return {
        p: registry.make_agent(name, env.player_view(p), **config)
        for p, (name, config) in options.items()
    }
