"""Evaluation: metrics, splits, cross-validation, the assignment's users protocol, and the
measured evidence for judging the distances.

* :mod:`~clusterrec.evaluation.metrics`: RMSE, MAE, precision, recall and NDCG at k.
* :mod:`~clusterrec.evaluation.splits`: k-fold assignments, published split files.
* :mod:`~clusterrec.evaluation.cross_validation`: :func:`cross_validate` (the ratings protocol).
* :mod:`~clusterrec.evaluation.users_protocol`: :func:`evaluate_user_split` (the assignment's).
* :mod:`~clusterrec.evaluation.protocols`: temporal, leave-last-N-out and users-holdout splits,
  :func:`evaluate_split` (the same result type as :func:`cross_validate`).
* :mod:`~clusterrec.evaluation.evidence`: how each metric and its clusters behave.
* :mod:`~clusterrec.evaluation.ablation`: :func:`ablation` (the default model's parts removed
  in turn, on validation slices of training data).

Every table names the protocol that produced it.
"""

from clusterrec._lazy import lazy_names
from clusterrec.evaluation.ablation import AblationResult, ablation, part_effects
from clusterrec.evaluation.cross_validation import (
    CrossValidationResult,
    cross_validate,
    evaluate_top_n,
    ranking_sample,
)
from clusterrec.evaluation.evidence import (
    activity_by_cluster,
    jaccard_weaknesses,
    metric_evidence,
    size_balance,
    sparse_user_evidence,
)
from clusterrec.evaluation.metrics import (
    RELEVANCE_SHARE,
    TopNScores,
    default_relevance_threshold,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
    scores_from_hits,
    top_n_scores,
)
from clusterrec.evaluation.protocols import (
    PROTOCOLS,
    Split,
    evaluate_split,
    leave_last_out_split,
    make_split,
    temporal_split,
    users_holdout_split,
)
from clusterrec.evaluation.splits import (
    assignments_for_kept_records,
    kfold_assignments,
    load_split_file,
)

# The users protocol fits the network model, which needs PyTorch: imported on first use.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "PROTOCOL_USERS": "clusterrec.evaluation.users_protocol",
        "UserSplitResult": "clusterrec.evaluation.users_protocol",
        "evaluate_user_split": "clusterrec.evaluation.users_protocol",
    },
)

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_USERS",
    "Split",
    "evaluate_split",
    "leave_last_out_split",
    "make_split",
    "temporal_split",
    "users_holdout_split",
    "RELEVANCE_SHARE",
    "AblationResult",
    "CrossValidationResult",
    "TopNScores",
    "UserSplitResult",
    "ablation",
    "activity_by_cluster",
    "assignments_for_kept_records",
    "cross_validate",
    "default_relevance_threshold",
    "evaluate_top_n",
    "evaluate_user_split",
    "jaccard_weaknesses",
    "kfold_assignments",
    "load_split_file",
    "mae",
    "metric_evidence",
    "ndcg_at_k",
    "part_effects",
    "precision_at_k",
    "ranking_sample",
    "recall_at_k",
    "rmse",
    "scores_from_hits",
    "size_balance",
    "sparse_user_evidence",
    "top_n_scores",
]
