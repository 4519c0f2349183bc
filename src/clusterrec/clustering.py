"""Clustering users: k-means under the masked metrics, k-medoids and average linkage on a
distance matrix, choosing L, a 2-D picture of the clusters, and evidence for judging metrics.

**Masked k-means** (``euclidean``, ``euclidean_rms``, ``cosine``) works on the sparse ratings.
A centroid's rating of a movie is the mean over the cluster members who rated it; its mask is
the movies at least one member rated. A user's distance to a centroid is the metric over the
movies both cover. With ``S = R∘R``, ``M`` the users' 0/1 mask, ``C`` the centroid values and
``Mc`` their mask (both sparse, L x m), every quantity is a sparse product::

    co-rated squared distance = S·Mcᵀ + M·(C∘C)ᵀ − 2·R·Cᵀ
    cosine = 1 − R·Cᵀ / sqrt((S·Mcᵀ) ∘ (M·(C∘C)ᵀ))        overlap = M·Mcᵀ

**Leave-one-out assignment** (default). Most movies are rated by one or two members of a
cluster, so a user's own ratings make up much of their own centroid: measured against it, every
user looks closest to the cluster they are already in, and k-means stops at once wherever it
starts (from a random partition, at the first step). So a user's distance to their *own*
cluster is taken to the mean of the other members (``(sum − R_u) / (count − 1)`` over the
movies another member rated, O(nnz) from the update's sums); to other clusters it is the usual
one. On the seed-size generated data with four planted taste groups this raised the adjusted
Rand index of cosine k-means from about 0.1 to 1.0 (``leave_one_out=False`` gives the plain
rule). At a fixed point every user is nearer to the rest of their cluster than to any other
centroid.

The objective is the sum over users of the squared distance to their centroid for the
Euclidean metrics (k-means inertia) and of the cosine distance for cosine (spherical k-means),
with the leave-one-out distance to the own centroid.

Seeding is k-means++ under the same metric: the next seed is a user drawn with probability
proportional to their cost to the nearest seed so far. Each restart runs until the labels stop
changing (at most a share ``tol`` of users moving), a few users cycle between two clusters,
the movement stops falling, or after ``max_iter`` assignments; the restart with the lowest
objective (and no empty cluster, where possible) wins. Unlike plain k-means the objective is
not guaranteed to fall at every step: centroid masks change as members move (the first update,
from single seed users to centroids covering many movies, raises the Euclidean objective
sharply), and with leave-one-out assignment a few users can cycle between two clusters. An
empty cluster is re-seeded with the costlier half of the largest cluster (not with a single
user: a centroid covering few movies looks near to everyone under a masked metric, and on the
seed-size data single-user re-seeds made whole runs collapse into a few clusters).

**Undefined distances.** A user-centroid pair sharing fewer than ``min_overlap`` movies gets the
metric's largest value on the data (:func:`clusterrec.distances.largest_distance`), as in
:mod:`clusterrec.distances`; nothing is ever NaN. A user who shares no movie with *any*
centroid (an *uncovered* user; every distance equal) is assigned to the centroid that covers
the most movies (ties: the lower index): the centroid most likely to share movies with them
after the next update. Such users are counted in ``n_uncovered``. User-centroid distances are
not shrunk toward the undefined value (``shrinkage`` of :mod:`clusterrec.distances`): that
guards user pairs sharing one or two movies, while a centroid covers many; user-medoid
distances (the sampled k-medoids path) are user pairs and use the distances' default.

**k-medoids and average linkage** work on a precomputed n x n distance matrix (any metric;
Jaccard is the reason): k-medoids is FasterPAM from the maintained ``kmedoids`` package,
average linkage is scikit-learn's ``AgglomerativeClustering``. The matrix costs 4·n² bytes.
Beyond the memory budget, :func:`kmedoids_sampled` runs FasterPAM on a random sample of users
and then assigns every user to the nearest medoid, the user-medoid distances computed with the
same sparse products (for Jaccard: ``1 − M·Mmᵀ / (n_u + n_m − M·Mmᵀ)``); average linkage has no
such path and is refused there.

**Choosing L**: :func:`sweep_n_clusters` records the objective (elbow) and the silhouette on the
precomputed distances of the same metric for each L; the suggested L is the one with the
largest silhouette (ties: the smaller L).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh
from sklearn.base import BaseEstimator, ClusterMixin

from clusterrec.distances import (
    CO_RATED_METRICS,
    DEFAULT_MEMORY_BUDGET,
    DEFAULT_MIN_OVERLAP,
    DEFAULT_SHRINKAGE,
    METRICS,
    as_rating_matrix,
    co_rated_counts,
    dense_bytes,
    largest_distance,
    pairwise_distances,
)
from clusterrec.errors import ConfigError, DataError, MemoryBudgetError

if TYPE_CHECKING:
    from clusterrec.distances import RatingsLike

logger = logging.getLogger("clusterrec")

#: Metrics masked k-means accepts (those defined over co-rated items).
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


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clustering:
    """A clustering of n users into ``n_clusters`` groups.

    ``objective``: k-means, the sum of each user's cost to their centroid (squared distance for
    the Euclidean metrics, distance for cosine); k-medoids and linkage, the sum of each user's
    distance to their cluster's medoid. ``centers`` (k-means): the L x m sparse centroid
    ratings, stored entries = the centroid's mask. ``medoids``: row indices of the medoid
    users. ``sample``: the users k-medoids searched among on the sampled path. ``converged``:
    False when the iteration cap ended the run. ``n_uncovered``: users who shared no movie
    with any centroid or medoid (assigned to the one covering the most movies).
    """

    labels: np.ndarray
    objective: float
    n_iter: int
    n_clusters: int
    metric: str
    algorithm: str
    converged: bool = True
    n_uncovered: int = 0
    centers: sp.csr_matrix | None = field(default=None, repr=False)
    medoids: np.ndarray | None = None
    sample: np.ndarray | None = field(default=None, repr=False)

    @property
    def sizes(self) -> np.ndarray:
        """Number of users in each cluster 0..L-1."""
        return np.bincount(self.labels, minlength=self.n_clusters)


# -- input ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Policy:
    """The metric, the value of an undefined pair, the overlap a pair needs to be defined and
    the shrinkage toward the undefined value (as in :mod:`clusterrec.distances`)."""

    metric: str
    fallback: float
    min_overlap: int
    shrinkage: float = 0.0

    @classmethod
    def build(
        cls,
        R: RatingsLike,
        metric: str,
        min_overlap: int,
        undefined: str | float,
        shrinkage: float = 0.0,
    ) -> _Policy:
        if metric not in METRICS:
            raise ConfigError(
                f"metric {metric!r} is not known; accepted values: {', '.join(METRICS)}"
            )
        min_overlap = _check_count(min_overlap, "min_overlap")
        if undefined == "max":
            fallback = largest_distance(R, metric)
        elif (
            isinstance(undefined, int | float)
            and not isinstance(undefined, bool)
            and (math.isfinite(undefined) and undefined >= 0)
        ):
            fallback = float(undefined)
        else:
            raise ConfigError(f"undefined must be 'max' or a finite number >= 0; got {undefined!r}")
        if (
            isinstance(shrinkage, bool)
            or not isinstance(shrinkage, int | float)
            or not (math.isfinite(shrinkage) and shrinkage >= 0)
        ):
            raise ConfigError(f"shrinkage must be a finite number >= 0; got {shrinkage!r}")
        return cls(metric, fallback, min_overlap, float(shrinkage))


@dataclass(frozen=True)
class _UserRows:
    """R, its 0/1 mask M and its squares S = R∘R (float64 CSR), shared by every step."""

    values: sp.csr_matrix
    mask: sp.csr_matrix
    squares: sp.csr_matrix
    entry_user: np.ndarray

    @classmethod
    def build(cls, matrix: sp.csr_matrix) -> _UserRows:
        mask = matrix.copy()
        mask.data[:] = 1.0
        squares = matrix.copy()
        squares.data **= 2
        entry_user = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        return cls(matrix, mask, squares, entry_user)

    @property
    def n_users(self) -> int:
        return self.values.shape[0]

    @property
    def n_rated(self) -> np.ndarray:
        return np.diff(self.values.indptr).astype(np.float64)


@dataclass(frozen=True)
class _Members:
    """How centroids were built: the labels, and for each stored rating of user u on movie k
    the sum and count of the ratings of k in u's cluster (for leave-one-out distances)."""

    labels: np.ndarray
    entry_sum: np.ndarray
    entry_count: np.ndarray


@dataclass(frozen=True)
class _Centers:
    """Centroid values C, their mask Mc and C∘C; the stored entries are the mask. ``members``
    is set when the centroids are cluster means (None for users as centers)."""

    values: sp.csr_matrix
    mask: sp.csr_matrix
    squares: sp.csr_matrix
    members: _Members | None = None

    @classmethod
    def from_values(cls, values: sp.csr_matrix, members: _Members | None = None) -> _Centers:
        mask = values.copy()
        mask.data[:] = 1.0
        squares = values.copy()
        squares.data **= 2
        return cls(values, mask, squares, members)

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


# -- masked k-means -------------------------------------------------------------------------------


def masked_kmeans(
    R: RatingsLike,
    n_clusters: int,
    metric: str = "euclidean",
    *,
    n_init: int = DEFAULT_N_INIT,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    undefined: str | float = "max",
    leave_one_out: bool = True,
    seed: int | np.random.Generator | None = 0,
) -> Clustering:
    """k-means of the users of ``R`` under a masked metric, sparse throughout.

    ``n_init`` k-means++ restarts; the lowest objective wins. Same ``seed``, same result.
    ``leave_one_out``: a user's distance to their own cluster is to the mean of the *other*
    members (see the module docstring, with centroids, the objective and users sharing no
    movie with any centroid).
    """
    _check_kmeans_metric(metric)
    policy = _Policy.build(R, metric, min_overlap, undefined)
    rows = _UserRows.build(_as_csr(R))
    n_clusters = _check_n_clusters(n_clusters, rows.n_users)
    n_init = _check_count(n_init, "n_init")
    max_iter = _check_count(max_iter, "max_iter")
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not tol >= 0:
        raise ConfigError(f"tol must be a number >= 0; got {tol!r}")
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    best = None
    for restart in range(n_init):
        run = _kmeans_run(rows, n_clusters, policy, rng, max_iter, float(tol), leave_one_out)
        logger.debug(
            "k-means restart %d: objective %.6g after %d iterations",
            restart,
            run.objective,
            run.n_iter,
        )
        if best is None or _restart_rank(run) < _restart_rank(best):
            best = run
    logger.info(
        "masked_kmeans: %s users, %s, L=%d, objective %.6g, %.2f s",
        f"{rows.n_users:,}",
        metric,
        n_clusters,
        best.objective,
        time.perf_counter() - started,
    )
    return best


def _kmeans_run(
    rows: _UserRows,
    n_clusters: int,
    policy: _Policy,
    rng: np.random.Generator,
    max_iter: int,
    tol: float,
    leave_one_out: bool,
) -> Clustering:
    """One restart: k-means++ seeds, then assignment and update steps; the last iterate.

    Stops when at most ``tol`` of the users changed cluster, when the labels repeat those of
    two assignments before (a few users cycling between two clusters, which leave-one-out
    assignment allows), when the number of users moving has not reached a new low in
    :data:`_PATIENCE` assignments, or after ``max_iter`` assignments (``converged=False``).
    Movement, not the objective, decides: under a masked metric, objectives of states whose
    centroids cover different movies are not comparable.
    """
    centers = _seed_centers(rows, n_clusters, policy, rng)
    recent: list[np.ndarray] = []
    fewest_moved, since_fewest = math.inf, 0
    converged = False
    for iteration in range(1, max_iter + 1):
        labels, costs, uncovered = _assign(rows, centers, policy, leave_one_out)
        if recent:
            moved = int(np.count_nonzero(labels != recent[-1]))
            cycling = len(recent) == 2 and np.array_equal(labels, recent[0])
            if moved < fewest_moved:
                fewest_moved, since_fewest = moved, 0
            else:
                since_fewest += 1
            converged = moved <= tol * rows.n_users or cycling or since_fewest >= _PATIENCE
        if converged or iteration == max_iter:
            break
        recent = [*recent[-1:], labels]
        centers = _update_centers(rows, _reseed_empty(labels, costs, n_clusters), n_clusters)
    return Clustering(
        labels,
        float(costs.sum()),
        iteration,
        n_clusters,
        policy.metric,
        "kmeans",
        converged=converged,
        n_uncovered=int(uncovered.sum()),
        centers=centers.values,
    )


def _restart_rank(run: Clustering) -> tuple[int, float]:
    """Restarts compare by empty clusters first (fewer is better), then by objective."""
    return int(np.count_nonzero(run.sizes == 0)), run.objective


def _assign(
    rows: _UserRows, centers: _Centers, policy: _Policy, leave_one_out: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, each user's cost to their center, uncovered users).

    With ``leave_one_out`` and centroids that are cluster means, a user's distance to their
    own cluster is to the mean of the other members.
    """
    distances, overlap = _center_distances(rows, centers, policy)
    if leave_one_out and centers.members is not None:
        own = centers.members.labels
        users = np.arange(rows.n_users)
        distances[users, own], overlap[users, own] = _own_center_distances(
            rows, centers.members, policy
        )
    labels, uncovered = _assign_nearest(distances, overlap, centers.coverage, policy.min_overlap)
    costs = _costs(distances[np.arange(len(labels)), labels], policy.metric)
    return labels, costs, uncovered


def _seed_centers(
    rows: _UserRows, n_clusters: int, policy: _Policy, rng: np.random.Generator
) -> _Centers:
    """k-means++ under the masked metric: users drawn with probability ∝ cost to the nearest."""
    n = rows.n_users
    chosen = [int(rng.integers(n))]
    closest = _costs(
        _center_distances(rows, _Centers.of_users(rows, chosen), policy)[0][:, 0], policy.metric
    )
    closest[chosen[0]] = 0.0
    for _ in range(1, n_clusters):
        total = closest.sum()
        if total > 0:
            candidate = int(rng.choice(n, p=closest / total))
        else:
            candidate = int(rng.choice(np.setdiff1d(np.arange(n), chosen)))
        chosen.append(candidate)
        cost = _costs(
            _center_distances(rows, _Centers.of_users(rows, [candidate]), policy)[0][:, 0],
            policy.metric,
        )
        np.minimum(closest, cost, out=closest)
        closest[chosen] = 0.0
    return _Centers.of_users(rows, chosen)


def _reseed_empty(labels: np.ndarray, costs: np.ndarray, n_clusters: int) -> np.ndarray:
    """Labels where each empty cluster took the costlier half of the largest cluster.

    Not a single user: a centroid built from one user covers few movies, and under a masked
    metric a centroid covering few movies looks near to everyone (few co-rated terms).
    """
    sizes = np.bincount(labels, minlength=n_clusters)
    empty = np.flatnonzero(sizes == 0)
    if empty.size == 0:
        return labels
    labels = labels.copy()
    for cluster in empty:
        largest = int(np.argmax(sizes))
        members = np.flatnonzero(labels == largest)
        costliest = members[np.argsort(-costs[members], kind="stable")][: len(members) // 2]
        labels[costliest] = cluster
        sizes[largest] -= len(costliest)
        sizes[cluster] = len(costliest)
    logger.debug("k-means: re-seeded %d empty clusters", empty.size)
    return labels


def _update_centers(rows: _UserRows, labels: np.ndarray, n_clusters: int) -> _Centers:
    """Centroid (a, k) = mean rating of movie k over the members of a who rated it."""
    n_items = rows.values.shape[1]
    keys = labels[rows.entry_user].astype(np.int64) * n_items + rows.values.indices
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=rows.values.data)
    counts = np.bincount(inverse)
    center_of_entry = unique // n_items
    indptr = np.concatenate([[0], np.cumsum(np.bincount(center_of_entry, minlength=n_clusters))])
    values = sp.csr_matrix(
        (sums / counts, (unique % n_items).astype(np.int32), indptr), shape=(n_clusters, n_items)
    )
    members = _Members(labels, sums[inverse], counts[inverse].astype(np.float64))
    return _Centers.from_values(values, members)


# -- k-medoids and average linkage on a distance matrix -------------------------------------------


def kmedoids_precomputed(
    D: np.ndarray,
    n_clusters: int,
    *,
    init: str = "build",
    n_init: int = 1,
    max_iter: int = DEFAULT_MAX_ITER,
    seed: int | np.random.Generator | None = 0,
) -> Clustering:
    """FasterPAM (the ``kmedoids`` package) on an n x n distance matrix; best of ``n_init``.

    ``init``: "build" (PAM's greedy BUILD, deterministic and usually best) or "random". Runs
    single-threaded so that the same seed gives the same medoids.
    """
    import kmedoids

    D = _check_square(D)
    n_clusters = _check_n_clusters(n_clusters, D.shape[0])
    if init not in ("build", "random"):
        raise ConfigError(f"init must be 'build' or 'random'; got {init!r}")
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(_check_count(n_init, "n_init")):
        fit = kmedoids.fasterpam(
            D,
            n_clusters,
            max_iter=_check_count(max_iter, "max_iter"),
            init=init,
            random_state=int(rng.integers(2**31 - 1)),
            n_cpu=1,
        )
        if best is None or fit.loss < best.loss:
            best = fit
    return Clustering(
        labels=np.asarray(best.labels, dtype=np.int64),
        objective=float(best.loss),
        n_iter=int(best.n_iter),
        n_clusters=n_clusters,
        metric="precomputed",
        algorithm="kmedoids",
        converged=int(best.n_iter) < max_iter,
        medoids=np.asarray(best.medoids, dtype=np.int64),
    )


def linkage_precomputed(D: np.ndarray, n_clusters: int, *, linkage: str = "average") -> Clustering:
    """scikit-learn's agglomerative clustering on an n x n distance matrix (average linkage).

    Its ``objective`` is the k-medoids loss of its clusters (each cluster's best medoid), so
    it can be compared with :func:`kmedoids_precomputed`.
    """
    from sklearn.cluster import AgglomerativeClustering

    D = _check_square(D)
    n_clusters = _check_n_clusters(n_clusters, D.shape[0])
    if linkage not in LINKAGES:
        raise ConfigError(f"linkage must be one of {', '.join(LINKAGES)}; got {linkage!r}")
    model = AgglomerativeClustering(n_clusters=n_clusters, metric="precomputed", linkage=linkage)
    labels = model.fit_predict(D).astype(np.int64)
    medoids, objective = cluster_medoids(D, labels, n_clusters)
    return Clustering(
        labels, objective, 1, n_clusters, "precomputed", "agglomerative", medoids=medoids
    )


def cluster_medoids(D: np.ndarray, labels: np.ndarray, n_clusters: int) -> tuple[np.ndarray, float]:
    """(medoids, loss): each cluster's member with the least total distance to the others."""
    medoids = np.full(n_clusters, -1, dtype=np.int64)
    loss = 0.0
    for cluster in range(n_clusters):
        members = np.flatnonzero(labels == cluster)
        if members.size == 0:
            continue
        totals = D[np.ix_(members, members)].sum(axis=0, dtype=np.float64)
        best = int(np.argmin(totals))
        medoids[cluster], loss = members[best], loss + float(totals[best])
    return medoids, loss


def sample_users(n_users: int, size: int, seed: int | np.random.Generator) -> np.ndarray | None:
    """Sorted random rows to work on when n x n does not fit; None when all fit in ``size``.

    With an integer seed it depends only on (n_users, size, seed), so every metric (and
    every L of a sweep) sees the same users.
    """
    if n_users <= size:
        return None
    if not isinstance(seed, np.random.Generator):
        seed = np.random.default_rng([_check_count(seed, "seed", low=0), n_users, size])
    return np.sort(seed.choice(n_users, size=size, replace=False))


def kmedoids_sampled(
    R: RatingsLike,
    n_clusters: int,
    metric: str = "jaccard",
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    init: str = "build",
    max_iter: int = DEFAULT_MAX_ITER,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    shrinkage: float = DEFAULT_SHRINKAGE,
    undefined: str | float = "max",
    sample: np.ndarray | None = None,
    sample_distances: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
) -> Clustering:
    """k-medoids for more users than an n x n matrix allows: FasterPAM on a random sample of
    ``sample_size`` users (4·s² bytes), then every user to the nearest medoid, the user-medoid
    distances computed from sparse products (n x L) with the same options as
    :func:`clusterrec.distances.pairwise_distances`. ``objective``: the sum over all users.

    ``sample`` (sorted rows) and ``sample_distances`` (their s x s matrix, same options) reuse
    a sample already drawn, as :func:`sweep_n_clusters` does for every L.
    """
    policy = _Policy.build(R, metric, min_overlap, undefined, shrinkage)
    rows = _UserRows.build(_as_csr(R))
    if sample is None:
        sample = sample_users(rows.n_users, _check_count(sample_size, "sample_size"), seed)
        sample = np.arange(rows.n_users) if sample is None else sample
    n_clusters = _check_n_clusters(n_clusters, len(sample))
    if sample_distances is None:
        sample_distances = pairwise_distances(
            rows.values[sample],
            metric,
            min_overlap=policy.min_overlap,
            shrinkage=policy.shrinkage,
            undefined=policy.fallback,
            memory_budget=None,
        )
    fit = kmedoids_precomputed(
        sample_distances, n_clusters, init=init, max_iter=max_iter, seed=seed
    )
    medoids = sample[fit.medoids]
    centers = _Centers.of_users(rows, medoids)
    distances, overlap = _center_distances(rows, centers, policy)
    distances[medoids, np.arange(n_clusters)] = 0.0  # shrinkage leaves self-distances > 0
    labels, uncovered = _assign_nearest(distances, overlap, centers.coverage, policy.min_overlap)
    labels[medoids] = np.arange(n_clusters)
    objective = float(distances[np.arange(rows.n_users), labels].sum())
    logger.info(
        "kmedoids_sampled: %s users, sample %s, %s, L=%d",
        f"{rows.n_users:,}",
        f"{len(sample):,}",
        metric,
        n_clusters,
    )
    return Clustering(
        labels,
        objective,
        fit.n_iter,
        n_clusters,
        metric,
        "kmedoids",
        fit.converged,
        int(uncovered.sum()),
        medoids=medoids,
        sample=sample,
    )


# -- one entry point ------------------------------------------------------------------------------


def resolve_algorithm(metric: str, algorithm: str | None) -> str:
    """The algorithm to run for ``metric``; refuses k-means with a non-co-rated metric."""
    if metric not in METRICS:
        raise ConfigError(f"metric {metric!r} is not known; accepted values: {', '.join(METRICS)}")
    algorithm = algorithm or default_algorithm(metric)
    if algorithm not in ALGORITHMS:
        raise ConfigError(
            f"algorithm {algorithm!r} is not known; accepted values: {', '.join(ALGORITHMS)}"
        )
    if algorithm == "kmeans" and metric not in KMEANS_METRICS:
        raise ConfigError(
            f"k-means cannot cluster with the {metric} distance: a centroid (mean ratings) has "
            f"no {metric} distance to a user; use --algorithm kmedoids (default for {metric}) "
            "or agglomerative"
        )
    return algorithm


def cluster_users(
    R: RatingsLike,
    n_clusters: int,
    metric: str,
    algorithm: str | None = None,
    *,
    distances: np.ndarray | None = None,
    users: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
    n_init: int = DEFAULT_N_INIT,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> Clustering:
    """Cluster the users of ``R`` with ``algorithm`` (default: :func:`default_algorithm`).

    k-medoids and average linkage use ``distances`` when given (the same metric, over all
    users, or over the sorted rows ``users``), else compute them when 4·n² bytes fit
    ``memory_budget``. Beyond it (or given a sample) k-medoids takes the sampled path and
    average linkage is refused.
    """
    algorithm = resolve_algorithm(metric, algorithm)
    if algorithm == "kmeans":
        return masked_kmeans(
            R, n_clusters, metric, n_init=n_init, min_overlap=min_overlap, seed=seed
        )
    n_users = _as_csr(R).shape[0]
    fits = memory_budget is None or dense_bytes(n_users) <= memory_budget
    if users is not None or (distances is None and not fits):
        if algorithm == "agglomerative":
            raise MemoryBudgetError(
                f"average linkage needs the {n_users:,} x {n_users:,} distance matrix "
                f"({dense_bytes(n_users) / 1024**3:.1f} GiB), more than the memory budget; "
                "use algorithm 'kmedoids', which clusters a sample and assigns the rest"
            )
        return kmedoids_sampled(
            R,
            n_clusters,
            metric,
            sample_size=sample_size,
            min_overlap=min_overlap,
            sample=users,
            sample_distances=distances if users is not None else None,
            seed=seed,
        )
    if distances is None:
        distances = pairwise_distances(
            R, metric, min_overlap=min_overlap, memory_budget=memory_budget
        )
    if algorithm == "kmedoids":
        result = kmedoids_precomputed(distances, n_clusters, seed=seed)
    else:
        result = linkage_precomputed(distances, n_clusters)
    return replace(result, metric=metric)


# -- choosing L -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    """One L of a sweep: the clustering and its silhouette (None when undefined)."""

    clustering: Clustering
    silhouette: float | None
    seconds: float

    @property
    def n_clusters(self) -> int:
        return self.clustering.n_clusters


@dataclass(frozen=True)
class Sweep:
    """Clusterings for a range of L with one metric, and the distances silhouettes used.

    ``distances`` is the metric's matrix over ``users`` (None: all users).
    """

    metric: str
    algorithm: str
    points: tuple[SweepPoint, ...]
    distances: np.ndarray = field(repr=False)
    users: np.ndarray | None = field(default=None, repr=False)
    rule: str = SUGGESTION_RULE

    @property
    def suggested(self) -> int | None:
        """The L with the largest silhouette (ties: the smaller L); None without silhouettes."""
        scored = [(p.silhouette, -p.n_clusters) for p in self.points if p.silhouette is not None]
        return -max(scored)[1] if scored else None

    def point(self, n_clusters: int) -> SweepPoint:
        return next(p for p in self.points if p.n_clusters == n_clusters)


def silhouette(D: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean silhouette on a precomputed distance matrix; None with fewer than 2 clusters used
    or as many clusters as users (where it is undefined)."""
    from sklearn.metrics import silhouette_score

    n_used = len(np.unique(labels))
    if n_used < 2 or n_used >= len(labels):
        return None
    return float(silhouette_score(D, labels, metric="precomputed"))


def sweep_distances(
    R: RatingsLike,
    metric: str,
    *,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(D, users): the metric's n x n matrix when it fits the budget, else over a sample."""
    matrix = _as_csr(R)
    n = matrix.shape[0]
    users = None
    if memory_budget is not None and dense_bytes(n) > memory_budget:
        users = sample_users(n, sample_size, seed)
    if users is None:
        return pairwise_distances(R, metric, min_overlap=min_overlap, memory_budget=None), None
    fallback = largest_distance(R, metric)
    D = pairwise_distances(
        matrix[users], metric, min_overlap=min_overlap, undefined=fallback, memory_budget=None
    )
    return D, users


def sweep_n_clusters(
    R: RatingsLike,
    metric: str,
    n_clusters: Iterable[int],
    algorithm: str | None = None,
    *,
    seed: int = 0,
    n_init: int = DEFAULT_N_INIT,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    distances: tuple[np.ndarray, np.ndarray | None] | None = None,
    progress: bool = False,
) -> Sweep:
    """Cluster for each L and record objective (elbow), silhouette and sizes.

    Each L gets its own generator from ``(seed, L)``, so a clustering does not depend on the
    range swept. Silhouettes use the metric's distance matrix (over a sample of users beyond
    the memory budget); ``distances`` = ``(D, users)`` from :func:`sweep_distances` reuses one.
    """
    from tqdm.auto import tqdm

    algorithm = resolve_algorithm(metric, algorithm)
    values = sorted({_check_count(L, "n_clusters") for L in n_clusters})
    if not values:
        raise ConfigError("give at least one number of clusters")
    D, users = distances or sweep_distances(
        R,
        metric,
        min_overlap=min_overlap,
        memory_budget=memory_budget,
        sample_size=sample_size,
        seed=seed,
    )
    points = []
    for L in tqdm(
        values, desc=f"{metric} {algorithm}", disable=None if progress else True, leave=False
    ):
        started = time.perf_counter()
        clustering = cluster_users(
            R,
            L,
            metric,
            algorithm,
            distances=D,
            users=users,
            seed=_seed_for(seed, L),
            n_init=n_init,
            min_overlap=min_overlap,
            memory_budget=memory_budget,
            sample_size=sample_size,
        )
        labels = clustering.labels if users is None else clustering.labels[users]
        score = silhouette(D, labels)
        points.append(SweepPoint(clustering, score, time.perf_counter() - started))
        logger.info(
            "sweep %s/%s L=%d: objective %.6g, silhouette %s",
            metric,
            algorithm,
            L,
            clustering.objective,
            score,
        )
    return Sweep(metric, algorithm, tuple(points), D, users)


def _seed_for(seed: int, n_clusters: int) -> np.random.Generator:
    return np.random.default_rng([_check_count(seed, "seed", low=0), n_clusters])


# -- embedding ------------------------------------------------------------------------------------


def classical_mds(D: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(coordinates n x c, share of each axis): classical (Torgerson) MDS.

    The top eigenvectors of the double-centred squared distances ``B = −½ J D² J``, scaled
    by the square roots of their eigenvalues. An axis's share is its eigenvalue over the sum
    of B's positive eigenvalues (a non-Euclidean D, such as the masked metrics', also has
    negative ones). eigh is O(n³): keep n to a few thousand (see :func:`embed_sweep`).
    """
    D = _check_square(D).astype(np.float64)
    n = D.shape[0]
    n_components = min(_check_count(n_components, "n_components"), n)
    squared = D**2
    row_means = squared.mean(axis=1)
    B = -0.5 * (squared - row_means[:, None] - row_means[None, :] + row_means.mean())
    del squared
    spectrum = eigh(B, eigvals_only=True)
    values, vectors = eigh(B, subset_by_index=[n - n_components, n - 1])
    values, vectors = values[::-1], vectors[:, ::-1]
    vectors *= np.where(vectors.sum(axis=0) < 0, -1.0, 1.0)
    coordinates = vectors * np.sqrt(np.maximum(values, 0.0))
    positive = float(spectrum[spectrum > 0].sum())
    shares = np.maximum(values, 0.0) / positive if positive > 0 else np.zeros_like(values)
    return coordinates, shares


def embed_sweep(
    sweep: Sweep, max_users: int = DEFAULT_EMBEDDING_USERS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, coordinates, axis shares): classical MDS of the sweep's distance matrix, over at
    most ``max_users`` of its users (a seeded sample); ``users`` are rows of R."""
    n = sweep.distances.shape[0]
    local = sample_users(n, max_users, seed)
    local = np.arange(n) if local is None else local
    coordinates, shares = classical_mds(sweep.distances[np.ix_(local, local)])
    users = local if sweep.users is None else sweep.users[local]
    return users, coordinates, shares


def svd_embedding(R: RatingsLike, seed: int = 0) -> np.ndarray:
    """A cheap 2-D embedding of any number of users: TruncatedSVD of the sparse ratings."""
    from sklearn.decomposition import TruncatedSVD

    return TruncatedSVD(n_components=2, random_state=seed).fit_transform(_as_csr(R))


# -- evidence for judging the metrics -------------------------------------------------------------


def size_balance(labels: np.ndarray, n_clusters: int) -> dict[str, float | None]:
    """Smallest and largest cluster, their ratio (None with an empty cluster) and the size
    entropy / log L (1 = equal sizes)."""
    sizes = np.bincount(labels, minlength=n_clusters)
    shares = sizes[sizes > 0] / sizes.sum()
    entropy = (
        float(-(shares * np.log(shares)).sum() / math.log(n_clusters)) if n_clusters > 1 else 1.0
    )
    smallest, largest = int(sizes.min()), int(sizes.max())
    return {
        "size_min": smallest,
        "size_max": largest,
        "largest_to_smallest": largest / smallest if smallest else None,
        "size_entropy": entropy,
    }


def _pair_sample(n: int, max_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs u < v: all of them, or ``max_pairs`` drawn uniformly when there are more."""
    if n * (n - 1) // 2 <= max_pairs:
        return np.triu_indices(n, 1)
    rng = np.random.default_rng([seed, n])
    u, v = rng.integers(n, size=(2, int(max_pairs * 1.1) + 16))
    keep = u != v
    u, v = np.minimum(u, v)[keep][:max_pairs], np.maximum(u, v)[keep][:max_pairs]
    return u, v


def metric_evidence(
    R: RatingsLike,
    labels: Mapping[str, np.ndarray],
    distances: Mapping[str, np.ndarray],
    *,
    algorithms: Mapping[str, str] | None = None,
    users: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    max_pairs: int = DEFAULT_EVIDENCE_PAIRS,
    seed: int = 0,
) -> dict:
    """Measured evidence for judging the metrics: one row per metric and the agreements.

    ``labels[metric]``: a clustering of all n users; ``distances[metric]``: the metric's matrix
    over ``users`` (None: all). Per metric: share of pairs with no co-rated movie and share
    undefined or at the metric's largest value, quantiles of the defined distances, cluster-size
    balance, silhouette, Spearman correlation of distance with the number of co-rated movies
    over defined pairs, and the adjusted Rand index against ``truth`` when given. Agreement:
    the adjusted Rand index of every pair of metrics' clusterings.
    """
    from sklearn.metrics import adjusted_rand_score

    matrix = _as_csr(R)
    subset = matrix if users is None else matrix[users]
    counts = co_rated_counts(subset, memory_budget=None)
    u, v = _pair_sample(subset.shape[0], max_pairs, seed)
    overlap = counts[u, v]
    del counts
    rows = []
    for metric, D in distances.items():
        all_labels = np.asarray(labels[metric])
        sub_labels = all_labels if users is None else all_labels[users]
        values = D[u, v].astype(np.float64)
        if metric in CO_RATED_METRICS:
            defined = overlap >= min_overlap
        else:
            defined = np.ones(len(values), dtype=bool)
        n_clusters = int(all_labels.max()) + 1
        row = {
            "metric": metric,
            "algorithm": (algorithms or {}).get(metric),
            "n_clusters": n_clusters,
            "users": int(subset.shape[0]),
            "pairs": int(len(u)),
            "no_co_rated_share": float(np.mean(overlap == 0)),
            "undefined_share": float(np.mean(~defined)),
            "at_max_share": float(np.mean(values >= largest_distance(R, metric) * (1 - 1e-6))),
            **_quantiles(values[defined]),
            "silhouette": silhouette(D, sub_labels),
            **size_balance(all_labels, n_clusters),
            "spearman_co_rated": _spearman(values[defined], overlap[defined]),
        }
        if truth is not None:
            row["ari_vs_truth"] = float(adjusted_rand_score(truth, all_labels))
        rows.append(row)
    agreement = [
        {"metric_a": a, "metric_b": b, "ari": float(adjusted_rand_score(labels[a], labels[b]))}
        for a, b in combinations(list(distances), 2)
    ]
    return {"metrics": rows, "agreement": agreement}


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    names = ("q05", "q25", "median", "q75", "q95")
    if values.size == 0:
        return dict.fromkeys((*names, "relative_iqr"))
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
    result = {name: float(x) for name, x in zip(names, q, strict=True)}
    result["relative_iqr"] = float((q[3] - q[1]) / q[2]) if q[2] > 0 else None
    return result


def _spearman(values: np.ndarray, overlap: np.ndarray) -> float | None:
    """Spearman's rank correlation of distance with the number of co-rated movies."""
    from scipy.stats import spearmanr

    if values.size < 3 or np.ptp(values) == 0 or np.ptp(overlap) == 0:
        return None
    return float(spearmanr(values, overlap).statistic)


# -- estimators -----------------------------------------------------------------------------------


class _ClusterEstimator(ClusterMixin, BaseEstimator):
    """Shared: copying a :class:`Clustering` onto the fitted attributes."""

    def _store(self, result: Clustering) -> None:
        self.labels_ = result.labels
        self.objective_ = result.objective
        self.inertia_ = result.objective
        self.n_iter_ = result.n_iter
        self.result_ = result


class MaskedKMeans(_ClusterEstimator):
    """k-means under a masked metric (see :func:`masked_kmeans`); ``fit(R)`` on sparse ratings.

    Fitted: ``labels_``, ``cluster_centers_`` (sparse L x m), ``objective_`` (= ``inertia_``),
    ``n_iter_``, ``n_uncovered_``.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        metric: str = "euclidean",
        *,
        n_init: int = DEFAULT_N_INIT,
        max_iter: int = DEFAULT_MAX_ITER,
        tol: float = DEFAULT_TOL,
        min_overlap: int = DEFAULT_MIN_OVERLAP,
        leave_one_out: bool = True,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.min_overlap = min_overlap
        self.leave_one_out = leave_one_out
        self.random_state = random_state

    def fit(self, X: RatingsLike, y: object = None) -> MaskedKMeans:
        result = masked_kmeans(
            X,
            self.n_clusters,
            self.metric,
            n_init=self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            min_overlap=self.min_overlap,
            leave_one_out=self.leave_one_out,
            seed=self.random_state,
        )
        self._store(result)
        self.cluster_centers_ = result.centers
        self.n_uncovered_ = result.n_uncovered
        self._fallback_ = _Policy.build(X, self.metric, self.min_overlap, "max").fallback
        return self

    def transform(self, X: RatingsLike) -> np.ndarray:
        """Distances of the users of ``X`` to the fitted centroids (same items as in fit)."""
        return self._nearest(X)[1]

    def predict(self, X: RatingsLike) -> np.ndarray:
        """Nearest fitted centroid of each user of ``X`` (uncovered users as in fit)."""
        return self._nearest(X)[0]

    def _nearest(self, X: RatingsLike) -> tuple[np.ndarray, np.ndarray]:
        matrix = _as_csr(X)
        if matrix.shape[1] != self.cluster_centers_.shape[1]:
            raise ConfigError(
                f"X has {matrix.shape[1]} items but the model was fitted on "
                f"{self.cluster_centers_.shape[1]}; use the same item columns"
            )
        policy = _Policy(self.metric, self._fallback_, self.min_overlap)
        centers = _Centers.from_values(self.cluster_centers_)
        distances, overlap = _center_distances(_UserRows.build(matrix), centers, policy)
        labels, _ = _assign_nearest(distances, overlap, centers.coverage, self.min_overlap)
        return labels, distances


class KMedoids(_ClusterEstimator):
    """k-medoids (FasterPAM) of users; ``fit(X)`` on ratings, or on an n x n matrix when
    ``metric="precomputed"``. Beyond ``memory_budget`` it fits a sample of ``sample_size``
    users and assigns the rest (see :func:`kmedoids_sampled`).

    Fitted: ``labels_``, ``medoid_indices_``, ``objective_`` (= ``inertia_``), ``n_iter_``.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        metric: str = "jaccard",
        *,
        init: str = "build",
        max_iter: int = DEFAULT_MAX_ITER,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.init = init
        self.max_iter = max_iter
        self.memory_budget = memory_budget
        self.sample_size = sample_size
        self.random_state = random_state

    def fit(self, X: RatingsLike | np.ndarray, y: object = None) -> KMedoids:
        if self.metric == "precomputed":
            result = kmedoids_precomputed(
                X, self.n_clusters, init=self.init, max_iter=self.max_iter, seed=self.random_state
            )
        else:
            n_users = _as_csr(X).shape[0]
            if self.memory_budget is not None and dense_bytes(n_users) > self.memory_budget:
                result = kmedoids_sampled(
                    X,
                    self.n_clusters,
                    self.metric,
                    sample_size=self.sample_size,
                    init=self.init,
                    max_iter=self.max_iter,
                    seed=self.random_state,
                )
            else:
                D = pairwise_distances(X, self.metric, memory_budget=self.memory_budget)
                result = kmedoids_precomputed(
                    D,
                    self.n_clusters,
                    init=self.init,
                    max_iter=self.max_iter,
                    seed=self.random_state,
                )
        self._store(replace(result, metric=self.metric))
        self.medoid_indices_ = result.medoids
        return self


class AverageLinkage(_ClusterEstimator):
    """Agglomerative clustering of users (scikit-learn, average linkage by default) on the
    n x n distance matrix of ``metric``, or on ``X`` itself when ``metric="precomputed"``.

    Fitted: ``labels_``, ``medoid_indices_`` and ``objective_`` (the clusters' k-medoids loss).
    """

    def __init__(
        self,
        n_clusters: int = 8,
        metric: str = "jaccard",
        *,
        linkage: str = "average",
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    ) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.linkage = linkage
        self.memory_budget = memory_budget

    def fit(self, X: RatingsLike | np.ndarray, y: object = None) -> AverageLinkage:
        D = (
            X
            if self.metric == "precomputed"
            else pairwise_distances(X, self.metric, memory_budget=self.memory_budget)
        )
        result = linkage_precomputed(D, self.n_clusters, linkage=self.linkage)
        self._store(replace(result, metric=self.metric))
        self.medoid_indices_ = result.medoids
        return self
