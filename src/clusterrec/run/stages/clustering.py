"""Stage ``clustering-<metric>``: sweep L with one metric (Jaccard is one of them): labels,
objective and silhouette per L, and the users' 2-D coordinates for the cluster pictures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clusterrec._files import read_json, read_npz, write_json, write_npz
from clusterrec._progress import ProgressArg
from clusterrec.data.ratings import Ratings
from clusterrec.run.config import DistanceConfig, RunConfig
from clusterrec.run.measure import _MIB
from clusterrec.run.stages.distances import DistanceResult

__all__ = [
    "ClusteringResult",
    "Embedding",
    "SweepPointSummary",
    "clustering_params",
    "compute_clustering",
]


@dataclass(frozen=True)
class SweepPointSummary:
    """One L of a sweep as numbers."""

    L: int
    objective: float
    silhouette: float | None
    sizes: tuple[int, ...]
    n_iter: int
    converged: bool
    uncovered_users: int
    seconds: float

    @property
    def n_clusters(self) -> int:
        return self.L


@dataclass(frozen=True)
class Embedding:
    """Users in 2-D: the rows ``users`` of the data, their ``coordinates`` (n x 2) and the
    share of the spectrum each axis explains."""

    users: np.ndarray
    coordinates: np.ndarray
    shares: np.ndarray


@dataclass(frozen=True)
class ClusteringResult:
    """A sweep over L with one metric and algorithm.

    ``points``: the swept L in order; ``labels[L]``: a cluster per user for every swept L and
    for any ``extra`` L asked for (the networks' L outside the sweep); ``suggested``: the
    largest silhouette's L (None without silhouettes); ``silhouette_users``: the sample size
    silhouettes used (None: all users).
    """

    metric: str
    algorithm: str
    rule: str
    suggested: int | None
    silhouette_users: int | None
    points: tuple[SweepPointSummary, ...]
    labels: dict[int, np.ndarray]
    embedding: Embedding

    @property
    def chosen(self) -> int:
        """The suggested L (the first L when no silhouette was defined)."""
        return self.suggested or self.points[0].L

    @property
    def swept(self) -> list[int]:
        return [p.L for p in self.points]

    def summary(self) -> dict:
        """The sweep as plain values (sweep.json; what the report's words read)."""
        return {
            "metric": self.metric,
            "algorithm": self.algorithm,
            "suggested": self.suggested,
            "rule": self.rule,
            "silhouette_users": self.silhouette_users,
            "points": [
                {
                    "L": p.L,
                    "objective": p.objective,
                    "silhouette": p.silhouette,
                    "sizes": list(p.sizes),
                    "n_iter": p.n_iter,
                    "converged": p.converged,
                    "uncovered_users": p.uncovered_users,
                    "seconds": p.seconds,
                }
                for p in self.points
            ],
        }

    def save(self, folder: Path) -> Path:
        write_npz(folder / "labels.npz", **{f"L{L}": a for L, a in sorted(self.labels.items())})
        write_npz(
            folder / "embedding.npz",
            users=self.embedding.users,
            coordinates=self.embedding.coordinates,
            shares=self.embedding.shares,
        )
        write_json(folder / "sweep.json", self.summary())
        return folder

    @classmethod
    def load(cls, folder: Path) -> ClusteringResult:
        summary = read_json(folder / "sweep.json")
        labels = {int(name[1:]): a for name, a in read_npz(folder / "labels.npz").items()}
        embedding = read_npz(folder / "embedding.npz")
        points = tuple(
            SweepPointSummary(**{**p, "sizes": tuple(p["sizes"])}) for p in summary["points"]
        )
        return cls(
            metric=summary["metric"],
            algorithm=summary["algorithm"],
            rule=summary["rule"],
            suggested=summary["suggested"],
            silhouette_users=summary["silhouette_users"],
            points=points,
            labels=labels,
            embedding=Embedding(embedding["users"], embedding["coordinates"], embedding["shares"]),
        )


def clustering_params(
    distance_key: str,
    metric: str,
    algorithm: str,
    config: RunConfig,
    extra: Sequence[int] = (),
) -> dict:
    """What a sweep depends on (not the figures' settings: those are the report's)."""
    return {
        "distances": distance_key,
        "metric": metric,
        "algorithm": algorithm,
        "n_clusters": config.clustering.n_clusters,
        "extra_n_clusters": sorted(extra),
        "n_init": config.clustering.n_init if algorithm == "kmeans" else None,
        "min_overlap": config.distances.min_overlap,
        "shrinkage": config.distances.shrinkage,
        "memory_budget_mib": config.distances.memory_budget_mib,
        "sample_size": config.distances.sample_size,
        "embedding_users": config.clustering.embedding_users,
        "seed": config.seed,
    }


def compute_clustering(
    ratings: Ratings,
    distances: DistanceResult,
    algorithm: str,
    n_clusters: Sequence[int],
    *,
    settings: DistanceConfig,
    n_init: int,
    embedding_users: int,
    seed: int,
    extra: Sequence[int] = (),
    progress: ProgressArg = False,
) -> ClusteringResult:
    """Sweep ``n_clusters`` with the metric of ``distances``; labels also for the ``extra``
    L (each L's clustering is the same whether swept or extra: its seed is (seed, L))."""
    from threadpoolctl import threadpool_limits

    from clusterrec.clustering.embedding import embed_sweep
    from clusterrec.clustering.sweep import sweep_n_clusters

    def sweep(values: Sequence[int]) -> object:
        return sweep_n_clusters(
            ratings.matrix(),
            distances.metric,
            values,
            algorithm,
            seed=seed,
            n_init=n_init,
            min_overlap=settings.min_overlap,
            shrinkage=settings.shrinkage,
            memory_budget=settings.memory_budget_mib * _MIB,
            sample_size=settings.sample_size,
            distances=(distances.distances, distances.users),
            progress=progress,
        )

    swept = sweep(n_clusters)
    labels = {p.n_clusters: p.clustering.labels for p in swept.points}
    outside = sorted(set(extra) - set(labels))
    if outside:
        labels.update({p.n_clusters: p.clustering.labels for p in sweep(outside).points})
    # eigh on a few thousand users: one BLAS thread is as fast, and far faster than two when
    # the cores are busy (measured: 0.2 s against up to 10 s on this project's shared machine)
    with threadpool_limits(limits=1, user_api="blas"):
        users, coordinates, shares = embed_sweep(swept, max_users=embedding_users, seed=seed)
    points = tuple(
        SweepPointSummary(
            L=p.n_clusters,
            objective=float(p.clustering.objective),
            silhouette=None if p.silhouette is None else float(p.silhouette),
            sizes=tuple(int(s) for s in p.clustering.sizes),
            n_iter=int(p.clustering.n_iter),
            converged=bool(p.clustering.converged),
            uncovered_users=int(p.clustering.n_uncovered),
            seconds=float(p.seconds),
        )
        for p in swept.points
    )
    return ClusteringResult(
        metric=swept.metric,
        algorithm=swept.algorithm,
        rule=swept.rule,
        suggested=swept.suggested,
        silhouette_users=None if swept.users is None else len(swept.users),
        points=points,
        labels=labels,
        embedding=Embedding(users, coordinates, shares),
    )
