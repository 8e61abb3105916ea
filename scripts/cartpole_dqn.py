"""DQN on CartPole-v1: replay buffer on the device, target network, epsilon-greedy, Double DQN.

RL Zoo's CartPole DQN recipe (train every 256 samples, lr 2.3e-3, epsilon from 1 to 0.04
over the first 8k samples) with a 64-unit network, 64 gradient steps per phase and Double
DQN. DQN on CartPole is famously unstable after it first solves it (RL Zoo's own runs
oscillate too): watch ``rollout/ep_rew_mean`` and ``rollout/exploration_rate``.

    .venv/bin/python scripts/cartpole_dqn.py            # 50k samples
    tensorboard --logdir runs/cartpole_dqn
"""

from __future__ import annotations

import argparse

import torch

import sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="samples (env steps, summed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--native", action="store_true", help="the torch-native CartPole")
    parser.add_argument("--no-double", action="store_true", help="plain DQN targets")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs")
    args = parser.parse_args()
    torch.set_num_threads(1)

    sandbox.seed_everything(args.seed)
    env_id = "sandbox/CartPole-v1" if args.native else "CartPole-v1"
    env = sandbox.make(env_id, num_envs=args.num_envs, device=args.device)
    agent = sandbox.make_agent(
        "dqn", env, num_hiddens=64, gradient_steps=64, double_dqn=not args.no_double
    )
    result = sandbox.train(
        env, agent, args.steps, seed=args.seed, logdir=args.logdir, experiment="cartpole_dqn"
    )
    print(
        f"{result.samples:,} samples in {result.wall_time:.1f} s; "
        f"deterministic evaluation: mean return {result.metrics['eval/mean_reward']:.1f} / 500"
    )
    env.close()


if __name__ == "__main__":
    main()
