"""Data-parallel scaling: samples/s of one run on 1 process and on N processes (torchrun).

The same command both ways, the same global batch: one process with ``--num-envs B`` against
``torchrun --nproc-per-node N`` with ``--num-envs B/N`` per rank (the equal-parameters
setting of tests/test_distributed.py). The figure is the run's own ``samples/s`` line
(loop time only: interpreter start-up and rendezvous are excluded), the median of
``--repeats`` runs, the 1-process and N-process runs interleaved (the machine drifts).

    .venv/bin/python bench/distributed.py                    # CPU, Gloo: 1 vs 2 processes
    .venv/bin/python bench/distributed.py --device cuda --nproc 1 2 4 8   # one GPU per rank

What to expect: each step, every rank computes its share of the batch (compute / N) and then
all-reduces the whole gradient (communication, independent of N's share: ~2x the model's
bytes through a ring). Scaling is near-linear while compute per step dominates that
all-reduce (big models and big batches, NVLink/InfiniBand), and flat or worse when it does
not (small MLPs, CPU cores that also run the other ranks, Gloo over TCP).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

WORKLOADS = {  # name: (env id, agent flags)
    "digits-mlp": ("sandbox/Digits-v0", ["--model", "mlp", "--num-hiddens", "256"]),
    "digits-cnn": ("sandbox/Digits-v0", ["--model", "cnn", "--num-hiddens", "128"]),
}


def samples_per_s(nproc: int, env_id: str, flags: list[str], args: argparse.Namespace) -> float:
    """One run's own samples/s figure, launched as a user would."""
    per_rank = args.batch // nproc
    run = [env_id, "gradient", *flags, "--num-envs", str(per_rank), "--steps", str(args.steps)]
    run += ["--device", args.device, "--no-progress", "--eval-every", str(args.steps)]
    with tempfile.TemporaryDirectory() as logdir:
        run += ["--logdir", logdir]
        if nproc == 1:
            cmd = [sys.executable, "-m", "sandbox", "run", *run]
        else:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
            cmd += ["--master-addr", "127.0.0.1", "--master-port", str(args.port)]
            cmd += ["-m", "sandbox", "run", *run]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return float(re.search(r"\(([\d,]+) samples/s\)", out.stdout).group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="cpu", help="cpu (Gloo) or cuda (NCCL)")
    parser.add_argument("--batch", type=int, default=256, help="global batch, split over ranks")
    parser.add_argument("--steps", type=int, default=400_000, help="samples per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS))
    parser.add_argument("--port", type=int, default=29531)
    args = parser.parse_args()
    print(f"global batch {args.batch}, {args.steps:,} samples per run, device {args.device}, ")
    print(f"median of {args.repeats} runs; {os.cpu_count()} CPU cores\n")
    print(f"| workload | {' | '.join(f'{n} proc samples/s' for n in args.nproc)} | speed-up |")
    print(f"| --- | {' | '.join('---:' for _ in args.nproc)} | ---: |")
    for name in args.workloads:
        env_id, flags = WORKLOADS[name]
        figures: dict[int, list[float]] = {n: [] for n in args.nproc}
        for _ in range(args.repeats):  # interleaved: 1, 2, 1, 2, ...
            for n in args.nproc:
                figures[n].append(samples_per_s(n, env_id, flags, args))
        medians = [statistics.median(figures[n]) for n in args.nproc]
        speedup = medians[-1] / medians[0]
        cells = " | ".join(f"{m:,.0f}" for m in medians)
        print(f"| {name} | {cells} | {speedup:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
