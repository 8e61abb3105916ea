"""``sandbox tour``: one short run per paradigm, then one table comparing them.

Every stop is an ordinary run (``sandbox.train`` into ``<logdir>/tour``), so TensorBoard
shows the paradigms on one axis: samples consumed. The stops name envs and agents by their
registered ids, like a user typing ``sandbox run``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sandbox import registry
from sandbox.core import UsageError
from sandbox.loop import train
from sandbox.run import RunResult
from sandbox.seeding import seed_everything

BUDGETS = {"tiny": 0.05, "small": 0.3, "default": 1.0, "large": 4.0}
"""Names for ``--budget``; a number multiplies every stop's samples directly."""


@dataclass(frozen=True)
class Stop:
    """One paradigm of the tour: which env, which agent, and what the env reveals."""

    paradigm: str
    env_id: str
    agent: str
    revealed: str
    """What the agent learns from, in a few words."""
    metric: str
    """The ``eval/<metric>`` shown as the headline (``eval/score`` is its higher-is-better form)."""
    steps: int
    """Samples at the default budget."""
    num_envs: int | None = None
    env_options: dict[str, Any] = field(default_factory=dict)
    agent_preset: str | None = None
    """Options kept with the agent, ``"package.module:NAME"``, loaded through the registry
    (sandbox imports agents only by name); ``agent_options`` are added on top."""
    agent_options: dict[str, Any] = field(default_factory=dict)
    """An ``anneal_steps`` here is in samples at the default budget, and scales as ``steps``."""

    def agent_kwargs(self, scale: float = 1.0) -> dict[str, Any]:
        """The agent's options: the preset's, then this stop's own, at a budget's ``scale``."""
        preset = registry.load_entry_point(self.agent_preset) if self.agent_preset else {}
        options = {**preset, **self.agent_options}
        if options.get("anneal_steps"):  # e.g. PPO's learning rate, to 0 at the run's end
            options["anneal_steps"] = max(1, round(options["anneal_steps"] * scale))
        return options


TOUR: list[Stop] = [
    Stop("regression", "sandbox/LinReg-v0", "gradient", "the loss's gradient", "r2", 2_000),
    Stop(
        "classification",
        "sandbox/Digits-v0",
        "gradient",
        "the loss's gradient",
        "accuracy",
        30_000,
        agent_options={"model": "mlp", "optimizer": "adam", "lr": 1e-3},
    ),
    Stop(
        "classification as a bandit",
        "sandbox/Digits-v0",
        "ppo",
        "1 if right, else 0",
        "accuracy",
        100_000,
        env_options={"feedback": "bandit"},
        agent_options={"num_steps": 16, "lr": 1e-3},
    ),
    Stop(
        "clustering",
        "sandbox/DigitsClusters-v0",
        "kmeans",
        "-distance² to its cluster",
        "ari",
        50_000,
    ),
    Stop(
        "GAN game",
        "sandbox/DigitsGAN-v0",
        "gan",
        "the other player's judgement",
        "frechet",
        256_000,
    ),
    Stop(
        "reinforcement learning",
        "sandbox/CartPole-v1",
        "ppo",
        "reward values, delayed",
        "mean_reward",
        60_000,
        agent_preset="agents.ppo:CARTPOLE_ZOO",  # RL Zoo's CartPole hyperparameters
        agent_options=dict(anneal_steps=60_000),
    ),
]


def budget_scale(budget: str) -> float:
    """``"tiny"``, ``"small"``, ``"default"``, ``"large"`` or a positive number.

    Example:
        >>> budget_scale("small"), budget_scale("2.5")
        (0.3, 2.5)
    """
    if budget in BUDGETS:
        return BUDGETS[budget]
    try:
        scale = float(budget)
    except ValueError:
        scale = 0.0
    if not scale > 0:
        raise UsageError(
            f"--budget must be one of {', '.join(BUDGETS)} or a positive number, got {budget!r}"
        )
    return scale


@dataclass
class Visit:
    """A stop of the tour and how its run went."""

    stop: Stop
    result: RunResult
    wall_time: float


def run_tour(
    budget: str = "default",
    *,
    logdir: str = "runs",
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> list[Visit]:
    """Train every stop of the tour in turn; return the visits for ``table``."""
    scale = budget_scale(budget)
    torch.set_num_threads(1)  # small models: one thread is fastest (NOTES.md)
    visits = []
    for stop in TOUR:
        seed_everything(seed)
        env = registry.make(stop.env_id, stop.num_envs, device=device, **stop.env_options)
        players = registry.players(stop.env_id, stop.agent)
        if players:  # a game: one agent per player, by the preset's names
            agent = registry.make_players(env, {p: (n, {}) for p, n in players.items()})
        else:
            agent = registry.make_agent(stop.agent, env, **stop.agent_kwargs(scale))
        steps = max(env.num_envs, round(stop.steps * scale))
        start = time.perf_counter()
        result = train(
            env,
            agent,
            steps,
            seed=seed,
            logdir=logdir,
            experiment="tour",
            progress=progress,
            projector=True,  # the classifiers' learnt embeddings, for the Projector tab
        )
        visits.append(Visit(stop, result, time.perf_counter() - start))
    return visits


def table(visits: list[Visit]) -> str:
    """The tour's comparison: one row per paradigm, aligned columns."""
    header = [
        "paradigm",
        "env",
        "agent",
        "what the env revealed",
        "samples",
        "wall-clock",
        "samples/s",
        "headline",
    ]
    rows = [header]
    for v in visits:
        value = v.result.metrics.get(f"eval/{v.stop.metric}", float("nan"))
        rows.append(
            [
                v.stop.paradigm,
                v.stop.env_id,
                v.stop.agent,
                v.stop.revealed,
                f"{v.result.samples:,}",
                f"{v.wall_time:.1f} s",
                f"{v.result.samples_per_s:,.0f}",
                f"{v.stop.metric} {value:.3f}"
                if abs(value) < 100
                else f"{v.stop.metric} {value:.4g}",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def tensorboard_line(logdir: str) -> str:
    """The exact command that shows the tour."""
    return f"tensorboard --logdir {Path(logdir) / 'tour'}"
