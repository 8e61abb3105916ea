"""k-means: the sandbox's agents next to scikit-learn, fit time and inertia, in one run.

Data: digits (all 1,797 points, 64-D, pixels in [0, 1]) and ``make_blobs(200_000, 16,
centers=10)``, float32, k = 10. In each repetition every method starts from the same
k-means++ centres (``sklearn.cluster.kmeans_plusplus``) and fits the same points:

- scikit-learn ``KMeans(init=C, n_init=1)`` (Lloyd, tol 1e-4) against the ``lloyd`` agent in
  its env (``num_envs`` = all points), stepped act -> step -> learn until ``agent.converged``,
  then one assignment step (scikit-learn's fit also ends with the labels);
- scikit-learn ``MiniBatchKMeans(init=C, n_init=1, batch_size=1024)`` with its own stopping
  rule, against the ``kmeans`` agent for the same number of batches (its ``n_steps_``), then
  one assignment of every point (scikit-learn computes ``labels_`` too).

Fits are interleaved (A B C D, A B C D, ...); the table gives median times, the median of the
per-repetition ratios to scikit-learn's counterpart, and each result's inertia (the
within-cluster sum of squares of its labels, computed the same way for all, in float64).
Issue 5's targets: Lloyd's inertia within 0.1% of scikit-learn's, time within 1.5x.
Env construction (moving the data to the device) is not timed; neither is scikit-learn's
data generation.

    .venv/bin/python bench/kmeans.py                     # 7 repetitions, all threads
    .venv/bin/python bench/kmeans.py --reps 3 --threads 1
    .venv/bin/python bench/kmeans.py --device cuda       # the sandbox's agents on the GPU
"""

from __future__ import annotations

import argparse
import statistics
import time
from itertools import combinations

import numpy as np
import torch
from sklearn.cluster import KMeans, MiniBatchKMeans, kmeans_plusplus
from sklearn.datasets import load_digits, make_blobs
from threadpoolctl import threadpool_limits

from agents.kmeans import KMeansAgent, LloydAgent
from envs.clustering import ClusteringEnv, within_cluster_sq_dist
from sandbox.core import Transition

K, MINIBATCH = 10, 1024


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sandbox_lloyd(
    env: ClusteringEnv, X: torch.Tensor, init: np.ndarray
) -> tuple[float, np.ndarray, int]:
    """The lloyd agent until converged: seconds, labels of ``X`` (in its order), iterations."""
    agent = LloydAgent(env, centers=torch.as_tensor(init))
    sync(env.device)
    start = time.perf_counter()
    obs, _ = env.reset(seed=0)
    num_iterations = 0
    while num_iterations < 300 and not bool(agent.converged):  # one host read per pass
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.learn(Transition(obs, action, reward, next_obs, terminated, truncated, info))
        obs = next_obs
        num_iterations += 1
    labels = agent.act(X)  # the final assignment step (the env's split is X shuffled)
    sync(env.device)
    return time.perf_counter() - start, labels.cpu().numpy(), num_iterations


def sandbox_minibatch(
    env: ClusteringEnv, X: torch.Tensor, init: np.ndarray, num_steps: int
) -> tuple[float, np.ndarray, int]:
    """The kmeans agent for ``num_steps`` batches, then the label of every point of ``X``."""
    agent = KMeansAgent(env, centers=torch.as_tensor(init))
    sync(env.device)
    start = time.perf_counter()
    obs, _ = env.reset(seed=0)
    for _ in range(num_steps):
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.learn(Transition(obs, action, reward, next_obs, terminated, truncated, info))
        obs = next_obs
    labels = agent.act(X)
    sync(env.device)
    return time.perf_counter() - start, labels.cpu().numpy(), num_steps


def sklearn_lloyd(X: np.ndarray, init: np.ndarray) -> tuple[float, np.ndarray, int]:
    start = time.perf_counter()
    km = KMeans(K, init=init, n_init=1).fit(X)
    return time.perf_counter() - start, km.labels_, km.n_iter_


def sklearn_minibatch(X: np.ndarray, init: np.ndarray, seed: int) -> tuple[float, np.ndarray, int]:
    start = time.perf_counter()
    km = MiniBatchKMeans(K, init=init, n_init=1, batch_size=MINIBATCH, random_state=seed).fit(X)
    return time.perf_counter() - start, km.labels_, km.n_steps_


def inertia(X: torch.Tensor, labels: np.ndarray) -> float:
    return float(within_cluster_sq_dist(X.double(), torch.as_tensor(labels), K).sum())


def bench(name: str, X: np.ndarray, reps: int, device: torch.device) -> None:
    Xt = torch.as_tensor(X)
    X_device = Xt.to(device)
    full = ClusteringEnv(X, num_clusters=K, num_envs=len(X), device=device, test_fraction=0.0)
    mini = ClusteringEnv(X, num_clusters=K, num_envs=MINIBATCH, device=device, test_fraction=0.0)
    rows: dict[str, list[tuple[float, float, int]]] = {}
    for rep in range(reps + 1):  # repetition 0 warms up (allocator, lazy imports)
        init, _ = kmeans_plusplus(X, K, random_state=rep)
        t_sk, labels, n = sklearn_lloyd(X, init)
        results = {"sklearn KMeans": (t_sk, labels, n)}
        results["sandbox lloyd"] = sandbox_lloyd(full, X_device, init)
        results["sklearn MiniBatchKMeans"] = sklearn_minibatch(X, init, rep)
        results["sandbox kmeans"] = sandbox_minibatch(
            mini, X_device, init, results["sklearn MiniBatchKMeans"][2]
        )
        if rep == 0:
            continue
        for method, (seconds, labels, n) in results.items():
            rows.setdefault(method, []).append((seconds, inertia(Xt, labels), n))

    print(f"\n{name}: {len(X):,} x {X.shape[1]}, k = {K}, {reps} repetitions, sandbox on {device}")
    header = ("method", "median s", "x sklearn", "inertia", "vs sklearn", "iters")
    print("{:<24} {:>9} {:>9} {:>14} {:>10} {:>6}".format(*header))
    peer = {"sandbox lloyd": "sklearn KMeans", "sandbox kmeans": "sklearn MiniBatchKMeans"}
    for method, runs in rows.items():
        seconds, inertias, counts = zip(*runs, strict=True)
        ratio = gap = ""
        if method in peer:
            ref = rows[peer[method]]
            ratio = f"{statistics.median(s / r[0] for s, r in zip(seconds, ref, strict=True)):.2f}"
            gaps = [(i / r[1] - 1) * 100 for i, r in zip(inertias, ref, strict=True)]
            gap = f"{statistics.median(gaps):+.3f}%"
        print(
            f"{method:<24} {statistics.median(seconds):>9.4f} {ratio:>9} "
            f"{statistics.median(inertias):>14,.1f} {gap:>10} {statistics.median(counts):>6.0f}"
        )
    # Seconds = fixed + per-iteration x iterations over the repetitions (their k-means++
    # starts converge in different numbers of iterations), fitted robustly (Theil-Sen: the
    # median of the pairwise slopes; one slow repetition moves a least-squares fit a lot).
    for method in ("sklearn KMeans", "sandbox lloyd"):
        runs = [(n, s) for s, _, n in rows[method]]
        slopes = [(s2 - s1) / (n2 - n1) for (n1, s1), (n2, s2) in combinations(runs, 2) if n1 != n2]
        if slopes:
            per_iteration = statistics.median(slopes)
            fixed = statistics.median(s - per_iteration * n for n, s in runs)
            print(
                f"{method}: about {fixed * 1e3:.2f} ms + {per_iteration * 1e3:.3f} ms per "
                "iteration (Theil-Sen fit over the repetitions)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions (>= 5)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for both")
    parser.add_argument("--device", default="cpu", help="where the sandbox's agents run")
    args = parser.parse_args()
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    device = torch.device(args.device)
    digits = (load_digits().data / 16.0).astype(np.float32)
    blobs, _ = make_blobs(n_samples=200_000, n_features=16, centers=K, random_state=0)
    with threadpool_limits(threads):
        bench("digits", digits, args.reps, device)
        bench("blobs", blobs.astype(np.float32), args.reps, device)
    print(f"\n{threads} CPU thread(s) for torch and scikit-learn")


if __name__ == "__main__":
    main()
