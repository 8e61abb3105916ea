"""What augmentation costs: Digits training samples/s with ``--env.augment crop:2,flip`` vs none.

The same run twice, ``sandbox/Digits-v0`` + the gradient agent + ``sandbox.train`` (batch 64,
Adam, no logging), once with the pipeline applied to every training batch on the env's device
(envs/augment.py: per-sample shifts and flips as one ``grid_sample``) and once without. The
machine drifts, so the two run as interleaved pairs A B A B ... and the figure is the median of
the per-pair ratios augmented / plain. Goal: >= 0.8x.

    .venv/bin/python bench/augment.py                          # CNN, 7 pairs of 30 epochs, CPU
    .venv/bin/python bench/augment.py --model mlp              # the cheapest net: the worst case
    .venv/bin/python bench/augment.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import sandbox

BATCH = 64


def samples_per_s(augment: str, args: argparse.Namespace, seed: int) -> float:
    """One training run's samples per second (the env built outside the clock)."""
    sandbox.seed_everything(seed)
    env = sandbox.make("sandbox/Digits-v0", num_envs=BATCH, device=args.device, augment=augment)
    agent = sandbox.make_agent("gradient", env, model=args.model, optimizer="adam", lr=3e-3)
    steps = args.epochs * len(env.X)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = sandbox.train(env, agent, steps, seed=seed, progress=False)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    return result.samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--augment", default="crop:2,flip", help="the pipeline measured")
    parser.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    parser.add_argument("--pairs", type=int, default=7, help="interleaved pairs (>= 5)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the train split per run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    if args.pairs < 5:
        parser.error(f"--pairs must be >= 5, got {args.pairs}")
    torch.set_num_threads(args.threads)

    samples_per_s(args.augment, args, seed=0)  # warm up: first calls, allocator, caches
    plain, augmented = [], []
    for pair in range(args.pairs):
        plain.append(samples_per_s("", args, seed=pair))
        augmented.append(samples_per_s(args.augment, args, seed=pair))
        print(f"pair {pair}: plain {plain[-1]:9,.0f}  augmented {augmented[-1]:9,.0f}  "
              f"ratio {augmented[-1] / plain[-1]:.3f}", flush=True)  # fmt: skip
    ratio = statistics.median(a / p for a, p in zip(augmented, plain, strict=True))
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(
        f"\nDigits, {args.model}, batch {BATCH}, {device}, {args.threads} thread(s): "
        f"plain {statistics.median(plain):,.0f} samples/s, {args.augment} "
        f"{statistics.median(augmented):,.0f} samples/s; median ratio {ratio:.3f}x "
        f"({'meets' if ratio >= 0.8 else 'misses'} the 0.8x goal)"
    )


if __name__ == "__main__":
    main()
