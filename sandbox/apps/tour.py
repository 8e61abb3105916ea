"""``sandbox tour``: one short run per paradigm, then one table comparing them.

Every stop is an ordinary run (``sandbox.train`` into ``<logdir>/tour``), so TensorBoard
shows the paradigms on one axis: samples consumed. The stops name envs and agents by their
registered ids, like a user typing ``sandbox run``. With several seeds, each stop runs once per
seed, the table gives each figure as the mean with its 95% bootstrap interval, and every stop's
mean curve and band is written for TensorBoard (``sandbox.apps.compare.write_tensorboard``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sandbox import registry
from sandbox.apps import compare
from sandbox.apps.aggregate import mean_ci
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

    def agent_kwargs(self) -> dict[str, Any]:
        """The agent's options: the preset's, then this stop's own."""
        preset = registry.load_entry_point(self.agent_preset) if self.agent_preset else {}
        return {**preset, **self.agent_options}


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
        agent_options=dict(anneal=True),  # lr and clip range to 0 at the run's end, any budget
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
    seeds: Sequence[int] = (),
) -> list[Visit]:
    """Train every stop of the tour in turn (once per seed of ``seeds``, else with ``seed``);
    return the visits for ``table``. Several seeds also write each stop's aggregate run."""
    scale = budget_scale(budget)
    torch.set_num_threads(1)  # small models: one thread is fastest (NOTES.md)
    visits = []
    for stop, run_seed in [(stop, s) for stop in TOUR for s in seeds or [seed]]:
        seed_everything(run_seed)
        env = registry.make(stop.env_id, stop.num_envs, device=device, **stop.env_options)
        players = registry.players(stop.env_id, stop.agent)
        if players:  # a game: one agent per player, by the preset's names
            agent = registry.make_players(env, {p: (n, {}) for p, n in players.items()})
        else:
            agent = registry.make_agent(stop.agent, env, **stop.agent_kwargs())
        steps = max(env.num_envs, round(stop.steps * scale))
        start = time.perf_counter()
        result = train(
            env,
            agent,
            steps,
            seed=run_seed,
            logdir=logdir,
            experiment="tour",
            progress=progress,
            projector=True,  # the classifiers' learnt embeddings, for the Projector tab
        )
        visits.append(Visit(stop, result, time.perf_counter() - start))
    if len(seeds) > 1:  # every stop's mean curve and band, next to its seeds
        compare.write_tensorboard([compare.read_run(v.result.run_dir) for v in visits])
    return visits


def _headline(metric: str, values: list[float]) -> str:
    """``"r2 0.998"``, or over seeds ``"r2 0.998 [0.996, 1.000]"`` (mean, 95% CI)."""
    number = (lambda x: f"{x:.3f}") if all(abs(v) < 100 for v in values) else "{:.4g}".format
    if len(values) == 1 or not all(map(math.isfinite, values)):
        return f"{metric} {number(sum(values) / len(values))}"
    mean, lower, upper = (float(v) for v in mean_ci(values))
    return f"{metric} {number(mean)} [{number(lower)}, {number(upper)}]"


def table(visits: list[Visit]) -> str:
    """The tour's comparison: one row per paradigm (its seeds' means), aligned columns."""
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
    by_stop: dict[str, list[Visit]] = {}  # a stop's visits, one per seed
    for v in visits:
        by_stop.setdefault(v.stop.paradigm, []).append(v)
    rows = [header]
    for group in by_stop.values():
        stop, n = group[0].stop, len(group)
        values = [v.result.metrics.get(f"eval/{stop.metric}", math.nan) for v in group]
        rows.append(
            [
                stop.paradigm,
                stop.env_id,
                stop.agent,
                stop.revealed,
                f"{group[0].result.samples:,}",
                f"{sum(v.wall_time for v in group) / n:.1f} s",
                f"{sum(v.result.samples_per_s for v in group) / n:,.0f}",
                _headline(stop.metric, values),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def tensorboard_line(logdir: str) -> str:
    """The exact command that shows the tour."""
    return f"tensorboard --logdir {Path(logdir) / 'tour'}"
