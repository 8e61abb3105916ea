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

    .venv/bin/python scripts/label_vs_reward.py
    tensorboard --logdir runs/label_vs_reward      # eval/accuracy: three curves, one chart
"""

from __future__ import annotations

import argparse
import math

import torch

import sandbox
from sandbox.apps.compare import read_run

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


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000, help="samples per learner")
    parser.add_argument("--eval-every", type=int, default=1_000, help="samples between evals")
    parser.add_argument("--threshold", type=float, default=0.9, help="test accuracy to reach")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root")
    args = parser.parse_args(argv)

    figures = {}
    for revealed, (feedback, agent_name, options) in LEARNERS.items():
        sandbox.seed_everything(args.seed)
        env = sandbox.make("sandbox/Digits-v0", num_envs=64, feedback=feedback)
        agent = sandbox.make_agent(agent_name, env, **options)
        result = sandbox.train(
            env, agent, args.steps, seed=args.seed, logdir=args.logdir,
            experiment="label_vs_reward", eval_every=args.eval_every, progress=False,
        )  # fmt: skip
        curve = read_run(result.run_dir).scalars["eval/accuracy"]  # what TensorBoard shows
        figures[revealed] = {
            "samples_to_threshold": samples_to_reach(curve, args.threshold),
            "final_accuracy": curve[-1][1],
        }

    base = figures["gradient"]["samples_to_threshold"]
    print(
        f"| env reveals | agent | samples to {args.threshold:.0%} test accuracy "
        f"| vs the gradient | accuracy after {args.steps:,} |"
    )
    print("| --- | --- | ---: | ---: | ---: |")
    for revealed, f in figures.items():
        reach = f["samples_to_threshold"]
        reached = f"{reach:,}" if math.isfinite(reach) else "not reached"
        agent = LEARNERS[revealed][1]
        ratio = f"{reach / base:.2f}x"
        print(f"| {revealed} | {agent} | {reached} | {ratio} | {f['final_accuracy']:.3f} |")
    print(f"\ncurves: tensorboard --logdir {args.logdir}/label_vs_reward (eval/accuracy)")
    return figures


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
