"""Linear regression as an agent: recover w = [2, -3.4] and b = 4.2 from rewards alone.

d2l §3.4's synthetic data, y = Xw + b + noise, as the env ``sandbox/LinReg-v0``. The agent
(a linear model and minibatch SGD) never sees y: the env rewards each prediction with
-(y_hat - y)², and the agent ascends that reward. Its weights end near the true ones.

    .venv/bin/python scripts/linear_regression.py            # then: tensorboard --logdir runs
"""

from __future__ import annotations

import argparse

import torch

import sandbox

TRUE_W, TRUE_B = (2.0, -3.4), 4.2


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="samples to learn from")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    # 1. the env holds the data and the labels; the agent holds a linear model and SGD
    sandbox.seed_everything(args.seed)
    env = sandbox.make("sandbox/LinReg-v0", num_envs=10, device="cpu")
    agent = sandbox.make_agent("gradient", env, model="linear", lr=0.03)

    # 2. act, be rewarded, learn; the loop logs reward/mean and eval/r2 against samples
    result = sandbox.train(
        env, agent, args.steps, seed=args.seed, logdir=args.logdir or None,
        experiment="linear_regression", progress=False,
    )  # fmt: skip

    # 3. read the learnt parameters out of the net (Flatten, Linear, head)
    linear = agent.net[1]
    learnt = [*linear.weight.detach().flatten().tolist(), float(linear.bias.detach())]
    truth = [*TRUE_W, TRUE_B]
    error = max(abs(a - b) for a, b in zip(learnt, truth, strict=True))
    print(f"after {result.samples} samples (test R² {result.metrics['eval/r2']:.4f}):\n")
    print("| parameter | true  | learnt  |\n| ---       | ---:  | ---:    |")
    for name, t, v in zip(("w[0]", "w[1]", "b"), truth, learnt, strict=True):
        print(f"| {name:<9} | {t:5.2f} | {v:7.4f} |")
    verdict = "yes" if error < 0.05 else "no"
    print(f"\nrecovered within 0.05 of the truth: {verdict} (largest error {error:.4f})")
    return {"error": error, "r2": result.metrics["eval/r2"], "recovered": error < 0.05}


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
