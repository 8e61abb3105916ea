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
from dataclasses import dataclass
from pathlib import Path

import torch

from sandbox import presets, registry, seats
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
    """One paradigm of the tour: which env, which agent, and what the env reveals.

    Budget and options are the preset's (``sandbox/presets/AGENT.toml``), as a user typing
    ``sandbox run ENV_ID AGENT`` gets them.
    """

    paradigm: str
    env_id: str
    agent: str
    revealed: str
    """What the agent learns from, in a few words."""
    metric: str
    """The ``eval/<metric>`` shown as the headline (``eval/score`` is its higher-is-better form)."""
    gap: bool = False
    """Show ``eval/generalization_gap`` (train minus test score) beside the headline."""

    @property
    def preset(self) -> presets.Preset:
        """The preset of ``env_id`` and ``agent`` (every stop has one)."""
        preset = presets.find(self.env_id, self.agent)
        if preset is None:
            raise UsageError(f"the tour's stop {self.env_id} {self.agent} has no preset")
        return preset


TOUR: list[Stop] = [
    Stop("regression", "sandbox/LinReg-v0", "gradient", "the loss's gradient", "r2"),
    Stop(
        "classification", "sandbox/Digits-v0", "gradient", "the loss's gradient", "accuracy", True
    ),
    Stop(
        "classification as a bandit", "sandbox/Digits-v0", "ppo", "1 if right, else 0", "accuracy"
    ),
    Stop("clustering", "sandbox/DigitsClusters-v0", "kmeans", "-distance² to its cluster", "ari"),
    Stop("GAN game", "sandbox/DigitsGAN-v0", "gan", "the other player's judgement", "frechet"),
    Stop(
        "board game",
        "sandbox/TicTacToe-v0",
        "ppo",
        "win, draw or loss vs past selves",
        "win_rate_vs_random",
    ),
    Stop(
        "reinforcement learning",
        "sandbox/CartPole-v1",
        "ppo",
        "reward values, delayed",
        "mean_reward",
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
    torch.set_num_threads(1)  # small models: one thread is fastest
    visits = []
    for stop, run_seed in [(stop, s) for stop in TOUR for s in seeds or [seed]]:
        seed_everything(run_seed)
        preset = stop.preset
        env = registry.make(stop.env_id, preset.num_envs, device=device, **preset.env)
        players = seats.players(stop.env_id, stop.agent)
        if players:  # a game: one agent per player, by the preset's names
            options = {p: (n, preset.players.get(p, {})) for p, n in players.items()}
            agent = seats.make_players(env, options)
        else:
            agent = registry.make_agent(stop.agent, env, **preset.agent)
        steps = max(env.num_envs, round(preset.steps * scale))
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
        headline = _headline(stop.metric, values)
        if stop.gap:  # how much of the train score does not carry over to the test split
            gaps = [v.result.metrics.get("eval/generalization_gap", math.nan) for v in group]
            headline += ", " + _headline("gap", gaps)
        rows.append(
            [
                stop.paradigm,
                stop.env_id,
                stop.agent,
                stop.revealed,
                f"{group[0].result.samples:,}",
                f"{sum(v.wall_time for v in group) / n:.1f} s",
                f"{sum(v.result.samples_per_s for v in group) / n:,.0f}",
                headline,
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def tensorboard_line(logdir: str) -> str:
    """The exact command that shows the tour."""
    return f"tensorboard --logdir {Path(logdir) / 'tour'}"
