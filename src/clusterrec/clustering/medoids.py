"""k-medoids of users: FasterPAM on an n x n distance matrix, or on a sample with every user
assigned to the nearest medoid.

**k-medoids and average linkage** work on a precomputed n x n distance matrix (any metric;
Jaccard is the reason): k-medoids is FasterPAM from the maintained ``kmedoids`` package,
average linkage is scikit-learn's ``AgglomerativeClustering``. The matrix costs 4·n² bytes.
Beyond the memory budget, :func:`kmedoids_sampled` runs FasterPAM on a random sample of users
and then assigns every user to the nearest medoid, the user-medoid distances computed with the
same sparse products (for Jaccard: ``1 − M·Mmᵀ / (n_u + n_m − M·Mmᵀ)``); average linkage has no
such path and is refused there.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from clusterrec.clustering._common import (
    DEFAULT_MAX_ITER,
    DEFAULT_SAMPLE_SIZE,
    _as_csr,
    _build_policy,
    _Centers,
    _check_count,
    _check_n_clusters,
    _check_square,
    _UserRows,
)
from clusterrec.clustering.centroids import _assign_nearest, _center_distances
from clusterrec.clustering.result import Clustering, _ClusterEstimator
from clusterrec.distances.engine import (
    DEFAULT_MEMORY_BUDGET,
    DEFAULT_MIN_OVERLAP,
    DEFAULT_SHRINKAGE,
    dense_bytes,
)
from clusterrec.distances.pairwise import pairwise_distances
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "KMedoidsClustering",
    "cluster_medoids",
    "kmedoids_precomputed",
    "kmedoids_sampled",
    "sample_users",
]

logger = logging.getLogger("clusterrec")


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
    :func:`clusterrec.distances.pairwise_distances` (by default ``shrinkage=0``, the formulas
    as stated; the run passes ``MEASURED_SHRINKAGE``). ``objective``: the sum over all users.

    ``sample`` (sorted rows) and ``sample_distances`` (their s x s matrix, same options) reuse
    a sample already drawn, as :func:`sweep_n_clusters` does for every L.
    """
    matrix, policy = _build_policy(R, metric, min_overlap, undefined, shrinkage)
    rows = _UserRows.build(matrix)
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


class KMedoidsClustering(_ClusterEstimator):
    """k-medoids (FasterPAM) of users; ``fit(X)`` on ratings, or on an n x n matrix when
    ``metric="precomputed"``. Beyond ``memory_budget`` it fits a sample of ``sample_size``
    users and assigns the rest (see :func:`kmedoids_sampled`).

    ``shrinkage`` as in :func:`clusterrec.distances.pairwise_distances` (Jaccard ignores it).

    Fitted: ``labels_``, ``medoid_indices_``, ``objective_`` (= ``inertia_``), ``n_iter_``.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        metric: str = "jaccard",
        *,
        init: str = "build",
        max_iter: int = DEFAULT_MAX_ITER,
        shrinkage: float = DEFAULT_SHRINKAGE,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
        seed: int | np.random.Generator = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.init = init
        self.max_iter = max_iter
        self.shrinkage = shrinkage
        self.memory_budget = memory_budget
        self.sample_size = sample_size
        self.seed = seed

    def fit(self, X: RatingsLike | np.ndarray, y: object = None) -> KMedoidsClustering:
        if self.metric == "precomputed":
            result = kmedoids_precomputed(
                X, self.n_clusters, init=self.init, max_iter=self.max_iter, seed=self.seed
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
                    shrinkage=self.shrinkage,
                    seed=self.seed,
                )
            else:
                D = pairwise_distances(
                    X, self.metric, shrinkage=self.shrinkage, memory_budget=self.memory_budget
                )
                result = kmedoids_precomputed(
                    D,
                    self.n_clusters,
                    init=self.init,
                    max_iter=self.max_iter,
                    seed=self.seed,
                )
        self._store(replace(result, metric=self.metric))
        self.medoid_indices_ = result.medoids
        return self
