"""Overfitting: a big MLP memorises 50 noisy points; dropout and weight decay close the gap.

``sandbox/Moons-v0`` with 500 noisy points, of which only 50 train (10%) and 200 validate.
A two-layer MLP of 256 units fits the 50 perfectly and its train reward (minus the loss)
climbs to 0 while the validation reward falls: the generalization gap. Dropout (d2l §5.6) and
weight decay (d2l §3.7) each narrow it. Every evaluation (every 2 epochs) scores both splits:
in TensorBoard, ``eval/train_score`` and ``eval/score`` (train and validation accuracy) of the
three runs part, and ``eval/generalization_gap``, their difference, opens widest without a
regularizer.

    .venv/bin/python scripts/overfitting.py                 # then: tensorboard --logdir runs
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

import sandbox

DATA = {"num_samples": 500, "noise": 0.35, "val_fraction": 0.4, "test_fraction": 0.5}
BIG_MLP = {"model": "mlp", "num_hiddens": 256, "num_layers": 2, "optimizer": "adam", "lr": 1e-2}
VARIANTS = {"plain": {}, "dropout 0.5": {"dropout": 0.5}, "weight decay": {"weight_decay": 1e-2}}


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="passes over the 50 points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    rows = {}
    for name, regularizer in VARIANTS.items():
        sandbox.seed_everything(args.seed)
        env = sandbox.make("sandbox/Moons-v0", num_envs=10, device="cpu", **DATA)
        val = env.with_split("val")
        agent = sandbox.make_agent("gradient", env, **BIG_MLP, **regularizer)
        result = sandbox.train(
            env, agent, args.epochs * len(env.X), eval_env=val, seed=args.seed,
            eval_every=2 * len(env.X), logdir=args.logdir or None, experiment="overfitting",
            progress=False,
        )  # fmt: skip
        rows[name] = {**figures(agent, env, val), "run_dir": result.run_dir}

    print("a two-layer MLP on 50 noisy moons (train) and 200 held out (val):\n")
    print("| variant      | train acc | val acc | gap   | train reward | val reward | gap   |")
    print("| ---          | ---:      | ---:    | ---:  | ---:         | ---:       | ---:  |")
    for name, r in rows.items():
        acc_gap, reward_gap = gap(r, "accuracy"), gap(r, "reward")
        print(f"| {name:<12} | {r['train_accuracy']:9.3f} | {r['val_accuracy']:7.3f} | "
              f"{acc_gap:5.3f} | {r['train_reward']:12.3f} | {r['val_reward']:10.3f} | "
              f"{reward_gap:5.3f} |")  # fmt: skip
    for name in ("dropout 0.5", "weight decay"):
        narrower = all(gap(rows[name], m) < gap(rows["plain"], m) for m in ("accuracy", "reward"))
        print(f"\n{name} narrows the train-val gap (accuracy and reward): "
              f"{'yes' if narrower else 'no'}", end="")  # fmt: skip
    print()
    return rows


def figures(agent: sandbox.Agent, train: sandbox.Env, val: sandbox.Env) -> dict[str, float]:
    """Accuracy and mean reward on the train and validation splits, dropout off."""
    policy = lambda X: agent.act(X, deterministic=True)  # noqa: E731
    on_train, on_val = train.score(policy), val.score(policy)
    return {
        "train_accuracy": float(on_train["accuracy"]),
        "val_accuracy": float(on_val["accuracy"]),
        "train_reward": float(on_train["mean_reward"]),
        "val_reward": float(on_val["mean_reward"]),
    }


def gap(row: dict[str, float], metric: str) -> float:
    """Train minus validation: how much better the model does on what it learnt from."""
    return row[f"train_{metric}"] - row[f"val_{metric}"]


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
