"""k-means on handwritten digits as an agent in an environment, next to scikit-learn's KMeans.

The env ``sandbox/DigitsClusters-v0`` shows 8x8 digits as 64-D points; the agent gives each
point a cluster index; the reward is minus the point's squared distance to the mean of the
points it shares a cluster with in the batch. The digit labels stay hidden: they only score
the result (adjusted Rand index, NMI, on held-out digits). Two agents cluster it, both from
the same k-means++ centres as scikit-learn:
- ``kmeans``: mini-batch k-means (Sculley 2010), batches of 256, each centre a running mean;
- ``lloyd``: Lloyd's k-means, one step = one iteration over the whole train split.
TensorBoard shows the cluster centres as images at each evaluation (``media/cluster_centers``
under IMAGES): they look like digits.

    .venv/bin/python scripts/kmeans_clustering.py
    tensorboard --logdir runs/kmeans_digits
"""

from __future__ import annotations

import argparse
import time

import torch
from sklearn.cluster import KMeans

import sandbox
from agents.kmeans import KMeansAgent, LloydAgent, kmeans_plusplus

ENV_ID = "sandbox/DigitsClusters-v0"


def figures(env, policy) -> tuple[float, float, float]:
    """Inertia on the train split; ARI and NMI on the held-out digits (the env's own scoring)."""
    train = env.with_split("train").score(policy)
    held_out = env.eval_env().score(policy)
    return float(train["inertia"]), float(held_out["ari"]), float(held_out["nmi"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20, help="passes of mini-batch k-means")
    parser.add_argument("--iterations", type=int, default=50, help="Lloyd iterations (steps)")
    parser.add_argument("--batch", type=int, default=256, help="mini-batch size (num_envs)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--logdir", default="runs")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (small data)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    # 1. one set of initial centres for everyone: k-means++ on the train split
    sandbox.seed_everything(args.seed)
    probe = sandbox.make(ENV_ID, device=args.device)
    num_train = len(probe.X)
    init = kmeans_plusplus(probe.X, probe.num_clusters)  # (10, 64)

    # 2. the two agents, each through the sandbox loop (TensorBoard: scalars and centres)
    rows = []
    plans = [
        ("sandbox kmeans (mini-batch)", KMeansAgent, args.batch, args.epochs * num_train),
        ("sandbox lloyd (full batch)", LloydAgent, num_train, args.iterations * num_train),
    ]
    for name, agent_cls, num_envs, steps in plans:
        env = sandbox.make(ENV_ID, num_envs=num_envs, device=args.device)
        agent = agent_cls(env, centers=init)
        start = time.perf_counter()
        result = sandbox.train(
            env, agent, steps, seed=args.seed, logdir=args.logdir, experiment="kmeans_digits"
        )
        seconds = time.perf_counter() - start
        policy = lambda X, agent=agent: agent.act(X, deterministic=True)  # noqa: E731
        rows.append((name, *figures(env, policy), seconds, result.samples))
        print(f"{name}: {result.run_dir}")

    # 3. scikit-learn's Lloyd from the same centres, scored by the same env
    X = probe.X.cpu().numpy()
    start = time.perf_counter()
    km = KMeans(probe.num_clusters, init=init.cpu().numpy(), n_init=1).fit(X)
    seconds = time.perf_counter() - start
    sk_policy = lambda X: torch.as_tensor(km.predict(X.cpu().numpy()), device=X.device)  # noqa: E731
    rows.append(
        ("sklearn KMeans (n_init=1)", *figures(probe, sk_policy), seconds, km.n_iter_ * num_train)
    )

    print(f"\ndigits: {num_train} train points, {len(probe.eval_env().X)} held out, k = 10")
    print(f"{'method':<30} {'inertia':>9} {'ARI':>6} {'NMI':>6} {'samples':>9} {'seconds':>8}")
    for name, inertia, ari, nmi, seconds, samples in rows:
        print(f"{name:<30} {inertia:>9.1f} {ari:>6.3f} {nmi:>6.3f} {samples:>9,} {seconds:>8.2f}")
    print("(inertia: train split; ARI, NMI: held-out digits; sandbox seconds include logging)")
    print(f"\ncentres as images: tensorboard --logdir {args.logdir}/kmeans_digits  (IMAGES tab)")


if __name__ == "__main__":
    main()
