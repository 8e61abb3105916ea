"""What is a label worth over a reward? One digits task, three things the env reveals.

The same 8×8 digits, the same budget in samples, a one-hidden-layer network of 256 ReLUs:

- ``gradient``: the env rewards ``-cross_entropy`` and keeps its gradient (full information);
- ``label``: the env's reward is detached, and it reveals the label after the agent acts
  (the online-learning protocol); the agent computes its own loss;
- ``bandit``: the agent names one class and hears 1 if right, else 0 (PPO learns from that).

All three log ``eval/accuracy`` against samples consumed into one TensorBoard experiment,
so the curves share one chart; the table says how many samples each needed to reach the
threshold. The label's gradient and the revealed label give the same update, so their
curves coincide; the 0/1 reward needs many more samples.

With ``--seeds N`` each learner runs N seeds: the table gives each figure as the mean over
seeds with its 95% bootstrap interval, and TensorBoard gets each learner's mean curve with
its band (Custom Scalars, margin charts), as ``sandbox compare --write-tensorboard`` writes.

    .venv/bin/python scripts/label_vs_reward.py [--seeds 5]
    tensorboard --logdir runs/label_vs_reward      # eval/accuracy: three curves, one chart
"""

from __future__ import annotations

import argparse
import math

import torch

import sandbox
from sandbox.apps import compare
from sandbox.apps.aggregate import mean_ci

NET = {"num_hiddens": 256, "num_layers": 1}
LEARNERS = {  # what the env reveals -> (feedback, agent, agent options)
    "gradient": ("gradient", "gradient", {"model": "mlp", "optimizer": "adam", "lr": 1e-3, **NET}),
    "label": ("label", "label", {"model": "mlp", "optimizer": "adam", "lr": 1e-3, **NET}),
    "bandit": ("bandit", "ppo", {"num_steps": 16, "lr": 1e-3, "activation": "relu", **NET}),
}


def samples_to_reach(curve: list[tuple[int, float]], threshold: float) -> float:
    """The first x (samples) at which a curve reaches ``threshold``; inf if it never does.

    Example:
        >>> samples_to_reach([(100, 0.5), (200, 0.92), (300, 0.95)], 0.9)
        200
    """
    return next((step for step, value in curve if value >= threshold), math.inf)


def mean_and_interval(values: list[float], spec: str = ",.0f") -> str:
    """``"3,008"``, ``"3,200 [3,008, 3,392]"`` (mean over seeds, 95% CI) or ``"not reached"``.

    Example:
        >>> mean_and_interval([3000.0]), mean_and_interval([1.0, math.inf])
        ('3,000', 'not reached by 1 of 2 seeds')
    """
    missed = sum(not math.isfinite(v) for v in values)
    if missed == len(values):
        return "not reached"
    if missed:
        return f"not reached by {missed} of {len(values)} seeds"
    if len(values) == 1:
        return f"{values[0]:{spec}}"
    mean, lower, upper = (float(v) for v in mean_ci(values))
    return f"{mean:{spec}} [{lower:{spec}}, {upper:{spec}}]"


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000, help="samples per learner")
    parser.add_argument("--eval-every", type=int, default=1_000, help="samples between evals")
    parser.add_argument("--threshold", type=float, default=0.9, help="test accuracy to reach")
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per learner: --seed onwards")
    parser.add_argument("--logdir", default="runs", help="TensorBoard root")
    args = parser.parse_args(argv)

    seeds = range(args.seed, args.seed + args.seeds)
    figures, runs = {}, []
    for revealed, (feedback, agent_name, options) in LEARNERS.items():
        reach, final = [], []
        for seed in seeds:
            sandbox.seed_everything(seed)
            env = sandbox.make("sandbox/Digits-v0", num_envs=64, feedback=feedback)
            agent = sandbox.make_agent(agent_name, env, **options)
            result = sandbox.train(
                env, agent, args.steps, seed=seed, logdir=args.logdir,
                experiment="label_vs_reward", eval_every=args.eval_every, progress=False,
            )  # fmt: skip
            runs.append(compare.read_run(result.run_dir))  # what TensorBoard shows
            curve = runs[-1].scalars["eval/accuracy"]
            reach.append(samples_to_reach(curve, args.threshold))
            final.append(curve[-1][1])
        figures[revealed] = {  # means over seeds (one seed: its own figures)
            "samples_to_threshold": sum(reach) / len(reach),
            "final_accuracy": sum(final) / len(final),
            "reach": reach,
            "final": final,
        }
    if args.seeds > 1:  # each learner's mean curve and band, for TensorBoard
        compare.write_tensorboard(runs)

    base = figures["gradient"]["samples_to_threshold"]
    over = f" (mean [95% CI] of {args.seeds} seeds)" if args.seeds > 1 else ""
    print(
        f"| env reveals | agent | samples to {args.threshold:.0%} test accuracy{over} "
        f"| vs the gradient | accuracy after {args.steps:,} |"
    )
    print("| --- | --- | ---: | ---: | ---: |")
    for revealed, f in figures.items():
        agent = LEARNERS[revealed][1]
        ratio = f"{f['samples_to_threshold'] / base:.2f}x"
        accuracy = mean_and_interval(f["final"], ".3f")
        reached = mean_and_interval(f["reach"])
        print(f"| {revealed} | {agent} | {reached} | {ratio} | {accuracy} |")
    print(f"\ncurves: tensorboard --logdir {args.logdir}/label_vs_reward (eval/accuracy)")
    return figures


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
