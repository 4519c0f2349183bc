"""Folding a new user into a fitted cluster model, without retraining.

A new user's rated set is compared with every training user's by the Jaccard distance (the
distances engine, :func:`clusterrec.clustering.centroids.distances_to_centers` with the
training users' rows as the centres). The user joins the cluster whose training members are
nearest on average (smallest *mean* Jaccard distance: the model keeps no medoids, since its
clusters may come from outside, and the mean over all members is a one-product stand-in for
the nearest medoid); the user's k nearest neighbours are that cluster's k nearest training
users (ties to the smaller index, as :func:`clusterrec.distances.nearest_neighbors`); the
user's bias is the baseline's last ALS step with the item biases fixed,
``b_u = sum_i (r_ui - mu - b_i) / (reg_user + n_u)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from clusterrec.errors import DataError

__all__ = [
    "FOLD_IN_MIN_RATINGS",
    "FoldIn",
    "nearest_cluster_and_neighbors",
    "one_user_ratings",
]

#: A new user with fewer ratings (of items the model knows) gets the bias fallback
#: ``mu + b_i`` for every item, flagged.
FOLD_IN_MIN_RATINGS = 3


@dataclass(frozen=True)
class FoldIn:
    """A new user as the model sees them.

    ``items``/``ratings``: the user's ratings of items the model knows (training codes);
    ``unknown_items``: how many of the given items the model never saw (ignored);
    ``cluster``: the cluster joined (-1: too few ratings, bias fallback only);
    ``neighbors``/``distances``: k training-user codes and Jaccard distances, nearest first
    (-1 and +inf pad); ``user_bias``: b_u (0 in the fallback).
    """

    items: np.ndarray
    ratings: np.ndarray
    unknown_items: int
    cluster: int
    neighbors: np.ndarray
    distances: np.ndarray
    user_bias: float

    @property
    def fallback_only(self) -> bool:
        """True when the user had too few ratings to join a cluster."""
        return self.cluster < 0


def one_user_ratings(ratings: object) -> tuple[np.ndarray, np.ndarray]:
    """(item ids as str, ratings as float64) of one user's ratings given as a mapping
    item -> rating, a pandas Series indexed by item, or a DataFrame with columns item and
    rating. A repeated item keeps its last rating; a rating that is not a finite number is a
    `DataError`."""
    if isinstance(ratings, pd.DataFrame):
        missing = [c for c in ("item", "rating") if c not in ratings.columns]
        if missing:
            raise DataError(
                f"a new user's ratings need columns item and rating; missing {missing} "
                f"(columns: {list(map(str, ratings.columns))})"
            )
        items, values = ratings["item"].to_numpy(), ratings["rating"].to_numpy()
    elif isinstance(ratings, pd.Series):
        items, values = ratings.index.to_numpy(), ratings.to_numpy()
    elif isinstance(ratings, Mapping):
        items, values = np.asarray(list(ratings.keys()), dtype=object), list(ratings.values())
    else:
        raise DataError(
            "a new user's ratings are a mapping item -> rating, a pandas Series indexed by "
            f"item or a DataFrame with columns item and rating, not {type(ratings).__name__}"
        )
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        raise DataError(
            f"rating of item {items[bad[0]]!s} is not a number: {values[bad[0]]!r} "
            f"({len(bad)} such ratings)"
        )
    labels = np.asarray([str(x) for x in items], dtype=object)
    last = ~pd.Index(labels).duplicated(keep="last")
    return labels[last], numbers[last]


def nearest_cluster_and_neighbors(
    R: sp.csr_matrix,
    labels: np.ndarray,
    candidates: np.ndarray,
    rated_items: np.ndarray,
    k: int,
) -> tuple[int, np.ndarray, np.ndarray]:
    """(cluster, neighbours, distances) of a new user who rated ``rated_items`` (codes of
    R's columns): the cluster whose ``candidates`` (boolean mask of training users) have the
    smallest mean Jaccard distance to the user (ties: the smaller cluster), and its k nearest
    candidates, nearest first, ties to the smaller index (padded with -1 and +inf)."""
    from clusterrec.clustering.centroids import distances_to_centers

    items = np.unique(np.asarray(rated_items, dtype=np.int64))
    row = sp.csr_matrix(
        (np.ones(len(items)), (np.zeros(len(items), dtype=np.int64), items)),
        shape=(1, R.shape[1]),
    )
    pool = np.flatnonzero(candidates)
    if len(pool) == 0:
        raise DataError("the model has no training users to fold a new user in with")
    distances = distances_to_centers(row, R[pool], "jaccard")[0].astype(np.float32)
    pool_labels = np.asarray(labels)[pool]
    clusters = np.unique(pool_labels)
    means = np.array([distances[pool_labels == c].mean(dtype=np.float64) for c in clusters])
    cluster = int(clusters[np.argmin(means)])
    inside = np.flatnonzero(pool_labels == cluster)
    order = inside[np.lexsort((pool[inside], distances[inside]))][:k]
    neighbors = np.full(k, -1, dtype=np.int64)
    found = np.full(k, np.inf, dtype=np.float32)
    neighbors[: len(order)] = pool[order]
    found[: len(order)] = distances[order]
    return cluster, neighbors, found
