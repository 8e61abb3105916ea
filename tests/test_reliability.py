"""Load: parallel runs never collide; a long run's memory stays flat."""

from __future__ import annotations

import subprocess
import sys

import pytest

RUN = [sys.executable, "-m", "sandbox", "run", "sandbox/LinReg-v0", "gradient", "--no-progress"]


@pytest.mark.slow
def test_parallel_runs_into_one_logdir_get_their_own_directories(tmp_path):
    procs = [
        subprocess.Popen(
            [*RUN, "--steps", "500", "--seed", "0", "--logdir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    dirs = sorted((tmp_path / "default").iterdir())
    assert len(dirs) == 3  # same env, agent, seed and second: still three directories
    for d in dirs:
        assert (d / "checkpoint.pt").is_file() and list(d.glob("events.out.tfevents.*"))


PEAK_RSS = """
import resource, sys, sandbox, torch
torch.set_num_threads(1)
env = sandbox.make(sys.argv[1], num_envs=int(sys.argv[2]))
agent = sandbox.make_agent(sys.argv[3], env)
sandbox.train(env, agent, int(sys.argv[4]), seed=0, logdir=sys.argv[5], progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


@pytest.mark.parametrize(
    "env_id,num_envs,agent,steps",
    [
        pytest.param("sandbox/LinReg-v0", 10, "gradient", 5_000, marks=pytest.mark.slow),
        # DQN's replay buffer is preallocated: ten times the transitions, the same memory
        pytest.param("sandbox/CartPole-v1", 8, "dqn", 3_000, marks=pytest.mark.slow),
    ],
)
def test_memory_stays_flat_over_ten_times_the_steps(tmp_path, env_id, num_envs, agent, steps):
    def peak_kib(n):
        out = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, env_id, str(num_envs), agent, str(n), str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
        return int(out.split()[-1])

    short, long = peak_kib(steps), peak_kib(10 * steps)
    assert long < short * 1.05 + 8 * 1024, f"peak RSS {short} KiB -> {long} KiB"
