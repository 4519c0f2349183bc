"""Users' clusters and each user's k nearest neighbours inside their cluster (N_k(u)).

A user is never their own neighbour. With ``candidates`` only those users may be chosen as
neighbours (the training users, in the assignment's protocol), so that no held-out user's
ratings ever become another user's input.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from clusterrec.data.ratings import Ratings
from clusterrec.distances.neighbors import nearest_neighbors
from clusterrec.errors import ConfigError

__all__ = [
    "labels_for_users",
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


def labels_for_users(ratings: Ratings, labels: object, n_clusters: int) -> np.ndarray | None:
    """Clusters given from outside, checked and kept for the users with ratings.

    ``labels`` holds one whole number 0..L-1 per user of ``ratings``, in the order of
    ``ratings.user_labels`` (a clustering made elsewhere, e.g. the one a report shows); the
    result is in the order ``ratings.compact()`` keeps the users. None stays None.
    """
    if labels is None:
        return None
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != ratings.n_users:
        raise ConfigError(
            f"labels must give one cluster per user of the ratings ({ratings.n_users:,} "
            f"users, in the order of ratings.user_labels), not shape {array.shape}"
        )
    whole = np.issubdtype(array.dtype, np.integer) or (
        np.issubdtype(array.dtype, np.floating) and np.all(np.mod(array, 1) == 0)
    )
    if not whole or (len(array) and (array.min() < 0 or array.max() >= n_clusters)):
        raise ConfigError(
            f"labels must be whole numbers 0..{n_clusters - 1} (n_clusters = "
            f"{n_clusters}); cluster with the same L as the model"
        )
    return array.astype(np.int64)[ratings.counts_per_user() > 0]
