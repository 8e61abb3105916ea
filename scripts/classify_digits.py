"""Classify handwritten digits: logits as actions, -cross-entropy as the reward, softmax to read.

``sandbox/Digits-v0`` shows 8×8 images (1, 8, 8); the agent answers with 10 logits per image;
the env rewards log softmax(logits)[y] (minus the cross-entropy, d2l §4.1) and keeps its
gradient. After training, softmax turns logits into probabilities: printed for a few test
images, with the test accuracy.

    .venv/bin/python scripts/classify_digits.py             # then: tensorboard --logdir runs
"""

from __future__ import annotations

import argparse

import torch

import sandbox


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="passes over the train split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    # 1. env and agent: an MLP 64-256-10 and minibatch SGD
    sandbox.seed_everything(args.seed)
    env = sandbox.make("sandbox/Digits-v0", num_envs=64, device="cpu")
    agent = sandbox.make_agent("gradient", env, model="mlp", num_hiddens=256, lr=0.1)
    steps = args.epochs * len(env.X)
    result = sandbox.train(
        env, agent, steps, seed=args.seed, logdir=args.logdir or None,
        experiment="classify_digits", progress=False,
    )  # fmt: skip
    accuracy = result.metrics["eval/accuracy"]

    # 2. softmax probabilities of the first test images
    test = env.eval_env()
    X, y = test.X[:6], test.y[:6]  # (6, 1, 8, 8), (6,)
    probs = agent.act(X, deterministic=True).softmax(dim=1)  # (6, 10), rows sum to 1
    print(f"test accuracy after {args.epochs} epochs: {accuracy:.3f}\n")
    print("| label | predicted | p(predicted) | p(label) | row sum |")
    print("| ---:  | ---:      | ---:         | ---:     | ---:    |")
    for label, p in zip(y.tolist(), probs, strict=True):
        guess = int(p.argmax())
        print(f"| {label:5} | {guess:9} | {p[guess]:12.3f} | {p[label]:8.3f} | {p.sum():7.3f} |")
    print(f"\naccuracy >= 0.95: {'yes' if accuracy >= 0.95 else 'no'}")
    return {"accuracy": accuracy, "probs": probs, "labels": y}


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
