"""Distances from users to centres (centroids or medoid users) over the movies both cover.

The distances engine computes them (:mod:`clusterrec.distances.engine`): the same policy, sums
and formulas as user pairs, with the centres as the right-hand side of the products (users
``R``, mask ``M``, squares ``S``; centres ``C``, mask ``Mc``): overlap ``M·Mcᵀ``, ``R·Cᵀ``,
``S·Mcᵀ`` and ``M·(C∘C)ᵀ``.

**Undefined distances.** A user-centroid pair sharing fewer than ``min_overlap`` movies gets the
metric's largest value on the data (:func:`clusterrec.distances.largest_distance`), as in
:mod:`clusterrec.distances`; nothing is ever NaN. A user who shares no movie with *any*
centroid (an *uncovered* user; every distance equal) is assigned to the centroid that covers
the most movies (ties: the lower index): the centroid most likely to share movies with them
after the next update. Such users are counted in ``n_uncovered``. User-centroid distances are
not shrunk toward the undefined value (``shrinkage`` of :mod:`clusterrec.distances`): that
guards user pairs sharing one or two movies, while a centroid covers many; user-medoid
distances (the sampled k-medoids path) are user pairs and take the ``shrinkage`` given to
:func:`~clusterrec.clustering.kmedoids_sampled` (0 by default; the run passes the measured 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from clusterrec.clustering._common import _build_policy, _Centers, _Members, _UserRows
from clusterrec.distances.engine import (
    DEFAULT_MIN_OVERLAP,
    _block_sums,
    _BlockSums,
    _distances,
    _Policy,
)
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "distances_to_centers",
]


# -- user-centroid distances ----------------------------------------------------------------------


def _center_distances(
    rows: _UserRows, centers: _Centers, policy: _Policy
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, overlap): float64 n x L, undefined pairs at ``policy.fallback``."""
    sums = _block_sums(rows.operands, centers.columns, policy)
    return _distances(sums, policy)[policy.metric], sums.overlap


def _own_center_distances(
    rows: _UserRows, members: _Members, policy: _Policy
) -> tuple[np.ndarray, np.ndarray]:
    """(distance, overlap) of each user to the centroid of the *other* members of their
    cluster: the same formulas over the user's movies that another member rated, O(nnz)."""
    ratings = rows.values.data
    others = members.entry_count - 1.0
    shared = others >= 1.0
    center = np.divide(
        members.entry_sum - ratings, others, out=np.zeros_like(ratings), where=shared
    )
    weight = shared.astype(np.float64)
    n = rows.n_users

    def per_user(values: np.ndarray) -> np.ndarray:
        return np.bincount(rows.entry_user, weights=weight * values, minlength=n)

    overlap = per_user(np.ones_like(ratings))
    sums = _BlockSums(
        overlap[:, None],
        dot=per_user(ratings * center)[:, None],
        squares_left=per_user(ratings * ratings)[:, None],
        squares_right=per_user(center * center)[:, None],
    )
    return _distances(sums, policy)[policy.metric][:, 0], overlap


def distances_to_centers(
    R: RatingsLike,
    centers: sp.spmatrix | np.ndarray,
    metric: str,
    *,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    undefined: str | float = "max",
    shrinkage: float = 0.0,
) -> np.ndarray:
    """float64 n x L distances of each user to each center over the movies both cover.

    ``centers`` is an L x m matrix whose stored entries are the centers' masks (a centroid
    from :func:`masked_kmeans`, or users' rows; in a dense array 0 means "not covered").
    Undefined pairs (fewer than ``min_overlap`` shared movies) get ``undefined`` ("max": the
    metric's largest value on ``R``); ``shrinkage`` as in
    :func:`clusterrec.distances.pairwise_distances` (off by default: a centroid covers many
    movies).
    """
    matrix, policy = _build_policy(R, metric, min_overlap, undefined, shrinkage)
    center_values = sp.csr_matrix(centers, dtype=np.float64)
    if center_values.shape[1] != matrix.shape[1]:
        raise ConfigError(
            f"centers have {center_values.shape[1]} items but R has {matrix.shape[1]}"
        )
    center_values.sort_indices()
    distances, _ = _center_distances(
        _UserRows.build(matrix), _Centers.from_values(center_values), policy
    )
    return distances


def _costs(distances: np.ndarray, metric: str) -> np.ndarray:
    """Per-pair contribution to the k-means objective: squared for Euclidean, as is for cosine."""
    return distances**2 if metric in ("euclidean", "euclidean_rms") else distances


def _assign_nearest(
    distances: np.ndarray, overlap: np.ndarray, coverage: np.ndarray, min_overlap: int
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, uncovered): nearest center; uncovered users go to the most covering center."""
    labels = np.argmin(distances, axis=1)
    uncovered = (overlap < min_overlap).all(axis=1)
    if uncovered.any():
        labels[uncovered] = int(np.argmax(coverage))
    return labels, uncovered
