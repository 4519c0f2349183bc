"""The stages of a run, one module each; every stage returns a small frozen result with
``save(folder)`` and a ``load(folder)`` classmethod (JSON, .npz and CSV, no pickle, written
atomically), which the next stages, the figures (:mod:`clusterrec.viz`) and the report read.

* :mod:`~.data`: :class:`DataResult` (kept ratings, read and filter counts, statistics).
* :mod:`~.distances`: :class:`DistanceResult` (one metric's n x n matrix).
* :mod:`~.clustering`: :class:`ClusteringResult` (a sweep over L: labels, objective,
  silhouette, the 2-D embedding).
* :mod:`~.evidence`: :class:`EvidenceResult` (diagnostics, agreement, Jaccard's weaknesses).
* :mod:`~.networks`: :class:`NetworksResult` (users protocol on the Jaccard stage's labels,
  learning curves, the saved model).
* :mod:`~.kfold`: :class:`KFoldResult` (the model against the baselines on the same folds).
* :mod:`~.ablation`: :class:`AblationStageResult` (the default model's parts removed in turn,
  on validation slices of the k-fold training sides; only with ``[evaluation] ablation``).
* :mod:`~.recommendations`: :class:`RecommendationResult` (top-n for sample users).
"""

from clusterrec.run.stages.ablation import (
    AblationStageResult,
    ablation_params,
    compute_ablation,
)
from clusterrec.run.stages.clustering import (
    ClusteringResult,
    Embedding,
    SweepPointSummary,
    clustering_params,
    compute_clustering,
)
from clusterrec.run.stages.data import (
    DataResult,
    InputFile,
    compute_data,
    data_params,
    resolve_input,
)
from clusterrec.run.stages.distances import DistanceResult, compute_distances, distance_params
from clusterrec.run.stages.evidence import (
    EvidenceResult,
    compute_evidence,
    evidence_params,
    planted_groups,
)
from clusterrec.run.stages.kfold import KFoldResult, compute_kfold, kfold_params
from clusterrec.run.stages.networks import (
    NetworksResult,
    compute_networks,
    learning_curves,
    model_params,
    neighbour_summary,
    networks_params,
)
from clusterrec.run.stages.recommendations import (
    RecommendationResult,
    compute_recommendations,
    recommendation_params,
)

__all__ = [
    "AblationStageResult",
    "ClusteringResult",
    "DataResult",
    "DistanceResult",
    "Embedding",
    "EvidenceResult",
    "InputFile",
    "KFoldResult",
    "NetworksResult",
    "RecommendationResult",
    "SweepPointSummary",
    "ablation_params",
    "clustering_params",
    "compute_ablation",
    "compute_clustering",
    "compute_data",
    "compute_distances",
    "compute_evidence",
    "compute_kfold",
    "compute_networks",
    "compute_recommendations",
    "data_params",
    "distance_params",
    "evidence_params",
    "kfold_params",
    "learning_curves",
    "model_params",
    "neighbour_summary",
    "networks_params",
    "planted_groups",
    "recommendation_params",
    "resolve_input",
]
