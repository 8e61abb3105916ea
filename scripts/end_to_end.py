"""End to end vs hand-crafted: a CNN that learns its features against a classic pipeline.

Before AlexNet, image classification was a pipeline (d2l §8.1.1): features designed by hand,
then a classifier fitted on them. Both halves run here as agents in the same env,
``sandbox/Digits-v0``:

- ``pipeline`` (agents/pipeline.py): histograms of gradient orientation per 2×2 cell (HOG),
  or the raw pixels, into scikit-learn's LogisticRegression or an SVM, fitted once on the
  labels revealed (``--env.feedback label``) during one epoch;
- ``gradient`` with ``model="cnn"``: a small CNN whose features and classifier are learnt
  together from the loss's gradient, over many epochs.

The table gives each one's test accuracy, samples and wall-clock; ``eval/accuracy`` of every
run shares one TensorBoard chart (the HParams tab says which run is which).

    .venv/bin/python scripts/end_to_end.py
    tensorboard --logdir runs/end_to_end
"""

from __future__ import annotations

import argparse

import torch

import sandbox

RUNS = {  # name -> (feedback, agent, agent options)
    "pixels -> logistic regression": ("label", "pipeline", {"features": "pixels"}),
    "HOG -> logistic regression": ("label", "pipeline", {"features": "hog"}),
    "HOG -> SVM": ("label", "pipeline", {"features": "hog", "classifier": "svm"}),
    "CNN, end to end": ("gradient", "gradient", {"model": "cnn", "optimizer": "adam", "lr": 1e-3}),
}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="the CNN's passes over the data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    rows = {}
    for name, (feedback, agent_name, options) in RUNS.items():
        sandbox.seed_everything(args.seed)
        env = sandbox.make("sandbox/Digits-v0", num_envs=64, device="cpu", feedback=feedback)
        agent = sandbox.make_agent(agent_name, env, **options)
        epochs = 1 if agent_name == "pipeline" else args.epochs  # the pipeline fits once
        result = sandbox.train(
            env, agent, epochs * len(env.X), seed=args.seed, logdir=args.logdir or None,
            experiment="end_to_end", progress=False,
        )  # fmt: skip
        rows[name] = {
            "accuracy": result.metrics["eval/accuracy"],
            "samples": result.samples,
            "seconds": result.wall_time,
        }

    print(f"8x8 digits, {len(env.X):,} to learn from, {len(env.eval_env().X)} to test on:\n")
    print("| run                           | learnt end to end | samples | wall-clock | test acc |")
    print("| ---                           | ---               | ---:    | ---:       | ---:     |")
    for name, r in rows.items():
        end_to_end = "yes" if RUNS[name][1] == "gradient" else "no"
        print(f"| {name:<29} | {end_to_end:<17} | {r['samples']:7,} | {r['seconds']:8.2f} s | "
              f"{r['accuracy']:8.3f} |")  # fmt: skip
    cnn = rows["CNN, end to end"]["accuracy"]
    best = max(r["accuracy"] for name, r in rows.items() if RUNS[name][1] == "pipeline")
    hog, pixels = (rows[f"{f} -> logistic regression"]["accuracy"] for f in ("HOG", "pixels"))
    print(f"\nthe CNN beats every pipeline: {'yes' if cnn > best else 'no'} "
          f"({cnn - best:+.3f} over the best)")  # fmt: skip
    print(f"HOG features beat raw pixels (logistic regression): {'yes' if hog > pixels else 'no'} "
          f"({hog - pixels:+.3f})")  # fmt: skip
    return rows


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
