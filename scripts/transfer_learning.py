"""Transfer learning: a backbone pretrained on other digits learns new ones from 5 images each.

d2l §14.2 with no download. The digits are split in two halves. Source task: a ResNet-18
learns the first half (about 720 training images, 8x8 upsampled to 16x16) from scratch, and
its weights are saved as a torchvision state_dict, as a downloaded model comes. Target
task: the other half, with only ``--per-class`` labelled images per class. The pretrained
backbone, frozen, under a new head (5,130 parameters) against the same architecture from
scratch (11 million), for the same number of target samples, both scored on every other
image of the target half. The source task's cost is paid once, beforehand.
``--weights PATH`` (e.g. torchvision's ImageNet ``resnet18-f37072fd.pth``) replaces the
source task. From the command line, with the weights this saves beside its runs:
``sandbox run sandbox/Digits-v0 gradient --model resnet18 --freeze --weights
runs/transfer_learning/resnet18-digits-source.pth``.

    .venv/bin/python scripts/transfer_learning.py           # then: tensorboard --logdir runs
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import sandbox
from envs.loaders import load_sklearn
from envs.supervised import SupervisedEnv

MODEL = "resnet18"
AGENT = {"input_size": 16, "optimizer": "adam", "lr": 1e-3}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="", help="a state_dict file instead of the source")
    parser.add_argument("--source-epochs", type=float, default=2, help="passes over the source")
    parser.add_argument("--per-class", type=int, default=5, help="labelled target images")
    parser.add_argument("--epochs", type=float, default=12, help="passes over the target images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    source, target = digit_halves(args.per_class, args.seed)
    rows, weights = {}, args.weights
    with tempfile.TemporaryDirectory() as tmp:
        if not weights:  # 1. the source task, from scratch
            rows["source: first half"], net = fit(args, source, args.source_epochs, None, "source")
            # torchvision's format, beside the runs so that the pretrained run can resume
            folder = Path(args.logdir, "transfer_learning") if args.logdir else Path(tmp)
            weights = str(folder / f"{MODEL}-digits-source.pth")
            torch.save(net.backbone.state_dict(), weights)
        # 2. the target task from a few images: pretrained and frozen vs from scratch
        rows["target: pretrained, frozen"], _ = fit(
            args, target, args.epochs, weights, "pretrained"
        )
        rows["target: from scratch"], _ = fit(args, target, args.epochs, None, "scratch")

    print(f"{MODEL} on the second half of the digits from {args.per_class} labelled images per "
          f"class, tested on the other {len(target.eval_env().X)} (the source row: on "
          f"{len(source.eval_env().X)} of its own half):\n")  # fmt: skip
    print("| run                        | trainable params | samples | accuracy | wall-clock |")
    print("| ---                        | ---:             | ---:    | ---:     | ---:       |")
    for name, r in rows.items():
        print(f"| {name:<26} | {r['trainable']:16,d} | {r['samples']:7,d} | "
              f"{r['accuracy']:8.3f} | {r['seconds']:8.1f} s |")  # fmt: skip
    pretrained, scratch = rows["target: pretrained, frozen"], rows["target: from scratch"]
    beats = pretrained["accuracy"] - scratch["accuracy"] > 0.1
    print(f"\npretrained and frozen beats from scratch by more than 10 points at equal budget: "
          f"{'yes' if beats else 'no'}")  # fmt: skip
    return rows


def digit_halves(per_class: int, seed: int) -> tuple[SupervisedEnv, SupervisedEnv]:
    """Digits shuffled and halved: the source (80% train, 20% test) and the target, whose
    first ``per_class`` images of each class train and the rest test."""
    X, y = load_sklearn("digits")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    X, y = X[order].reshape(-1, 1, 8, 8), y[order]  # (1797, 1, 8, 8)
    half = len(y) // 2
    source = SupervisedEnv(X[:half], y[:half], num_envs=32, standardize=True, val_fraction=0)
    X, y = X[half:], y[half:]
    train = torch.cat([torch.nonzero(y == c)[:per_class, 0] for c in range(10)])  # (10 * k,)
    test = torch.ones(len(y), dtype=torch.bool).index_fill_(0, train, False)  # the rest
    first = torch.cat([train, torch.nonzero(test)[:, 0]])  # the train images, then the test
    target = SupervisedEnv(
        X[first], y[first], num_envs=min(25, 10 * per_class), standardize=True,
        val_fraction=0, num_test=int(test.sum()),
    )  # fmt: skip
    return source, target


def fit(
    args: argparse.Namespace, env: SupervisedEnv, epochs: float, weights: str | None, name: str
) -> tuple[dict[str, float], torch.nn.Module]:
    """``epochs`` passes of ``MODEL``: from ``weights`` and frozen, or from scratch (None).

    Returns its test accuracy, samples, trainable parameters and seconds, and its net. Its
    TensorBoard run is under ``<logdir>/transfer_learning/<name>``.
    """
    logdir = Path(args.logdir) / "transfer_learning" if args.logdir else None
    sandbox.seed_everything(args.seed)
    agent = sandbox.make_agent(
        "gradient", env, model=MODEL, weights=weights, freeze=weights is not None, **AGENT
    )
    start = time.perf_counter()
    steps = max(1, int(epochs * len(env.X)))
    result = sandbox.train(
        env, agent, steps, seed=args.seed, logdir=logdir, experiment=name,
        eval_every=steps, progress=False,
    )  # fmt: skip
    row = {
        "accuracy": result.metrics["eval/accuracy"],
        "samples": result.samples,
        "trainable": sum(p.numel() for p in agent.net.parameters() if p.requires_grad),
        "seconds": time.perf_counter() - start,
    }
    return row, agent.net


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
