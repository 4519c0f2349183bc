"""Distances from users to centres (centroids or medoid users) over the movies both cover.

**Undefined distances.** A user-centroid pair sharing fewer than ``min_overlap`` movies gets the
metric's largest value on the data (:func:`clusterrec.distances.largest_distance`), as in
:mod:`clusterrec.distances`; nothing is ever NaN. A user who shares no movie with *any*
centroid (an *uncovered* user; every distance equal) is assigned to the centroid that covers
the most movies (ties: the lower index): the centroid most likely to share movies with them
after the next update. Such users are counted in ``n_uncovered``. User-centroid distances are
not shrunk toward the undefined value (``shrinkage`` of :mod:`clusterrec.distances`): that
guards user pairs sharing one or two movies, while a centroid covers many; user-medoid
distances (the sampled k-medoids path) are user pairs and use the distances' default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from clusterrec.clustering._common import _as_csr, _Centers, _Members, _Policy, _UserRows
from clusterrec.distances.engine import DEFAULT_MIN_OVERLAP
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike


# -- user-centroid distances ----------------------------------------------------------------------


@dataclass(frozen=True)
class _CenterSums:
    """The sparse products between users and centroids, float64 n x L."""

    overlap: np.ndarray
    dot: np.ndarray
    user_squares: np.ndarray
    center_squares: np.ndarray


def _center_sums(rows: _UserRows, centers: _Centers) -> _CenterSums:
    """overlap = M·Mcᵀ, dot = R·Cᵀ, user squares = S·Mcᵀ, center squares = M·(C∘C)ᵀ."""
    n_centers = centers.values.shape[0]
    stacked = sp.vstack([centers.mask, centers.squares], format="csr")
    both = (rows.mask @ stacked.T).toarray()
    dot = (rows.values @ centers.values.T).toarray()
    user_squares = (rows.squares @ centers.mask.T).toarray()
    return _CenterSums(both[:, :n_centers], dot, user_squares, both[:, n_centers:])


def _center_distances(
    rows: _UserRows, centers: _Centers, policy: _Policy
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, overlap): float64 n x L, undefined pairs at ``policy.fallback``."""
    if policy.metric == "jaccard":
        overlap = (rows.mask @ centers.mask.T).toarray()
        union = rows.n_rated[:, None] + centers.coverage[None, :] - overlap
        share = np.divide(overlap, union, out=np.zeros_like(union), where=union > 0)
        return np.where(union > 0, 1.0 - share, policy.fallback), overlap
    sums = _center_sums(rows, centers)
    return _distances_from_sums(sums, policy), sums.overlap


def _distances_from_sums(sums: _CenterSums, policy: _Policy) -> np.ndarray:
    """A co-rated metric from the products; pairs with too little overlap at the fallback."""
    squared = sums.user_squares + sums.center_squares - 2.0 * sums.dot
    np.maximum(squared, 0.0, out=squared)
    if policy.metric == "euclidean":
        raw = np.sqrt(squared)
    elif policy.metric == "euclidean_rms":
        mean = np.divide(squared, sums.overlap, out=np.zeros_like(squared), where=sums.overlap > 0)
        raw = np.sqrt(mean)
    else:
        norms = np.sqrt(sums.user_squares * sums.center_squares)
        similarity = np.divide(sums.dot, norms, out=np.zeros_like(norms), where=norms > 0)
        raw = 1.0 - np.clip(similarity, -1.0, 1.0)
    if policy.shrinkage > 0:
        weight = sums.overlap / (sums.overlap + policy.shrinkage)
        raw = weight * raw + (1.0 - weight) * policy.fallback
    return np.where(sums.overlap >= policy.min_overlap, raw, policy.fallback)


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
    sums = _CenterSums(
        overlap[:, None],
        per_user(ratings * center)[:, None],
        per_user(ratings * ratings)[:, None],
        per_user(center * center)[:, None],
    )
    return _distances_from_sums(sums, policy)[:, 0], overlap


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
    policy = _Policy.build(R, metric, min_overlap, undefined, shrinkage)
    matrix = _as_csr(R)
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
