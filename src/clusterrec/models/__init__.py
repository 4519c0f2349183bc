"""Recommenders: the contract every model keeps, the baselines, and the method's
cluster-neighbour network.

* :mod:`~clusterrec.models.recommender`: :class:`Recommender` (fit, predict, recommend) and
  :class:`Predictions` with visible fallbacks.
* :mod:`~clusterrec.models.baselines`: global mean, bias baseline, user-based kNN.
* :mod:`~clusterrec.models.cluster_neighbor`: :class:`ClusterNeighborRecommender`, built from
  :mod:`~clusterrec.models.neighbors` (k nearest inside clusters),
  :mod:`~clusterrec.models.inputs` (the networks' input rows),
  :mod:`~clusterrec.models.networks` (PyTorch) and :mod:`~clusterrec.models.presets`.
* :mod:`~clusterrec.models.cluster_hybrid`: :class:`ClusterHybridRecommender`, the default
  model: the cluster-neighbour network with two-sided implicit factors, averaged with an item
  autoencoder (:mod:`~clusterrec.models.cluster_hybrid_core`,
  :mod:`~clusterrec.models.neighbour_features`, :mod:`~clusterrec.models.item_autoencoder`).
* :mod:`~clusterrec.models.registry`: the models by name.
"""

from clusterrec._lazy import lazy_names
from clusterrec.models.baselines import BiasBaseline, GlobalMean, UserKNN
from clusterrec.models.presets import PRESETS, NetworkConfig, preset
from clusterrec.models.recommender import Predictions, Recommender, clip_to_scale
from clusterrec.models.registry import MODEL_NAMES, comparison_models

# The network model needs PyTorch: imported on first use.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "ClusterNeighborRecommender": "clusterrec.models.cluster_neighbor",
        "ClusterHybridRecommender": "clusterrec.models.cluster_hybrid",
    },
)

__all__ = [
    "MODEL_NAMES",
    "PRESETS",
    "BiasBaseline",
    "ClusterHybridRecommender",
    "ClusterNeighborRecommender",
    "GlobalMean",
    "NetworkConfig",
    "Predictions",
    "Recommender",
    "UserKNN",
    "clip_to_scale",
    "comparison_models",
    "preset",
]
