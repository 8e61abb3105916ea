"""Your own Gymnasium env, registered the Gymnasium way, trained with PPO in the sandbox.

``GridWalk`` is written here as any Gymnasium env is: spaces, ``reset``, ``step``. It is
registered with ``gymnasium.register`` and then named by ``"__main__:GridWalk-v0"``-style
ids, or by the class itself; the sandbox's Gymnasium adapter vectorises it (sync or async),
converts its arrays to torch and reports its episodes. From the command line, the same env
trains with ``sandbox run scripts.custom_env:GridWalk-v0 ppo`` (the module is imported
first, in every async worker too).

    .venv/bin/python scripts/custom_env.py
"""

from __future__ import annotations

import argparse

import gymnasium
import numpy as np
import torch
from gymnasium import spaces

import sandbox


class GridWalk(gymnasium.Env):
    """Walk from a random cell of a ``size`` x ``size`` grid to the top-right corner.

    Observation: the (row, col) position scaled to [0, 1]; actions: up, down, left, right;
    reward -0.01 per step and 1 at the goal (terminated); truncated after 50 steps.
    """

    MOVES = np.array([[1, 0], [-1, 0], [0, -1], [0, 1]])

    def __init__(self, size: int = 6):
        self.size = size
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(4)

    def _obs(self) -> np.ndarray:
        return (self.pos / (self.size - 1)).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.integers(0, self.size - 1, size=2)
        return self._obs(), {}

    def step(self, action):
        self.pos = np.clip(self.pos + self.MOVES[action], 0, self.size - 1)
        at_goal = bool((self.pos == self.size - 1).all())
        return self._obs(), 1.0 if at_goal else -0.01, at_goal, False, {}


# Registered at import, so "scripts.custom_env:GridWalk-v0" works for `sandbox run` too.
gymnasium.register("GridWalk-v0", entry_point=GridWalk, max_episode_steps=50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vectorization", default="sync", choices=["sync", "async"])
    parser.add_argument("--logdir", default="runs")
    args = parser.parse_args()
    torch.set_num_threads(1)

    sandbox.seed_everything(args.seed)
    env = sandbox.make("GridWalk-v0", num_envs=8, vectorization=args.vectorization)
    agent = sandbox.make_agent("ppo", env, num_steps=64, lr=1e-3)
    before = sandbox.evaluate(env.eval_env(), agent)["eval/mean_reward"]
    result = sandbox.train(
        env, agent, args.steps, seed=args.seed, logdir=args.logdir, experiment="custom_env"
    )
    after = result.metrics["eval/mean_reward"]
    print(f"mean return before training {float(before):.2f}, after {after:.2f} (best ~0.9)")
    env.close()


if __name__ == "__main__":
    main()
