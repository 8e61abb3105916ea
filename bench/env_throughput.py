"""CartPole steps per second: Gymnasium SyncVectorEnv, Gymnasium's CartPoleVectorEnv, sandbox torch.

Each cell steps the vector env with a fixed batch of random actions for at least
``--seconds`` (after a warm-up) and reports sub-env steps per second. The sandbox's
``sandbox/CartPole-v1`` includes what it always does per step: its action check, SAME_STEP
autoreset and episode statistics. ``--device cuda`` runs the sandbox env on the GPU as well
(synchronised before the clock stops). One torch thread by default, as for small-MLP RL.

    .venv/bin/python bench/env_throughput.py
    .venv/bin/python bench/env_throughput.py --device cuda --sizes 8 1024 65536 1048576
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np
import torch

import sandbox


def rate(step, sync=lambda: None, seconds: float = 1.0) -> float:
    """Calls of ``step`` per second over at least ``seconds`` (after 3 warm-up calls)."""
    for _ in range(3):
        step()
    sync()
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            step()
        calls += 10
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed


def gym_rate(num_envs: int, mode: str, seconds: float) -> float:
    env = gymnasium.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode=mode)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, num_envs)
    steps_per_s = rate(lambda: env.step(actions), seconds=seconds) * num_envs
    env.close()
    return steps_per_s


def sandbox_rate(num_envs: int, device: str, seconds: float) -> float:
    env = sandbox.make("sandbox/CartPole-v1", num_envs=num_envs, device=device)
    env.reset(seed=0)
    actions = torch.randint(0, 2, (num_envs,), device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    return rate(lambda: env.step(actions), sync, seconds) * num_envs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 1024, 65536])
    parser.add_argument("--device", default="cpu", help="also run the sandbox env on this device")
    parser.add_argument("--seconds", type=float, default=1.0, help="per cell")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-sync", type=int, default=65536, help="largest SyncVectorEnv")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    columns = ["gym SyncVectorEnv", "gym CartPoleVectorEnv", "sandbox torch cpu"]
    if args.device != "cpu":
        columns.append(f"sandbox torch {args.device}")
    print(f"CartPole steps/s, torch threads {args.threads}")
    print(f"{'num_envs':>9} | " + " | ".join(f"{c:>22}" for c in columns))
    for n in args.sizes:
        row = [
            gym_rate(n, "sync", args.seconds) if n <= args.max_sync else float("nan"),
            gym_rate(n, "vector_entry_point", args.seconds),
            sandbox_rate(n, "cpu", args.seconds),
        ]
        if args.device != "cpu":
            row.append(sandbox_rate(n, args.device, args.seconds))
        print(f"{n:>9} | " + " | ".join(f"{v / 1e6:>20.3f}M" for v in row), flush=True)


if __name__ == "__main__":
    main()
