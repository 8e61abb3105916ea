"""Run directory names carry a short, stable digest of the options that differ from defaults."""

from __future__ import annotations

import subprocess
import sys

import sandbox
from sandbox.logger import options_digest
from sandbox.loop import changed_options, run_meta


def run_name(tmp_path, env_id="sandbox/LinReg-v0", agent="gradient", seed=0, num_envs=None,
             env_options=None, **agent_options):  # fmt: skip
    env = sandbox.make(env_id, num_envs, **(env_options or {}))
    result = sandbox.train(env, sandbox.make_agent(agent, env, **agent_options), 2 * env.num_envs,
                           seed=seed, logdir=tmp_path, progress=False)  # fmt: skip
    return result.run_dir.name


def digest_of(name):
    parts = name.split("__")
    return parts[2] if len(parts) == 5 else None


def test_default_options_add_no_digest(tmp_path):
    assert digest_of(run_name(tmp_path)) is None
    assert run_name(tmp_path).startswith("sandbox-LinReg-v0__gradient__s0__")


def test_the_same_options_give_the_same_digest_whatever_the_seed(tmp_path):
    a = digest_of(run_name(tmp_path, lr=0.05))
    b = digest_of(run_name(tmp_path, lr=0.05, seed=3))
    assert a is not None and a == b and len(a) == 6
    assert digest_of(run_name(tmp_path, lr=0.06)) not in (None, a)


def test_env_options_and_num_envs_count_too(tmp_path):
    named = {
        run_name(tmp_path, "FrozenLake-v1", "dqn", num_envs=2),
        run_name(tmp_path, "FrozenLake-v1", "dqn", num_envs=2, env_options={"is_slippery": False}),
        run_name(tmp_path, "FrozenLake-v1", "dqn"),
    }
    assert len({digest_of(n) for n in named}) == 3


def test_the_digest_is_the_same_in_another_process():
    options = {"agent.lr": 0.05, "env.noise": (1, 2), "num_envs": 4}
    code = (
        "from sandbox.logger import options_digest; "
        "print(options_digest({'num_envs': 4, 'env.noise': (1, 2), 'agent.lr': 0.05}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == options_digest(options)


def test_changed_options_names_what_differs():
    env = sandbox.make("sandbox/LinReg-v0", 5)
    agent = sandbox.make_agent("gradient", env, lr=0.05)
    meta = run_meta(env, agent)
    assert changed_options(env, agent, meta) == {"agent.lr": 0.05, "num_envs": 5}
