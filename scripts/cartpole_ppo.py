"""PPO solves CartPole-v1: Gymnasium's own env through the adapter, or the torch-native one.

RL Zoo's tuned CartPole hyperparameters (8 envs x 32 steps, 20 epochs, lr and clip decaying
linearly to 0, gamma 0.98, GAE lambda 0.8). The loop logs Stable-Baselines3's tags
(``rollout/ep_rew_mean``, ``train/approx_kl``, ``train/clip_fraction``...), so an SB3 run
overlays in TensorBoard. ``--native`` runs ``sandbox/CartPole-v1``: batched torch physics that
never leave the device; ``--vectorization async`` steps Gymnasium's env in worker processes.

    .venv/bin/python scripts/cartpole_ppo.py            # ~100k samples
    tensorboard --logdir runs/cartpole_ppo
"""

from __future__ import annotations

import argparse

import torch

import sandbox
from agents.ppo import CARTPOLE_ZOO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="samples (env steps, summed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--native", action="store_true", help="the torch-native CartPole")
    parser.add_argument("--vectorization", default="sync", choices=["sync", "async"])
    parser.add_argument("--device", default="cpu", help="small MLPs are fastest on the CPU")
    parser.add_argument("--logdir", default="runs")
    args = parser.parse_args()
    torch.set_num_threads(1)  # a small MLP: one thread is fastest

    sandbox.seed_everything(args.seed)
    if args.native:
        env = sandbox.make("sandbox/CartPole-v1", num_envs=8, device=args.device)
    else:
        env = sandbox.make(
            "CartPole-v1", num_envs=8, device=args.device, vectorization=args.vectorization
        )
    agent = sandbox.make_agent("ppo", env, anneal=True, **CARTPOLE_ZOO)
    result = sandbox.train(
        env, agent, args.steps, seed=args.seed, logdir=args.logdir, experiment="cartpole_ppo"
    )
    print(
        f"{result.samples:,} samples in {result.wall_time:.1f} s; "
        f"deterministic evaluation: mean return {result.metrics['eval/mean_reward']:.1f} / 500"
    )
    print(f"tensorboard --logdir {args.logdir}/cartpole_ppo")
    env.close()


if __name__ == "__main__":
    main()
