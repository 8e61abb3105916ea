"""Data augmentation buys the invariances it names, and costs where the data lacks them.

A CNN learns ``sandbox/Digits-v0`` from 180 training images (10% of the digits; the env's
``--env.augment`` pipeline, envs/augment.py, transforms each training batch on the device with
new parameters per sample), three ways:

- ``none``: the images as they are;
- ``crop:1,rotate:10``: shifted by up to a pixel and rotated by up to 10 degrees: digits keep
  their label under both, so the net keeps its clean-test accuracy and learns to read
  shifted, rotated digits, which the plain net cannot;
- ``crop:1,flip``: shifted and mirrored: a mirrored 3 is no digit, so the net spends capacity
  on images it never meets at test time and loses clean-test accuracy.

Each is trained with 3 seeds; the table gives the means. In TensorBoard, ``media/augmented``
shows what each net was shown and ``eval/generalization_gap`` how far train and test part.

    .venv/bin/python scripts/augmentation.py                # then: tensorboard --logdir runs
"""

from __future__ import annotations

import argparse

import torch

import sandbox

DATA = {"val_fraction": 0.5, "test_fraction": 0.4}  # 10% of the 1797 digits train: 180
PIPELINES = {"none": "", "shift+rotate": "crop:1,rotate:10", "shift+flip": "crop:1,flip"}
MOVED_TEST = "crop:1,rotate:10"
"""How the moved test images are made: the same kind of shift and rotation, drawn once."""


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60, help="passes over the 180 images")
    parser.add_argument("--seeds", type=int, default=3, help="runs per pipeline (seeds 0, 1, ..)")
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    rows = {}
    for name, spec in PIPELINES.items():
        runs = [train_one(spec, seed, args) for seed in range(args.seeds)]
        rows[name] = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}

    print(f"a CNN on 180 training digits, test accuracy (mean of {args.seeds} seeds):\n")
    print("| augmentation | pipeline          | clean test | moved test | gap   |")
    print("| ---          | ---               | ---:       | ---:       | ---:  |")
    for name, r in rows.items():
        print(f"| {name:<12} | {PIPELINES[name] or '-':<17} | {r['clean']:10.3f} | "
              f"{r['moved']:10.3f} | {r['gap']:5.3f} |")  # fmt: skip
    for line in claims(rows):
        print(line)
    return rows


def train_one(spec: str, seed: int, args: argparse.Namespace) -> dict[str, float]:
    """Train on the augmented images; test on clean ones and on shifted, rotated ones."""
    sandbox.seed_everything(seed)
    env = sandbox.make("sandbox/Digits-v0", num_envs=32, device="cpu", augment=spec, **DATA)
    agent = sandbox.make_agent("gradient", env, model="cnn", optimizer="adam", lr=3e-3)
    result = sandbox.train(
        env, agent, args.epochs * len(env.X), seed=seed,
        logdir=args.logdir or None, experiment="augmentation", progress=False,
    )  # fmt: skip
    # the same moved test images for every net: one draw, from a fixed generator
    mover = sandbox.make("sandbox/Digits-v0", augment=MOVED_TEST, **DATA).eval_env()
    moved_X = mover.augmented(mover.X, torch.Generator().manual_seed(123))  # (n, 1, 8, 8)
    with torch.inference_mode():
        y_hat = mover.predict(agent.act(moved_X, deterministic=True))  # (n,)
    return {
        "clean": result.metrics["eval/accuracy"],
        "moved": float((y_hat == mover.y).float().mean()),
        "gap": result.metrics["eval/generalization_gap"],
    }


def claims(rows: dict[str, dict[str, float]]) -> list[str]:
    """The printed verdicts, each with its threshold."""
    none, right, wrong = rows["none"], rows["shift+rotate"], rows["shift+flip"]
    gain = right["moved"] - none["moved"]
    kept = abs(right["clean"] - none["clean"])
    cost = none["clean"] - wrong["clean"]
    return [
        f"\nshift+rotate raises accuracy on moved test digits by {100 * gain:.1f} points: "
        f"{'yes' if gain > 0.2 else 'no'} (> 20)",
        f"shift+rotate keeps clean-test accuracy within {100 * kept:.1f} points: "
        f"{'yes' if kept < 0.03 else 'no'} (< 3)",
        f"shift+flip costs clean-test accuracy ({100 * cost:.1f} points; mirrored digits are "
        f"not digits): {'yes' if cost > 0.03 else 'no'} (> 3)",
    ]


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
