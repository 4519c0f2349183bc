"""Stage ``evidence``: the diagnostics of every metric at its suggested L, their agreement, and
the measured weaknesses of the Jaccard distance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clusterrec._files import read_json, write_csv, write_json
from clusterrec.data.ratings import Ratings
from clusterrec.run.stages.clustering import ClusteringResult
from clusterrec.run.stages.data import InputFile
from clusterrec.run.stages.distances import DistanceResult

__all__ = [
    "EvidenceResult",
    "compute_evidence",
    "evidence_params",
    "planted_groups",
]


@dataclass(frozen=True)
class EvidenceResult:
    """``evidence``: :func:`clusterrec.evaluation.evidence.metric_evidence` (``metrics``: a row
    per metric, ``agreement``: a row per pair); ``jaccard``: the measured weaknesses of
    Jaccard with a summary of ``activity`` (empty without a Jaccard clustering);
    ``activity``: per metric and L, the share of the variance of log(ratings) the clusters
    explain."""

    evidence: dict
    jaccard: dict
    activity: pd.DataFrame

    @property
    def metrics(self) -> pd.DataFrame:
        return pd.DataFrame(self.evidence["metrics"])

    @property
    def agreement(self) -> pd.DataFrame:
        return pd.DataFrame(self.evidence["agreement"])

    @property
    def nearest_neighbour(self) -> pd.DataFrame:
        return pd.DataFrame(self.jaccard.get("nearest_neighbour", []))

    def save(self, folder: Path) -> Path:
        write_json(folder / "evidence.json", self.evidence)
        write_json(folder / "jaccard.json", self.jaccard)
        write_csv(folder / "activity_by_cluster.csv", self.activity)
        return folder

    @classmethod
    def load(cls, folder: Path) -> EvidenceResult:
        return cls(
            read_json(folder / "evidence.json"),
            read_json(folder / "jaccard.json"),
            pd.read_csv(folder / "activity_by_cluster.csv"),
        )


def evidence_params(
    clustering_keys: Mapping[str, str],
    distance_keys: Mapping[str, str],
    source: InputFile,
    config: object,
) -> dict:
    return {
        "clusterings": dict(clustering_keys),
        "distances": dict(distance_keys),
        "planted": source.generated,
        "min_overlap": config.distances.min_overlap,
        "seed": config.seed,
    }


def compute_evidence(
    ratings: Ratings,
    clusterings: Mapping[str, ClusteringResult],
    distances: Mapping[str, DistanceResult],
    truth: np.ndarray | None,
    *,
    min_overlap: int,
    seed: int,
) -> EvidenceResult:
    """Each metric judged at its suggested L (``truth``: planted groups, when known)."""
    from clusterrec.evaluation.evidence import (
        activity_by_cluster,
        activity_summary,
        jaccard_weaknesses,
        metric_evidence,
    )

    users = next(iter(distances.values())).users
    matrices = {m: d.distances for m, d in distances.items()}
    evidence = metric_evidence(
        ratings.matrix(),
        {m: c.labels[c.chosen] for m, c in clusterings.items()},
        matrices,
        algorithms={m: c.algorithm for m, c in clusterings.items()},
        users=users,
        truth=truth,
        min_overlap=min_overlap,
        seed=seed,
    )
    swept = {m: {L: c.labels[L] for L in c.swept} for m, c in clusterings.items()}
    activity = activity_by_cluster(ratings, swept)
    weaknesses: dict = {}
    if "jaccard" in matrices:
        weaknesses = jaccard_weaknesses(ratings, matrices, users)
        weaknesses["activity_by_cluster"] = activity_summary(activity)
    return EvidenceResult(evidence, weaknesses, activity)


def planted_groups(source: InputFile, ratings: Ratings) -> np.ndarray | None:
    """The planted taste group of each kept user of generated data (None for a real file)."""
    if source.generated is None:
        return None
    from clusterrec.data.synthetic import generate_dataset

    data = generate_dataset(source.generated["size"], seed=source.generated["seed"])
    group_of = pd.Series(data.taste_groups, index=data.user_labels)
    groups = group_of.reindex(ratings.user_labels.astype(str))
    return None if groups.isna().any() else groups.to_numpy(dtype=np.int64)
