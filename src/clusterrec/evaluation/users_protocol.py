"""The assignment's protocol: training and test *users* inside each cluster.

Every table says which protocol produced it; this one is named :data:`PROTOCOL_USERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clusterrec.data.ratings import Ratings
from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender
from clusterrec.models.inputs import rated_pairs

__all__ = [
    "PROTOCOL_USERS",
    "UserSplitResult",
    "evaluate_user_split",
]

PROTOCOL_USERS = (
    "users protocol (the assignment's): Jaccard clusters of all users' rated sets; in each "
    "cluster {test_share:.0%} of the users held out at random (seed {seed}); baseline, "
    "neighbours and networks fitted on the other users' ratings only; held-out users are "
    "never anyone's neighbour; errors over every rating of each group of users"
)


@dataclass
class UserSplitResult:
    """Per-cluster and overall errors of the users protocol."""

    clusters: pd.DataFrame
    overall: dict
    protocol: str

    def as_dict(self) -> dict:
        return {
            "protocol": "users",
            "description": self.protocol,
            "clusters": self.clusters.to_dict(orient="records"),
            "overall": self.overall,
        }

    def to_frame(self) -> pd.DataFrame:
        """A row per cluster and a last row ``"all"`` (the overall figures), indexed by
        cluster: users, training and test users and ratings, MAE, RMSE, test fallback share."""
        rows = [*self.clusters.to_dict(orient="records"), {"cluster": "all", **self.overall}]
        frame = pd.DataFrame(rows, columns=["cluster", *self.overall])
        frame["cluster"] = frame["cluster"].astype(str)
        return frame.set_index("cluster")

    def _repr_html_(self) -> str:
        """The per-cluster table under its protocol sentence (how Jupyter shows the result)."""
        from clusterrec._html import frame_html

        return frame_html(self.to_frame(), f"Protocol: {self.protocol}.")

    def to_markdown(self) -> str:
        header = (
            "| cluster | users | train users | test users | train ratings | test ratings "
            "| train MAE | test MAE | train RMSE | test RMSE | test fallback |"
        )
        lines = [f"Protocol: {self.protocol}.", "", header, "|" + "---|" * 11]
        rows = [*self.clusters.to_dict(orient="records"), {"cluster": "all", **self.overall}]
        for row in rows:
            lines.append(
                f"| {row['cluster']} | {row['users']:,} | {row['train_users']:,} "
                f"| {row['test_users']:,} | {row['train_ratings']:,} | {row['test_ratings']:,} "
                f"| {row['train_mae']:.4f} | {row['test_mae']:.4f} | {row['train_rmse']:.4f} "
                f"| {row['test_rmse']:.4f} | {row['test_fallback_share']:.1%} |"
            )
        return "\n".join(lines)


def evaluate_user_split(
    model: ClusterNeighborRecommender,
    ratings: Ratings,
    test_share: float = 0.2,
    labels: np.ndarray | None = None,
) -> UserSplitResult:
    """Fit ``model`` with held-out users (its own seed) and measure both groups per cluster.

    ``labels``: the users' clusters made elsewhere (see ``ClusterNeighborRecommender.fit``);
    default: the model clusters by Jaccard itself. Overall figures are weighted by ratings
    (the errors over all ratings of the group).
    """
    held_out = model.fit_user_split(ratings, test_share, labels=labels)
    users, items, truth = rated_pairs(model.matrix_, np.arange(len(model.user_index_)))
    predicted = model.predict_codes(users, items)
    frame = pd.DataFrame(
        {
            "cluster": model.labels_[users],
            "test": held_out[users],
            "abs_error": np.abs(predicted.rating - truth),
            "sq_error": (predicted.rating - truth) ** 2,
            "fallback": predicted.fallback,
        }
    )
    sizes = pd.DataFrame({"cluster": model.labels_, "test": held_out})
    rows = [
        _row(frame[frame.cluster == c], sizes[sizes.cluster == c]) | {"cluster": int(c)}
        for c in range(model.n_clusters)
    ]
    overall = _row(frame, sizes)
    table = pd.DataFrame(rows)[["cluster", *overall]]
    description = PROTOCOL_USERS.format(test_share=test_share, seed=model.seed)
    return UserSplitResult(table, overall, description)


def _row(frame: pd.DataFrame, sizes: pd.DataFrame) -> dict:
    train, test = frame[~frame.test], frame[frame.test]
    return {
        "users": len(sizes),
        "train_users": int((~sizes.test).sum()),
        "test_users": int(sizes.test.sum()),
        "train_ratings": len(train),
        "test_ratings": len(test),
        "train_mae": _mean(train.abs_error),
        "test_mae": _mean(test.abs_error),
        "train_rmse": float(np.sqrt(_mean(train.sq_error))),
        "test_rmse": float(np.sqrt(_mean(test.sq_error))),
        "test_fallback_share": _mean(test.fallback),
    }


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else float("nan")
