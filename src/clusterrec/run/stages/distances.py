"""Stage ``distances-<metric>``: one metric's n x n user distances (float32)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clusterrec._files import read_json, read_npz, write_json, write_npz
from clusterrec.data.ratings import Ratings
from clusterrec.run.config import DistanceConfig, RunConfig
from clusterrec.run.measure import _MIB

__all__ = [
    "DistanceResult",
    "compute_distances",
    "distance_params",
]


@dataclass(frozen=True)
class DistanceResult:
    """``distances``: the metric's matrix over all users, or over the sorted user sample
    ``users`` when n x n does not fit the memory budget."""

    metric: str
    distances: np.ndarray
    users: np.ndarray | None = None

    def save(self, folder: Path) -> Path:
        arrays = {"distances": self.distances.astype(np.float32, copy=False)}
        if self.users is not None:
            arrays["users"] = self.users
        write_npz(folder / "distances.npz", **arrays)
        write_json(folder / "distances.json", {"metric": self.metric})
        return folder

    @classmethod
    def load(cls, folder: Path) -> DistanceResult:
        arrays = read_npz(folder / "distances.npz")
        metric = read_json(folder / "distances.json")["metric"]
        return cls(metric, arrays["distances"], arrays.get("users"))


def distance_params(data_key: str, metric: str, n_users: int, config: RunConfig) -> dict:
    """What a metric's distance matrix depends on (the seed only when users are sampled)."""
    from clusterrec.distances.engine import dense_bytes

    settings = config.distances
    sampled = dense_bytes(n_users) > settings.memory_budget_mib * _MIB
    return {
        "data": data_key,
        "metric": metric,
        "min_overlap": settings.min_overlap,
        "shrinkage": settings.shrinkage,
        "memory_budget_mib": settings.memory_budget_mib,
        "sample_size": settings.sample_size if sampled else None,
        "seed": config.seed if sampled else None,
    }


def compute_distances(
    ratings: Ratings, metric: str, settings: DistanceConfig, seed: int
) -> DistanceResult:
    """The metric's n x n matrix (float32), over a seeded user sample beyond the budget."""
    from clusterrec.clustering.sweep import sweep_distances

    D, users = sweep_distances(
        ratings.matrix(),
        metric,
        min_overlap=settings.min_overlap,
        shrinkage=settings.shrinkage,
        memory_budget=settings.memory_budget_mib * _MIB,
        sample_size=settings.sample_size,
        seed=seed,
    )
    return DistanceResult(metric, D.astype(np.float32, copy=False), users)
