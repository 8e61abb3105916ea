"""A Gymnasium env whose step hangs for an hour once the file named by $SANDBOX_HANG exists."""

import os
import time

import gymnasium
import numpy as np


class Hangs(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        if os.path.exists(os.environ.get("SANDBOX_HANG", "/nonexistent")):
            time.sleep(3600)
        return np.zeros(2, np.float32), 1.0, False, False, {}


gymnasium.register("Hangs-v0", entry_point=Hangs, max_episode_steps=20)
