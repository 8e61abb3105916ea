"""The sandbox's environments, registered with Gymnasium on import (string entry points only).

``import sandbox`` imports this module, so ``gymnasium.make_vec("sandbox/LinReg-v0")`` works.
"""

from sandbox.registry import register_env

register_env(
    "sandbox/LinReg-v0",
    "envs.supervised:LinRegEnv",
    paradigm="regression",
    num_envs=10,
    description="d2l's synthetic linear data y = Xw + b + noise, w = [2, -3.4], b = 4.2",
)
