"""Clustering users: masked k-means, k-medoids and linkage on a distance matrix, choosing L,
2-D pictures of the clusters.

* :mod:`~clusterrec.clustering.kmeans`: k-means under the masked Euclidean and cosine metrics,
  on the sparse ratings (:func:`masked_kmeans`, :class:`MaskedKMeans`).
* :mod:`~clusterrec.clustering.medoids`: k-medoids (FasterPAM) on an n x n matrix, or on a
  sample with everyone assigned to the nearest medoid (:class:`KMedoidsClustering`).
* :mod:`~clusterrec.clustering.linkage`: agglomerative clustering (:class:`LinkageClustering`).
* :mod:`~clusterrec.clustering.entry`: :func:`cluster_users`, the algorithm that suits a metric.
* :mod:`~clusterrec.clustering.sweep`: choosing L (:func:`sweep_n_clusters`).
* :mod:`~clusterrec.clustering.embedding`: users in 2-D (classical MDS, sparse SVD).
"""

from clusterrec.clustering._common import (
    ALGORITHMS,
    DEFAULT_EMBEDDING_USERS,
    DEFAULT_MAX_ITER,
    DEFAULT_N_INIT,
    DEFAULT_SAMPLE_SIZE,
    DEFAULT_TOL,
    KMEANS_METRICS,
    LINKAGES,
    SUGGESTION_RULE,
    default_algorithm,
)
from clusterrec.clustering.centroids import distances_to_centers
from clusterrec.clustering.embedding import classical_mds, embed_sweep, svd_embedding
from clusterrec.clustering.entry import cluster_users, resolve_algorithm
from clusterrec.clustering.kmeans import MaskedKMeans, masked_kmeans
from clusterrec.clustering.linkage import LinkageClustering, linkage_precomputed
from clusterrec.clustering.medoids import (
    KMedoidsClustering,
    cluster_medoids,
    kmedoids_precomputed,
    kmedoids_sampled,
    sample_users,
)
from clusterrec.clustering.result import Clustering
from clusterrec.clustering.sweep import (
    Sweep,
    SweepPoint,
    silhouette,
    sweep_distances,
    sweep_n_clusters,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_EMBEDDING_USERS",
    "DEFAULT_MAX_ITER",
    "DEFAULT_N_INIT",
    "DEFAULT_SAMPLE_SIZE",
    "DEFAULT_TOL",
    "KMEANS_METRICS",
    "LINKAGES",
    "SUGGESTION_RULE",
    "Clustering",
    "KMedoidsClustering",
    "LinkageClustering",
    "MaskedKMeans",
    "Sweep",
    "SweepPoint",
    "classical_mds",
    "cluster_medoids",
    "cluster_users",
    "default_algorithm",
    "distances_to_centers",
    "embed_sweep",
    "kmedoids_precomputed",
    "kmedoids_sampled",
    "linkage_precomputed",
    "masked_kmeans",
    "resolve_algorithm",
    "sample_users",
    "silhouette",
    "svd_embedding",
    "sweep_distances",
    "sweep_n_clusters",
]
