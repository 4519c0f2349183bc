"""Agglomerative (linkage) clustering of users on an n x n distance matrix (scikit-learn)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from clusterrec.clustering._common import LINKAGES, _check_n_clusters, _check_square
from clusterrec.clustering.medoids import cluster_medoids
from clusterrec.clustering.result import Clustering, _ClusterEstimator
from clusterrec.distances.engine import DEFAULT_MEMORY_BUDGET, DEFAULT_SHRINKAGE
from clusterrec.distances.pairwise import pairwise_distances
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "LinkageClustering",
    "linkage_precomputed",
]


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


class LinkageClustering(_ClusterEstimator):
    """Agglomerative clustering of users (scikit-learn, average linkage by default) on the
    n x n distance matrix of ``metric``, or on ``X`` itself when ``metric="precomputed"``.
    ``shrinkage`` as in :func:`clusterrec.distances.pairwise_distances` (Jaccard ignores it).

    Fitted: ``labels_``, ``medoid_indices_`` and ``objective_`` (the clusters' k-medoids loss).
    """

    def __init__(
        self,
        n_clusters: int = 8,
        metric: str = "jaccard",
        *,
        linkage: str = "average",
        shrinkage: float = DEFAULT_SHRINKAGE,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    ) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.linkage = linkage
        self.shrinkage = shrinkage
        self.memory_budget = memory_budget

    def fit(self, X: RatingsLike | np.ndarray, y: object = None) -> LinkageClustering:
        D = (
            X
            if self.metric == "precomputed"
            else pairwise_distances(
                X, self.metric, shrinkage=self.shrinkage, memory_budget=self.memory_budget
            )
        )
        result = linkage_precomputed(D, self.n_clusters, linkage=self.linkage)
        self._store(replace(result, metric=self.metric))
        self.medoid_indices_ = result.medoids
        return self
