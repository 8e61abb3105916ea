"""Presets: per-agent tables, env id -> budget and hyperparameters (as RL Zoo's ``hyperparams/``).

One TOML file per agent (``sandbox/presets/ppo.toml``...), read with the stdlib ``tomllib``.
Each entry names where its values come from (``source``) and the figure it should reach
(``bar``). ``sandbox run ENV AGENT`` starts from the entry when there is one; flags override
single values, and ``--preset none`` gives the bare defaults.

Example:
    >>> p = find("CartPole-v1", "ppo")
    >>> p.steps, p.num_envs, p.agent["num_steps"]
    (60000, 8, 32)
    >>> find("CartPole-v1", "kmeans") is None
    True
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.errors import UsageError

DIRECTORY = Path(__file__).parent
KEYS = {"source", "bar", "steps", "num_envs", "agent", "env", "generator", "discriminator"}


@dataclass(frozen=True)
class Preset:
    """One entry of an agent's table: what ``sandbox run ENV_ID AGENT`` starts from."""

    env_id: str
    agent_name: str
    source: str
    """Where the values come from, or how they were tuned."""
    bar: str
    """The figure the preset must reach at its budget: ``"mean_reward >= 475"``."""
    steps: int
    num_envs: int | None = None
    agent: dict[str, Any] = field(default_factory=dict)
    """The agent's ``Config`` fields."""
    env: dict[str, Any] = field(default_factory=dict)
    """The env's options (``--env.*``)."""
    players: dict[str, dict[str, Any]] = field(default_factory=dict)
    """A game's per-player ``Config`` fields (``generator``, ``discriminator``)."""

    def meets_bar(self, metrics: dict[str, float]) -> bool:
        """Whether ``{"eval/<metric>": value}`` reaches the bar.

        Example:
            >>> find("CartPole-v1", "ppo").meets_bar({"eval/mean_reward": 480.0})
            True
        """
        metric, op, value = self.bar.split()
        got = metrics[f"eval/{metric}"]
        return got >= float(value) if op == ">=" else got <= float(value)


@functools.cache
def table(agent_name: str) -> dict[str, Preset]:
    """The presets of ``agent_name`` by env id (``{}`` when it has no file)."""
    path = DIRECTORY / f"{agent_name}.toml"
    if not re.fullmatch(r"[\w-]+", agent_name) or not path.is_file():
        return {}
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    presets = {}
    for env_id, entry in raw.items():
        unknown = set(entry) - KEYS
        if unknown or not {"source", "bar", "steps"} <= set(entry):
            raise UsageError(f"{path} [{env_id}]: expected the keys {sorted(KEYS)}, got {entry}")
        players = {p: entry[p] for p in ("generator", "discriminator") if p in entry}
        presets[env_id] = Preset(
            env_id,
            agent_name,
            entry["source"],
            entry["bar"],
            entry["steps"],
            entry.get("num_envs"),
            entry.get("agent", {}),
            entry.get("env", {}),
            players,
        )
    return presets


def find(env_id: str, agent_name: str) -> Preset | None:
    """The preset of ``agent_name`` on ``env_id``, if its table has one."""
    return table(agent_name).get(env_id)


def everything() -> list[Preset]:
    """Every preset of every agent's file, in file then entry order."""
    return [p for path in sorted(DIRECTORY.glob("*.toml")) for p in table(path.stem).values()]


def agents_with_preset(env_id: str) -> list[str]:
    """The agents that have a preset for ``env_id``: what ``sandbox list`` shows."""
    return [p.agent_name for p in everything() if p.env_id == env_id]
