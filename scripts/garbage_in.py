"""Garbage in, garbage out: test accuracy on digits as more training labels are wrong.

``--env.label-noise r`` sets a fraction r of the training labels of ``sandbox/Digits-v0`` to
another class at random, once (fixed by the data seed); validation and test labels stay
clean, so the test accuracy measures the harm. Everything else is fixed: data, split, model,
seed, budget.

    .venv/bin/python scripts/garbage_in.py                  # then: tensorboard --logdir runs
"""

from __future__ import annotations

import argparse

import torch

import sandbox

RATES = (0.0, 0.2, 0.4, 0.6)


def main(argv: list[str] | None = None) -> dict[float, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40, help="passes over the train split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    accuracy = {}
    for rate in RATES:
        sandbox.seed_everything(args.seed)
        env = sandbox.make("sandbox/Digits-v0", num_envs=64, device="cpu", label_noise=rate)
        agent = sandbox.make_agent("gradient", env, model="mlp", lr=0.1)
        result = sandbox.train(
            env, agent, args.epochs * len(env.X), seed=args.seed,
            logdir=args.logdir or None, experiment="garbage_in", progress=False,
        )  # fmt: skip
        accuracy[rate] = result.metrics["eval/accuracy"]

    print("test accuracy of an MLP on digits, by the fraction of wrong training labels:\n")
    print("| wrong labels | test accuracy |\n| ---:         | ---:          |")
    for rate, acc in accuracy.items():
        print(f"| {rate:12.0%} | {acc:13.3f} |")
    drop = accuracy[0.0] - accuracy[0.4]
    print(f"\n40% wrong labels cost {100 * drop:.1f} points of test accuracy: "
          f"{'more' if drop > 0.03 else 'not more'} than 3")  # fmt: skip
    falling = all(accuracy[a] >= accuracy[b] for a, b in zip(RATES, RATES[1:], strict=False))
    print(f"accuracy falls as the noise grows: {'yes' if falling else 'no'}")
    return accuracy


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
