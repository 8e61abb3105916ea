"""Data augmentation buys invariance: shifted digits fool a CNN trained without it.

``--env.augment-shift 1`` moves every training image of ``sandbox/Digits-v0`` by up to one
pixel each time it is drawn, a new shift per sample (batched on the device; see
envs/wrappers.py for why not ``transforms.v2``). Both CNNs score about the same on the clean
test images; on test images shifted the same way, only the augmented one still reads them.

    .venv/bin/python scripts/augmentation.py                # then: tensorboard --logdir runs
"""

from __future__ import annotations

import argparse

import torch

import sandbox
from envs.wrappers import random_shift


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15, help="passes over the train split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    rows = {}
    for shift in (0, 1):
        # 1. the same CNN, trained on plain or on randomly shifted images
        sandbox.seed_everything(args.seed)
        env = sandbox.make("sandbox/Digits-v0", num_envs=64, device="cpu", augment_shift=shift)
        agent = sandbox.make_agent("gradient", env, model="cnn", optimizer="adam", lr=3e-3)
        sandbox.train(
            env, agent, args.epochs * len(env.X), seed=args.seed,
            logdir=args.logdir or None, experiment="augmentation", progress=False,
        )  # fmt: skip

        # 2. test on clean images, and on the same images shifted by up to one pixel
        clean, shifted = accuracies(agent, env.eval_env())
        rows["augmented" if shift else "plain"] = {"clean": clean, "shifted": shifted}

    print("test accuracy of a CNN on digits:\n")
    print("| training  | clean test | shifted test |\n| ---       | ---:       | ---:         |")
    for name, r in rows.items():
        print(f"| {name:<9} | {r['clean']:10.3f} | {r['shifted']:12.3f} |")
    plain, aug = rows["plain"], rows["augmented"]
    gain = aug["shifted"] - plain["shifted"]
    print(f"\naugmentation raises shifted-test accuracy by {100 * gain:.1f} points: "
          f"{'yes' if gain > 0.1 else 'no'} (> 10)")  # fmt: skip
    print(f"clean-test accuracy within 3 points: "
          f"{'yes' if abs(aug['clean'] - plain['clean']) < 0.03 else 'no'}")  # fmt: skip
    return rows


def accuracies(agent: sandbox.Agent, test: sandbox.Env) -> tuple[float, float]:
    """Test accuracy on clean images and on the same images shifted by up to one pixel."""
    g = torch.Generator().manual_seed(123)  # the same shifts for every model
    clean = test.score(lambda X: agent.act(X, deterministic=True))
    shifted = test.score(lambda X: agent.act(random_shift(X, 1, g), deterministic=True))
    return float(clean["accuracy"]), float(shifted["accuracy"])


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
