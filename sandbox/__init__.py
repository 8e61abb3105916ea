"""The agent sandbox: every learning paradigm as one agent-environment loop.

>>> import sandbox
>>> env = sandbox.make("sandbox/LinReg-v0", num_envs=32, device="cpu")
>>> agent = sandbox.make_agent("gradient", env, lr=0.03)
>>> result = sandbox.train(env, agent, steps=2000, logdir=None, progress=False)
"""

from sandbox.apps.check import check_env
from sandbox.apps.eval import load
from sandbox.callbacks import Callback, StopAtScore
from sandbox.checkpoint import load_checkpoint, save_checkpoint
from sandbox.core import (
    ActionError,
    Agent,
    CheckpointError,
    CheckpointWriteError,
    Env,
    NonFiniteError,
    RunFailed,
    RunInterrupted,
    SandboxError,
    Transition,
    UsageError,
)
from sandbox.device import env_device, resolve_device
from sandbox.evaluation import evaluate
from sandbox.loop import train
from sandbox.registry import (
    AGENTS,
    ENVS,
    make,
    make_agent,
    register_agent,
    register_env,
)
from sandbox.run import Run, RunConfig, RunResult
from sandbox.seeding import seed_everything
from sandbox.spaces import ActionChecker

# The built-in envs and agents register themselves (string entry points, nothing heavy).
from sandbox.registry import load_entry_point as _load  # noqa: E402  isort: skip

_load("envs:__name__"), _load("agents:__name__")

__all__ = [
    "AGENTS",
    "ENVS",
    "ActionChecker",
    "ActionError",
    "Agent",
    "Callback",
    "CheckpointError",
    "CheckpointWriteError",
    "Env",
    "NonFiniteError",
    "Run",
    "RunConfig",
    "RunFailed",
    "RunInterrupted",
    "RunResult",
    "SandboxError",
    "StopAtScore",
    "Transition",
    "UsageError",
    "check_env",
    "env_device",
    "evaluate",
    "load",
    "load_checkpoint",
    "make",
    "make_agent",
    "register_agent",
    "register_env",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "train",
]
