"""One entry point: cluster users with the algorithm that suits the metric."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from clusterrec.clustering._common import (
    ALGORITHMS,
    DEFAULT_KMEANS_SAMPLE_SIZE,
    DEFAULT_N_INIT,
    DEFAULT_SAMPLE_SIZE,
    KMEANS_METRICS,
    _as_csr,
    default_algorithm,
)
from clusterrec.clustering.kmeans import masked_kmeans
from clusterrec.clustering.linkage import linkage_precomputed
from clusterrec.clustering.medoids import kmedoids_precomputed, kmedoids_sampled
from clusterrec.clustering.result import Clustering
from clusterrec.distances.engine import (
    DEFAULT_MEMORY_BUDGET,
    DEFAULT_MIN_OVERLAP,
    DEFAULT_SHRINKAGE,
    METRICS,
    dense_bytes,
)
from clusterrec.distances.pairwise import pairwise_distances
from clusterrec.errors import ConfigError, MemoryBudgetError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "cluster_users",
    "resolve_algorithm",
]


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
    shrinkage: float = DEFAULT_SHRINKAGE,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    kmeans_sample_size: int | None = DEFAULT_KMEANS_SAMPLE_SIZE,
) -> Clustering:
    """Cluster the users of ``R`` with ``algorithm`` (default: :func:`default_algorithm`).

    k-medoids and average linkage use ``distances`` when given (the same metric, over all
    users, or over the sorted rows ``users``), else compute them when 4·n² bytes fit
    ``memory_budget``. Beyond it (or given a sample) k-medoids takes the sampled path and
    average linkage is refused. ``shrinkage`` applies to user-user and user-medoid distances
    (as in :func:`clusterrec.distances.pairwise_distances`); k-means never shrinks
    user-centroid distances. ``kmeans_sample_size``: k-means' ``sample_size`` (its restarts
    on a sample above that many users; None: on all users; see :func:`masked_kmeans`).
    """
    algorithm = resolve_algorithm(metric, algorithm)
    if algorithm == "kmeans":
        return masked_kmeans(
            R,
            n_clusters,
            metric,
            n_init=n_init,
            min_overlap=min_overlap,
            sample_size=kmeans_sample_size,
            seed=seed,
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
            shrinkage=shrinkage,
            sample=users,
            sample_distances=distances if users is not None else None,
            seed=seed,
        )
    if distances is None:
        distances = pairwise_distances(
            R, metric, min_overlap=min_overlap, shrinkage=shrinkage, memory_budget=memory_budget
        )
    if algorithm == "kmedoids":
        result = kmedoids_precomputed(distances, n_clusters, seed=seed)
    else:
        result = linkage_precomputed(distances, n_clusters)
    return replace(result, metric=metric)
