"""Each user's k nearest neighbours inside their cluster (the method's N_k(u)).

A user is never their own neighbour. With ``candidates`` only those users may be chosen as
neighbours (the training users, in the assignment's protocol), so that no held-out user's
ratings ever become another user's input.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from clusterrec.distances.neighbors import nearest_neighbors

__all__ = [
    "neighbors_in_clusters",
]


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
    the smaller index. ``candidates``: boolean mask of users allowed as neighbours. The
    distances are those of :func:`clusterrec.distances.nearest_neighbors` with its defaults.
    """
    return nearest_neighbors(R, metric, k, groups=np.asarray(labels), candidates=candidates)
