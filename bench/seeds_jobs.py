"""A group of seeds one after another against ``--jobs N`` child processes: wall-clock time.

The same command both ways, as a user types it, timed from launch to exit (interpreter
start-up, every run, the group's table and aggregate run included):

    sandbox run sandbox/CartPole-v1 ppo --steps S --seeds 0-1            # in turn, one process
    sandbox run sandbox/CartPole-v1 ppo --steps S --seeds 0-1 --jobs 2   # two child processes

Each run uses one torch thread (``--threads``' default), so on 2 cores two runs can go at
once. The pairs are interleaved, their order alternating (the machine drifts); the figure is
the median of the per-pair ratios ``jobs / sequential``.

    .venv/bin/python bench/seeds_jobs.py                 # 5 pairs, 2 seeds, 2 jobs
    .venv/bin/python bench/seeds_jobs.py --pairs 7 --steps 60000

What to expect: the sequential group pays one start-up (~5-9 s here: ``import torch``) and
the runs in turn; the parallel one pays the parent's start-up, then its children's, side by
side, and the runs side by side. So the ratio nears 1/jobs only when a run is long next to a
start-up, and a second core only helps if nothing else is using it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def group_seconds(config: list[str], seeds: str, jobs: int) -> float:
    """Wall-clock seconds of one ``sandbox run ... --seeds`` command, into a fresh logdir."""
    with tempfile.TemporaryDirectory() as logdir:
        command = [sys.executable, "-m", "sandbox", "run", *config, "--seeds", seeds]
        command += ["--jobs", str(jobs), "--logdir", logdir, "--no-progress"]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="sandbox/CartPole-v1")
    parser.add_argument("--agent", default="ppo")
    parser.add_argument("--steps", type=int, default=300_000, help="samples per run")
    parser.add_argument("--seeds", default="0-1")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args(argv)
    config = [args.env, args.agent, "--steps", str(args.steps)]
    print(f"sandbox run {' '.join(config)} --seeds {args.seeds}: 1 vs {args.jobs} jobs")
    ratios = []
    for pair in range(args.pairs):
        order = [1, args.jobs] if pair % 2 == 0 else [args.jobs, 1]
        load = os.getloadavg()[0]  # other work on the machine takes cores from --jobs
        seconds = {jobs: group_seconds(config, args.seeds, jobs) for jobs in order}
        ratios.append(seconds[args.jobs] / seconds[1])
        print(
            f"pair {pair + 1}: in turn {seconds[1]:6.1f} s, --jobs {args.jobs} "
            f"{seconds[args.jobs]:6.1f} s, ratio {ratios[-1]:.2f} (load before: {load:.1f})",
            flush=True,
        )
    median = statistics.median(ratios)
    print(f"median ratio --jobs {args.jobs} / in turn: {median:.2f} ({args.pairs} pairs)")
    return median


if __name__ == "__main__":
    main()
