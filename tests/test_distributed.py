"""Data-parallel runs under torchrun (sandbox/distributed.py), on the CPU with Gloo.

Every multi-process test launches ``torchrun`` on 127.0.0.1 with 2 processes, as a user
would; each launch costs a few seconds of interpreter start-up, so those tests are slow.
The sharding itself is checked in-process, without a process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import sandbox
from tests.conftest import _free_port, read_scalars

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
DIGITS = ["sandbox/Digits-v0", "gradient", "--preset", "none", "--seed", "0", "--no-progress"]


def torchrun(*args: str, nproc: int = 2, port: int | None = None) -> list[str]:
    """A 2-process torchrun command line on loopback: ``torchrun ... -m sandbox run ARGS``."""
    return [
        *TORCHRUN,
        "--nproc-per-node",
        str(nproc),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port or _free_port()),
        "-m",
        "sandbox",
        "run",
        *args,
    ]


def run(cmd: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def run_dirs(logdir: Path) -> list[Path]:
    return sorted(p for p in (logdir / "default").iterdir() if p.is_dir())


def net_state(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["agent"]["net"]


def wait_for_events(logdir: Path, proc: subprocess.Popen, timeout: float = 120) -> Path:
    """The run directory, once rank 0 has written its first event (the loop has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        found = list(logdir.glob("default/*/events.out.tfevents.*"))
        if found:
            time.sleep(2.0)  # every rank past its signal handler and into the loop
            return found[0].parent
        time.sleep(0.2)
    raise AssertionError("the run did not start")


# --- sharding, in one process ------------------------------------------------------------------
def test_ranks_batches_together_are_one_process_batch():
    def batches(num_envs, rank=0, world=1, steps=30):
        env = sandbox.make("sandbox/Iris-v0", num_envs=num_envs)  # 105 train samples: epochs wrap
        if world > 1:
            env.shard(rank, world)
        obs, _ = env.reset(seed=3)
        out = [obs]
        for _ in range(steps):
            obs = env.step(torch.zeros(num_envs, 3))[0]
            out.append(obs)
        return out

    one = batches(16)
    ranks = [batches(8, r, 2) for r in range(2)]
    for step, batch in enumerate(one):
        assert torch.equal(batch, torch.cat([ranks[0][step], ranks[1][step]]))


def test_gan_ranks_rounds_together_are_one_process_round():
    def rounds(num_envs, rank=0, world=1):
        game = sandbox.make("sandbox/RingGAN-v0", num_envs=num_envs, num_samples=200)
        if world > 1:
            game.shard(rank, world)
        game.reset(seed=1)
        seen = []
        for _ in range(12):  # past an epoch of the 160 training samples
            seen.append((game.observe("generator"), game.observe("discriminator")))
            game._new_round()
        return seen

    one, ranks = rounds(32), [rounds(16, r, 2) for r in range(2)]
    for i, (noise, real) in enumerate(one):
        assert torch.equal(noise, torch.cat([ranks[0][i][0], ranks[1][i][0]]))
        assert torch.equal(real, torch.cat([ranks[0][i][1], ranks[1][i][1]]))


def test_a_shard_larger_than_the_split_is_refused():
    env = sandbox.make("sandbox/Iris-v0", num_envs=64)
    with pytest.raises(sandbox.UsageError, match="2 ranks x num_envs 64"):
        env.shard(1, 2)


def test_an_agent_without_a_data_parallel_form_is_refused():
    from sandbox import distributed

    env = sandbox.make("sandbox/CartPole-v1", num_envs=2)
    with pytest.raises(sandbox.UsageError, match="agent 'dqn' has no data-parallel form"):
        distributed.require_data_parallel(sandbox.make_agent("dqn", env))


# --- torchrun, 2 processes on loopback ---------------------------------------------------------
@pytest.mark.slow
def test_two_ranks_of_b_equal_one_rank_of_2b_through_ctrl_c_and_resume(tmp_path):
    # two processes, batch 32 each; Ctrl-C (SIGINT to the whole process group) mid-run
    logdir = tmp_path / "two"
    proc = subprocess.Popen(
        torchrun(*DIGITS, "--num-envs", "32", "--steps", "100000000", "--logdir", str(logdir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    wait_for_events(logdir, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    [run_dir] = run_dirs(logdir)  # one run directory, one checkpoint, rank 0's events only
    assert [p.name for p in run_dir.iterdir() if p.suffix == ".pt"] == ["checkpoint.pt"]
    assert len(list(logdir.rglob("events.out.tfevents.*"))) == 1
    assert "stopped by SIGINT" in err, err[-3000:]
    stopped_at = torch.load(run_dir / "checkpoint.pt", weights_only=True)["samples"]
    steps = stopped_at + 64 * 50  # 50 more SGD steps after the resume

    # another world size is refused; the same one continues
    single = run([sys.executable, "-m", "sandbox", "run", "--resume", str(run_dir)])
    assert single.returncode == 2 and "trained by 2 process(es)" in single.stderr
    done = run(torchrun("--resume", str(run_dir), "--steps", str(steps), "--no-progress"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert run_dirs(logdir) == [run_dir]

    # to the parameters of one process with batch 64, straight through
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/Digits-v0", num_envs=64)
    agent = sandbox.make_agent("gradient", env)
    sandbox.train(env, agent, steps, seed=0, logdir=None, progress=False)
    two = net_state(run_dir)
    for name, value in agent.net.state_dict().items():
        torch.testing.assert_close(two[name], value, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.slow
def test_two_rank_gan_equals_one_rank_of_twice_the_batch(tmp_path):
    from agents.gan import make_players

    args = [
        "sandbox/RingGAN-v0",
        "gan",
        "--preset",
        "none",
        "--num-envs",
        "32",
        "--steps",
        "4096",
        "--seed",
        "0",
    ]
    done = run(torchrun(*args, "--logdir", str(tmp_path), "--no-progress"))
    assert done.returncode == 0, done.stderr[-3000:]
    [run_dir] = run_dirs(tmp_path)
    two = torch.load(run_dir / "checkpoint.pt", weights_only=True)["agent"]

    sandbox.seed_everything(0)
    game = sandbox.make("sandbox/RingGAN-v0", num_envs=64)
    players = make_players(game)
    sandbox.train(game, players, 4096, seed=0, logdir=None, progress=False)
    for player, agent in players.items():  # 64 rounds of Adam, both players
        for name, value in agent.net.state_dict().items():
            torch.testing.assert_close(two[player]["net"][name], value, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_two_rank_ppo_learns_cartpole(tmp_path):
    # RL Zoo's CartPole hyperparameters; 4 sub-envs per rank, each rank its own seeds
    zoo = "--num-steps 32 --num-epochs 20 --num-minibatches 1 --lr 1e-3 --gamma 0.98"
    args = ["sandbox/CartPole-v1", "ppo", "--preset", "none", *zoo.split(), "--gae-lambda", "0.8"]
    args += ["--num-envs", "4", "--steps", "15000", "--eval-every", "15000", "--seed", "0"]
    done = run(torchrun(*args, "--logdir", str(tmp_path), "--no-progress"))
    assert done.returncode == 0, done.stderr[-3000:]
    [run_dir] = run_dirs(tmp_path)
    scalars = read_scalars(run_dir)
    returns = [value for _, value in scalars["rollout/ep_rew_mean"]]
    assert sum(returns[:5]) / 5 < 30 and sum(returns[-10:]) / 10 >= 100, returns  # seed 0: 167
    assert scalars["eval/score"][-1][1] >= 75, scalars["eval/score"]  # seed 0: 139
    # --steps counts both ranks' samples: 15,000 in all, 7,500 each
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["agent"]["samples"] == 15_000


@pytest.mark.slow
def test_killing_one_rank_stops_the_other_naming_it(tmp_path):
    proc = subprocess.Popen(
        torchrun(*DIGITS, "--steps", "100000000", "--logdir", str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    wait_for_events(tmp_path, proc)
    rank1 = _worker_pid(proc.pid, local_rank=1)
    os.kill(rank1, signal.SIGKILL)
    start = time.monotonic()
    _, err = proc.communicate(timeout=90)
    assert time.monotonic() - start < 60
    assert proc.returncode != 0
    assert "[rank 0] stopped at sample" in err and "rank 1 stopped without a word" in err, err[
        -3000:
    ]


FAILING_RANK = """
import sys
import sandbox
from sandbox import distributed


class FailsOnRank1:  # the env, but its 20th step raises on rank 1
    def __init__(self, env):
        self.env, self.steps = env, 0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, action):
        self.steps += 1
        if distributed.rank() == 1 and self.steps == 20:
            raise ValueError("a bug on rank 1")
        return self.env.step(action)


distributed.init("cpu")
sandbox.seed_everything(0)
env = sandbox.make("sandbox/Digits-v0", num_envs=32)
agent = sandbox.make_agent("gradient", env)
try:
    sandbox.train(FailsOnRank1(env), agent, 10**8, seed=0, logdir=sys.argv[1], progress=False)
except sandbox.RunFailed as e:
    sys.exit(f"sandbox: error: {e}")
finally:
    distributed.shutdown()
"""


@pytest.mark.slow
def test_a_rank_that_raises_is_named_with_its_error_by_the_others(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(FAILING_RANK)
    cmd = [*TORCHRUN, "--nproc-per-node", "2", "--master-addr", "127.0.0.1"]
    cmd += ["--master-port", str(_free_port()), str(script), str(tmp_path)]
    done = run(cmd, timeout=120)
    assert done.returncode != 0
    err = done.stderr
    assert "[rank 1] ValueError: a bug on rank 1 at sample 1216" in err, err[-3000:]
    assert "[rank 0] stopped at sample 1216: rank 1 failed: ValueError: a bug" in err, err[-3000:]


def _worker_pid(parent: int, local_rank: int) -> int:
    """The pid of torchrun's worker with ``LOCAL_RANK=local_rank`` (read from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"LOCAL_RANK={local_rank}".encode() in environ:
            return int(entry.name)
    raise AssertionError(f"no worker with LOCAL_RANK={local_rank} under pid {parent}")


@pytest.mark.slow
def test_two_nodes_on_loopback_make_one_run(tmp_path):
    endpoint = f"127.0.0.1:{_free_port()}"
    node = [*TORCHRUN, "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d"]
    node += ["--rdzv-endpoint", endpoint, "--rdzv-id", "sandbox-test", "-m", "sandbox", "run"]
    args = ["sandbox/LinReg-v0", "gradient", "--steps", "2000", "--logdir", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [
        subprocess.Popen(
            [*node, *args, "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in nodes]
    for p, (_, err) in zip(nodes, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    assert sum("eval      score" in out for out, _ in outs) == 1  # rank 0 reports
    [run_dir] = run_dirs(tmp_path)
    assert read_scalars(run_dir)["eval/r2"][-1][1] > 0.99
