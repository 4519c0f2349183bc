"""clusterrec: cluster-based collaborative filtering with neural networks.

The public API, each name imported on first use (so ``import clusterrec`` and the command
line stay fast)::

    from clusterrec import read_ratings, filter_users, pairwise_distances, cluster_users
    from clusterrec import ClusterHybridRecommender, BiasBaseline, cross_validate

The method's stages are the subpackages, in the order the data flow through them:
:mod:`~clusterrec.data`, :mod:`~clusterrec.distances`, :mod:`~clusterrec.clustering`,
:mod:`~clusterrec.models`, :mod:`~clusterrec.evaluation`, :mod:`~clusterrec.run`,
:mod:`~clusterrec.viz`, :mod:`~clusterrec.report` and :mod:`~clusterrec.cli`.
"""

from clusterrec._lazy import lazy_names
from clusterrec.errors import (
    ClusterrecError,
    ConfigError,
    DataError,
    DataWarning,
    MemoryBudgetError,
)

__version__ = "0.1.0"

_WHERE = {
    # data
    "Ratings": "clusterrec.data.ratings",
    "RatingScale": "clusterrec.data.ratings",
    "ReadReport": "clusterrec.data.ratings",
    "read_ratings": "clusterrec.data.readers",
    "read_items": "clusterrec.data.readers",
    "load_builtin": "clusterrec.data.builtin",
    "filter_users": "clusterrec.data.filtering",
    "user_statistics": "clusterrec.data.statistics",
    "describe_ratings": "clusterrec.data.statistics",
    "generate_dataset": "clusterrec.data.synthetic",
    # distances
    "pairwise_distances": "clusterrec.distances",
    "nearest_neighbors": "clusterrec.distances",
    "co_rated_counts": "clusterrec.distances",
    # clustering
    "MaskedKMeans": "clusterrec.clustering",
    "KMedoidsClustering": "clusterrec.clustering",
    "LinkageClustering": "clusterrec.clustering",
    "Clustering": "clusterrec.clustering",
    "masked_kmeans": "clusterrec.clustering",
    "cluster_users": "clusterrec.clustering",
    "sweep_n_clusters": "clusterrec.clustering",
    # models
    "Recommender": "clusterrec.models",
    "Predictions": "clusterrec.models",
    "GlobalMean": "clusterrec.models",
    "BiasBaseline": "clusterrec.models",
    "UserKNN": "clusterrec.models",
    "ClusterNeighborRecommender": "clusterrec.models",
    "ClusterHybridRecommender": "clusterrec.models",
    # evaluation
    "cross_validate": "clusterrec.evaluation",
    "evaluate_split": "clusterrec.evaluation",
    "make_split": "clusterrec.evaluation",
    "kfold_assignments": "clusterrec.evaluation",
    "evaluate_user_split": "clusterrec.evaluation",
    "rmse": "clusterrec.evaluation",
    "mae": "clusterrec.evaluation",
    # the whole run
    "run_pipeline": "clusterrec.run.pipeline",
    "load_config": "clusterrec.run.config",
}

__getattr__, __dir__ = lazy_names(__name__, _WHERE)

__all__ = [
    "ClusterrecError",
    "ConfigError",
    "DataError",
    "DataWarning",
    "MemoryBudgetError",
    "__version__",
    *_WHERE,
]
