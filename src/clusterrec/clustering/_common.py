"""Names, defaults and input checks shared by the clusterers; users and centres as operands of
the distances engine."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from clusterrec.distances.engine import (
    CO_RATED_METRICS,
    _check_metrics,
    _Columns,
    _Operands,
    _Policy,
    as_rating_matrix,
)
from clusterrec.errors import ConfigError, DataError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike


KMEANS_METRICS = CO_RATED_METRICS
#: Clustering algorithms by name.
ALGORITHMS = ("kmeans", "kmedoids", "agglomerative")
#: Linkages average-linkage clustering accepts on a precomputed matrix.
LINKAGES = ("average", "complete", "single")
#: How the suggested L is chosen from a sweep.
SUGGESTION_RULE = "largest silhouette (ties: the smaller L)"

DEFAULT_N_INIT = 4
DEFAULT_MAX_ITER = 100
DEFAULT_TOL = 1e-3
#: Users above which masked k-means runs its restarts on a seeded sample of this many users and
#: refines only the best on all users (see :mod:`clusterrec.clustering.kmeans`).
DEFAULT_KMEANS_SAMPLE_SIZE = 3_000
#: k-means stops when the number of users moving has not reached a new low in this many steps.
_PATIENCE = 5
#: Users k-medoids is run on (and silhouettes computed on) when n x n exceeds the budget.
DEFAULT_SAMPLE_SIZE = 5_000
#: Most users classical MDS embeds (eigh costs O(n³)); more are sampled down.
DEFAULT_EMBEDDING_USERS = 2_000
#: Most user pairs the evidence table looks at; more are sampled.
DEFAULT_EVIDENCE_PAIRS = 2_000_000


def default_algorithm(metric: str) -> str:
    """k-means for the co-rated metrics, k-medoids for Jaccard (and any precomputed matrix)."""
    return "kmeans" if metric in KMEANS_METRICS else "kmedoids"


# -- input ----------------------------------------------------------------------------------------


def _build_policy(
    R: RatingsLike,
    metric: str,
    min_overlap: int,
    undefined: str | float,
    shrinkage: float = 0.0,
) -> tuple[sp.csr_matrix, _Policy]:
    """R as float64 CSR and the distances engine's policy for one metric on it."""
    (metric,) = _check_metrics(metric)
    matrix, spread = as_rating_matrix(R)
    return matrix, _Policy.build(matrix, spread, (metric,), min_overlap, shrinkage, undefined)


@dataclass(frozen=True)
class _UserRows:
    """R (float64 CSR), the user of each stored rating, and R as the left operand of the
    engine's products (every item, sparse): shared by every step."""

    values: sp.csr_matrix
    operands: _Operands
    entry_user: np.ndarray

    @classmethod
    def build(cls, matrix: sp.csr_matrix) -> _UserRows:
        operands = _Operands.build(matrix, with_values=True, split_items=False)
        entry_user = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        return cls(matrix, operands, entry_user)

    @property
    def n_users(self) -> int:
        return self.values.shape[0]

    @functools.cached_property
    def by_user(self) -> sp.csr_matrix:
        """n x nnz 0/1: ``by_user @ x`` sums a per-rating ``x`` over each user's ratings, in
        order (as ``bincount(entry_user, x)``)."""
        nnz = self.values.nnz
        return sp.csr_matrix(
            (np.ones(nnz), np.arange(nnz), self.values.indptr),
            shape=(self.n_users, nnz),
        )


@dataclass(frozen=True)
class _Members:
    """How centroids were built: the labels, and for each stored rating of user u on movie k
    the sum and count of the ratings of k in u's cluster (for leave-one-out distances)."""

    labels: np.ndarray
    entry_sum: np.ndarray
    entry_count: np.ndarray


@dataclass(frozen=True)
class _Centers:
    """Centroid values C (the stored entries are the mask) and C as the right operand of the
    engine's products. ``members`` is set when the centroids are cluster means (None for
    users as centers)."""

    values: sp.csr_matrix
    columns: _Columns
    members: _Members | None = None

    @classmethod
    def from_values(cls, values: sp.csr_matrix, members: _Members | None = None) -> _Centers:
        operands = _Operands.build(values, with_values=True, split_items=False)
        return cls(values, operands.as_columns(), members)

    @classmethod
    def of_users(cls, rows: _UserRows, users: Sequence[int] | np.ndarray) -> _Centers:
        return cls.from_values(rows.values[np.asarray(users, dtype=np.int64)])

    @property
    def coverage(self) -> np.ndarray:
        """Number of movies each centroid covers."""
        return np.diff(self.values.indptr)


def _as_csr(R: RatingsLike) -> sp.csr_matrix:
    """R as float64 CSR with sorted indices and no stored zeros (0 means "not rated")."""
    return as_rating_matrix(R)[0]


def _check_count(value: object, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}")
    return int(value)


def _check_n_clusters(n_clusters: object, n_users: int) -> int:
    n_clusters = _check_count(n_clusters, "n_clusters")
    if n_clusters > n_users:
        raise ConfigError(
            f"n_clusters={n_clusters} is more than the {n_users:,} users; ask for at most "
            f"{n_users} clusters or keep more users (--min-ratings/--max-ratings)"
        )
    return n_clusters


def _check_kmeans_metric(metric: str) -> None:
    if metric not in KMEANS_METRICS:
        raise ConfigError(
            f"k-means needs a metric over co-rated ratings ({', '.join(KMEANS_METRICS)}), not "
            f"{metric!r}: a centroid has no meaningful {metric} distance; use "
            "algorithm='kmedoids' or 'agglomerative' on the distance matrix instead"
        )


def _check_square(D: np.ndarray) -> np.ndarray:
    D = np.asarray(D)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] == 0:
        raise ConfigError(f"a distance matrix must be square n x n with n >= 1; got {D.shape}")
    low, high = (D.min(), D.max()) if D.size else (0.0, 0.0)  # NaN propagates, no n² temporaries
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0:
        raise DataError("the distance matrix holds NaN, infinite or negative values")
    if D.dtype not in (np.float32, np.float64):
        D = D.astype(np.float64)
    return np.ascontiguousarray(D)
