"""Mode collapse on the ring of 8 Gaussians, and its fix, with two gradient learners.

``sandbox/RingGAN-v0`` is the 2-D test of Metz et al. (2017): a generator that drops modes
shows it at a glance (TensorBoard's ``media/samples``: samples over the 3-std circles). Two
runs, same nets, seed and budget; only Adam's first-moment decay differs:

- weak: beta1 = 0.9 (Adam's default); the players' momentum makes the generator chase the
  discriminator from mode to mode;
- fix: beta1 = 0.5, as DCGAN (Radford et al. 2016) trains GANs.

The script prints, for each, the modes covered (of 8) and the share of samples within 3 std
of a mode (``eval/modes``, ``eval/near_mode``); tests/test_gan.py checks these at this budget.

    .venv/bin/python scripts/gan_ring.py               # then: tensorboard --logdir runs/gan_ring
"""

from __future__ import annotations

import argparse

import torch

import sandbox
from agents.gan import GANPlayerConfig, make_players

SETUPS = {"weak": 0.9, "fix": 0.5}  # name -> Adam's beta1 for both players


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1500, help="rounds of 64 samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small MLPs: one thread is fastest

    figures = {}
    for name, beta1 in SETUPS.items():
        sandbox.seed_everything(args.seed)
        env = sandbox.make("sandbox/RingGAN-v0", num_envs=64, device="cpu")
        cfg = GANPlayerConfig(beta1=beta1)
        players = make_players(env, generator=cfg, discriminator=cfg)
        result = sandbox.train(
            env, players, args.rounds * env.num_envs, seed=args.seed,
            logdir=args.logdir or None, experiment="gan_ring", progress=False,
        )  # fmt: skip
        figures[name] = result.metrics
        print(
            f"{name:<5} beta1 {beta1}: modes covered {result.metrics['eval/modes']:.0f} of 8, "
            f"samples near a mode {result.metrics['eval/near_mode']:.0%}"
        )
    if args.logdir:
        print(f"view: tensorboard --logdir {args.logdir}/gan_ring  (IMAGES: media/samples)")
    return figures


if __name__ == "__main__":
    main()
