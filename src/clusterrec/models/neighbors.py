"""Each user's k nearest neighbours inside their cluster (the method's N_k(u)).

A user is never their own neighbour. With ``candidates`` only those users may be chosen as
neighbours (the training users, in the assignment's protocol), so that no held-out user's
ratings ever become another user's input.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from clusterrec.distances.neighbors import nearest_neighbors
from clusterrec.distances.pairwise import pairwise_distances


def neighbors_in_clusters(
    R: sp.csr_matrix,
    labels: np.ndarray,
    k: int,
    *,
    metric: str = "jaccard",
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) neighbour indices and distances inside each user's cluster, nearest first.

    Padding (fewer than k candidates in the cluster) is index -1, distance +inf. Ties go to
    the smaller index. ``candidates``: boolean mask of users allowed as neighbours.
    """
    labels = np.asarray(labels)
    if candidates is None or candidates.all():
        return nearest_neighbors(R, metric, k, groups=labels)
    n = R.shape[0]
    indices = np.full((n, k), -1, dtype=np.int64)
    distances = np.full((n, k), np.inf, dtype=np.float32)
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        allowed = members[candidates[members]]
        if len(allowed) == 0:
            continue
        block = _distances_between(R, members, allowed, metric)
        block[members[:, None] == allowed[None, :]] = np.inf
        idx, dist = _k_smallest(block, k)
        indices[members] = np.where(idx >= 0, allowed[np.maximum(idx, 0)], -1)
        distances[members] = dist
    return indices, distances


def _distances_between(
    R: sp.csr_matrix, queries: np.ndarray, allowed: np.ndarray, metric: str
) -> np.ndarray:
    """Distances from each query user to each allowed user (float64 copy, |queries| x |allowed|).

    Computed on the union of both sets with the same definitions as ``pairwise_distances``.
    """
    union, inverse = np.unique(np.concatenate([queries, allowed]), return_inverse=True)
    full = pairwise_distances(R[union], metric)
    rows = inverse[: len(queries)]
    cols = inverse[len(queries) :]
    return full[np.ix_(rows, cols)].astype(np.float64)


def _k_smallest(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k smallest finite entries (ties: smaller column first); -1/inf padding."""
    n_rows, n_cols = block.shape
    columns = np.broadcast_to(np.arange(n_cols), block.shape)
    order = np.lexsort((columns, block), axis=1)[:, :k]
    values = np.take_along_axis(block, order, axis=1)
    found = np.isfinite(values)
    idx = np.full((n_rows, k), -1, dtype=np.int64)
    dist = np.full((n_rows, k), np.inf, dtype=np.float32)
    width = order.shape[1]
    idx[:, :width] = np.where(found, order, -1)
    dist[:, :width] = np.where(found, values, np.inf)
    return idx, dist
