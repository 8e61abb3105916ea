"""Per-cluster statistics of points under an assignment: sums, sizes, means, distances².

The clustering env's reward is built from them (``envs/clustering.py``), which reveals the
batch's cluster means, sizes and inertia in ``info`` once computed; the k-means agents
(``agents/kmeans.py``) take their update step from those, or compute the same figures with
these functions from the points and their assignment when an env reveals none.
"""

from __future__ import annotations

import torch
from torch import Tensor

CHUNK = 65536
"""Rows per slice when a batch is large (full-batch Lloyd on 500k points): the (CHUNK, k)
temporaries stay in cache, and a long index_add_ runs slower than the same in slices."""


def cluster_sums(X: Tensor, assignment: Tensor, num_clusters: int) -> tuple[Tensor, Tensor]:
    """Per-cluster sums of the points and counts: ``(k, d)`` and ``(k,)``, float.

    Example:
        >>> sums, counts = cluster_sums(torch.tensor([[0.0], [2.0], [10.0]]),
        ...                             torch.tensor([0, 0, 1]), 3)
        >>> sums.flatten().tolist(), counts.tolist()
        ([2.0, 10.0, 0.0], [2.0, 1.0, 0.0])
    """
    sums = X.new_zeros(num_clusters, X.shape[1])  # (k, d)
    # In slices: each sum still adds its points in index order, as one index_add_ does.
    for X_c, a_c in zip(X.split(CHUNK), assignment.split(CHUNK), strict=True):
        sums.index_add_(0, a_c, X_c)
    return sums, cluster_sizes(X, assignment, num_clusters)


def cluster_sizes(X: Tensor, assignment: Tensor, num_clusters: int) -> Tensor:
    """The number of points in each cluster, ``(k,)`` in ``X``'s float dtype.

    Example:
        >>> cluster_sizes(torch.zeros(3, 2), torch.tensor([2, 0, 2]), 3).tolist()
        [1.0, 0.0, 2.0]
    """
    if len(X) < 2**24:
        # Ones added up, the same kernel as the sums: exact in float32 below 2^24 points,
        # and unlike bincount it does not first read the assignment's min and max.
        return X.new_zeros(num_clusters).index_add_(0, assignment, X.new_ones(len(X)))
    return assignment.bincount(minlength=num_clusters).to(X.dtype)


def cluster_means(X: Tensor, assignment: Tensor, num_clusters: int) -> tuple[Tensor, Tensor]:
    """Each cluster's mean ``(k, d)`` and its number of points ``(k,)`` (empty: mean 0).

    Example:
        >>> means, counts = cluster_means(torch.tensor([[0.0], [2.0], [7.0]]),
        ...                               torch.tensor([1, 1, 0]), 3)
        >>> means.flatten().tolist(), counts.tolist()
        ([7.0, 1.0, 0.0], [1.0, 2.0, 0.0])
    """
    sums, counts = cluster_sums(X, assignment, num_clusters)
    return sums / counts.clamp(min=1).unsqueeze(1), counts


def sq_dist_to_means(X: Tensor, assignment: Tensor, means: Tensor) -> Tensor:
    """Each point's squared distance to ``means[assignment]`` (its cluster's mean or centre).

    Example:
        >>> sq_dist_to_means(torch.tensor([[0.0], [3.0]]), torch.tensor([1, 0]),
        ...                  torch.tensor([[1.0], [2.0]])).tolist()
        [4.0, 4.0]
    """
    # index_select gathers whole rows (no advanced indexing); the points are subtracted from
    # that copy in place: one (N, d) temporary, not two.
    if len(X) <= CHUNK:
        return means.index_select(0, assignment).sub_(X).square_().sum(dim=1)  # (N,)
    # A large batch in slices, so that the (CHUNK, d) temporaries stay in cache.
    out = X.new_empty(len(X))  # (N,)
    slices = zip(X.split(CHUNK), assignment.split(CHUNK), out.split(CHUNK), strict=True)
    for X_c, a_c, out_c in slices:
        torch.sum(means.index_select(0, a_c).sub_(X_c).square_(), dim=1, out=out_c)
    return out


def within_cluster_sq_dist(X: Tensor, assignment: Tensor, num_clusters: int) -> Tensor:
    """Each point's squared distance to the mean of its cluster's points in ``X``: ``(N,)``.

    Minus this is the clustering env's reward; its sum is the batch's k-means inertia.

    Example:
        >>> within_cluster_sq_dist(torch.tensor([[0.0], [2.0], [10.0]]),
        ...                        torch.tensor([0, 0, 1]), 2).tolist()
        [1.0, 1.0, 0.0]
    """
    return sq_dist_to_means(X, assignment, cluster_means(X, assignment, num_clusters)[0])
