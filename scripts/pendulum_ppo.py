"""PPO with continuous actions: swing up the torch-native Pendulum, many sub-envs at once.

A diagonal Gaussian policy (state-independent log-std) acts on ``sandbox/Pendulum-v1``, whose
batched physics match Gymnasium's Pendulum-v1 to 1e-5 and stay on the device; actions are
clipped to the torque range for the env, and PPO learns from them as the env took them. Settings in
the spirit of RL Zoo's Pendulum PPO (gamma 0.9, lr 1e-3, 10 epochs, long rollouts; without
its gSDE exploration). A random policy scores about -1200 per episode; the default 300k
samples reach about -600 (seed 0); a good swing-up scores about -200 and needs longer.

    .venv/bin/python scripts/pendulum_ppo.py
    .venv/bin/python scripts/pendulum_ppo.py --gym      # Gymnasium's Pendulum-v1 instead
"""

from __future__ import annotations

import argparse

import torch

import sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--gym", action="store_true", help="Gymnasium's env via the adapter")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--logdir", default="runs")
    args = parser.parse_args()
    torch.set_num_threads(1)

    sandbox.seed_everything(args.seed)
    env_id = "Pendulum-v1" if args.gym else "sandbox/Pendulum-v1"
    env = sandbox.make(env_id, num_envs=args.num_envs, device=args.device)
    agent = sandbox.make_agent(
        "ppo",
        env,
        num_steps=256,
        num_minibatches=8,
        num_epochs=10,
        lr=1e-3,
        gamma=0.9,
        gae_lambda=0.95,
        anneal=True,
    )
    before = sandbox.evaluate(env.eval_env(), agent)["eval/mean_reward"]
    result = sandbox.train(
        env, agent, args.steps, seed=args.seed, logdir=args.logdir, experiment="pendulum_ppo"
    )
    print(
        f"mean return before {float(before):.0f}, after {result.metrics['eval/mean_reward']:.0f} "
        f"({result.samples:,} samples in {result.wall_time:.1f} s)"
    )
    env.close()


if __name__ == "__main__":
    main()
