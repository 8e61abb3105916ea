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
Env construction (moving the data to the device) is not timed; neither is scikit-learn's
data generation.

At scale (issue 23's targets: Lloyd per iteration <= 1.0x scikit-learn, same inertia to
0.01%): 500,000 x 32, k = 32 and 1,000,000 x 64, k = 64, standard normal points (no
structure, so no method stops early), 20 Lloyd iterations from the same k random points.
scikit-learn's per-iteration time is the difference of a 21- and a 1-iteration fit over 20
(its fixed cost, validation and centring of X, taken out); the sandbox's is 20 iterations of
act -> step -> learn in its env over 20; faiss-cpu's (``pip install faiss-cpu``, optional)
its 20-iteration ``train`` over 20. Interleaved (A B C, A B C, ...), median of per-repetition
ratios; the inertia is of the final centres and their labels, in float64 for the sandbox.

    .venv/bin/python bench/kmeans.py                     # 7 repetitions, all threads
    .venv/bin/python bench/kmeans.py --reps 3 --threads 1
    .venv/bin/python bench/kmeans.py --device cuda       # the sandbox's agents on the GPU
    .venv/bin/python bench/kmeans.py --scale --reps 5 --threads 2   # the sizes of issue 23
"""

from __future__ import annotations

import argparse
import os

# Before torch, scikit-learn and faiss load OpenMP: threads that wait sleep instead of
# spinning. On a machine shared with other work, spinning waiters take the cores that the
# threads they wait for need (each of torch's parallel ops ends at such a wait). The same
# for all three methods; OMP_WAIT_POLICY=active in the environment restores the default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import statistics
import time
from itertools import combinations

import numpy as np
import torch
from sklearn.cluster import KMeans, MiniBatchKMeans, kmeans_plusplus
from sklearn.datasets import load_digits, make_blobs
from threadpoolctl import threadpool_limits

from agents.kmeans import KMeansAgent, LloydAgent, LloydConfig, assign
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


def sandbox_iterations(env: ClusteringEnv, init: np.ndarray, num_iterations: int) -> tuple:
    """``num_iterations`` Lloyd iterations in the env: seconds per iteration, final centres."""
    agent = LloydAgent(env, LloydConfig(tol=0.0), centers=torch.as_tensor(init))
    obs, _ = env.reset(seed=0)
    sync(env.device)
    start = time.perf_counter()
    for _ in range(num_iterations):
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.learn(Transition(obs, action, reward, next_obs, terminated, truncated, info))
        obs = next_obs
    sync(env.device)
    return (time.perf_counter() - start) / num_iterations, agent.centers


def sklearn_per_iteration(X: np.ndarray, init: np.ndarray, num_iterations: int) -> tuple:
    """scikit-learn's seconds per Lloyd iteration (fixed cost taken out), and its inertia."""
    fit = lambda n: KMeans(len(init), init=init, n_init=1, max_iter=n, tol=0.0).fit(X)  # noqa: E731
    start = time.perf_counter()
    fit(1)
    one = time.perf_counter() - start
    start = time.perf_counter()
    km = fit(num_iterations + 1)  # its first iteration is the 1-iteration fit's
    many = time.perf_counter() - start
    assert km.n_iter_ == num_iterations + 1, f"scikit-learn stopped at {km.n_iter_}"
    km20 = fit(num_iterations)  # the inertia after exactly num_iterations updates (untimed)
    return (many - one) / num_iterations, float(km20.inertia_)


def faiss_per_iteration(X: np.ndarray, init: np.ndarray, num_iterations: int) -> tuple | None:
    try:
        import faiss

        faiss.omp_set_num_threads(torch.get_num_threads())
    except ImportError:
        return None
    km = faiss.Kmeans(X.shape[1], len(init), niter=num_iterations, max_points_per_centroid=len(X))
    start = time.perf_counter()
    km.train(X, init_centroids=init)
    seconds = (time.perf_counter() - start) / num_iterations
    return seconds, inertia_of(torch.as_tensor(X), torch.as_tensor(km.centroids))


def inertia_of(X: torch.Tensor, centers: torch.Tensor) -> float:
    """The inertia of ``centers`` and their labels, in float64."""
    X, centers = X.double(), centers.double().to(X.device)
    labels = assign(X, centers)
    return float((X - centers[labels]).square().sum())


def bench_scale(num_points: int, num_features: int, k: int, reps: int, device: torch.device):
    X = np.random.default_rng(0).standard_normal((num_points, num_features), dtype=np.float32)
    env = ClusteringEnv(X, num_clusters=k, num_envs=len(X), device=device, test_fraction=0.0)
    rows: dict[str, list[tuple[float, float]]] = {}
    for rep in range(reps + 1):  # repetition 0 warms up
        init = X[np.random.default_rng(rep).choice(num_points, k, replace=False)]
        results = {"sklearn KMeans": sklearn_per_iteration(X, init, 20)}
        seconds, centers = sandbox_iterations(env, init, 20)
        results["sandbox lloyd"] = (seconds, inertia_of(env.X.cpu(), centers.cpu()))
        if (faiss := faiss_per_iteration(X, init, 20)) is not None:
            results["faiss Kmeans"] = faiss
        for method, result in results.items():
            if rep:
                rows.setdefault(method, []).append(result)
    print(f"\n{num_points:,} x {num_features}, k = {k}, 20 iterations, {reps} repetitions")
    print(
        "{:<16} {:>10} {:>10} {:>16} {:>10}".format(
            "method", "ms/iter", "x sklearn", "inertia", "vs sklearn"
        )
    )
    ref = rows["sklearn KMeans"]
    for method, runs in rows.items():
        ratio = statistics.median(s / r[0] for (s, _), r in zip(runs, ref, strict=True))
        gap = statistics.median((i / r[1] - 1) * 100 for (_, i), r in zip(runs, ref, strict=True))
        print(
            f"{method:<16} {statistics.median(s for s, _ in runs) * 1e3:>10.1f} {ratio:>10.2f} "
            f"{statistics.median(i for _, i in runs):>16,.1f} {gap:>+9.4f}%"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions (>= 5)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for both")
    parser.add_argument("--device", default="cpu", help="where the sandbox's agents run")
    parser.add_argument("--scale", action="store_true", help="500k x 32 and 1M x 64 only")
    args = parser.parse_args()
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    device = torch.device(args.device)
    digits = (load_digits().data / 16.0).astype(np.float32)
    blobs, _ = make_blobs(n_samples=200_000, n_features=16, centers=K, random_state=0)
    with threadpool_limits(threads):
        if args.scale:
            bench_scale(500_000, 32, 32, args.reps, device)
            bench_scale(1_000_000, 64, 64, args.reps, device)
            policy = os.environ["OMP_WAIT_POLICY"]
            print(f"\n{threads} CPU thread(s) for torch, scikit-learn and faiss; {policy=}")
            return
        bench("digits", digits, args.reps, device)
        bench("blobs", blobs.astype(np.float32), args.reps, device)
    print(f"\n{threads} CPU thread(s) for torch and scikit-learn")


if __name__ == "__main__":
    main()
