"""A GAN on handwritten digits: the generator and the discriminator are two gradient learners.

``sandbox/DigitsGAN-v0``: each round the generator turns noise into 64 digits (8×8), the
discriminator scores real + fake and is rewarded -BCE; it then scores the fake again, and
the generator is rewarded -BCE(D(fake), 1) through those scores. Neither agent knows it is in
a GAN: both are ``GradientAgent`` minimising -reward. The printed figure is the Fréchet
distance of 1,000 samples to held-out digits in a digits classifier's features (held-out real
digits score about 0.6, uniform noise about 41); TensorBoard shows ``media/samples``.

    .venv/bin/python scripts/gan_digits.py             # then: tensorboard --logdir runs/gan_digits
"""

from __future__ import annotations

import argparse

import torch

import sandbox
from agents.gan import make_players


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3500, help="rounds of 64 samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small MLPs: one thread is fastest

    sandbox.seed_everything(args.seed)
    env = sandbox.make("sandbox/DigitsGAN-v0", num_envs=64, device="cpu")
    players = make_players(env)  # the `gan` preset: generator MLP + discriminator MLP, Adam
    result = sandbox.train(
        env, players, args.rounds * env.num_envs, seed=args.seed,
        logdir=args.logdir or None, experiment="gan_digits", progress=False,
    )  # fmt: skip
    print(f"rounds {args.rounds}, samples {result.samples:,}, {result.wall_time:.1f} s")
    print(f"Fréchet distance to held-out digits: {result.metrics['eval/frechet']:.2f}")
    if result.run_dir is not None:
        print(f"view: tensorboard --logdir {result.run_dir.parent}  (IMAGES: media/samples)")
    return result.metrics


if __name__ == "__main__":
    main()
