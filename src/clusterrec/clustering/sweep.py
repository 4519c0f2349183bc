"""Choosing L: clusterings for a range of L with their objective and silhouette.

**Choosing L**: :func:`sweep_n_clusters` records the objective (elbow) and the silhouette on the
precomputed distances of the same metric for each L; the suggested L is the one with the
largest silhouette (ties: the smaller L).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from clusterrec._progress import ProgressArg, Steps
from clusterrec.clustering._common import (
    DEFAULT_KMEANS_SAMPLE_SIZE,
    DEFAULT_N_INIT,
    DEFAULT_SAMPLE_SIZE,
    SUGGESTION_RULE,
    _as_csr,
    _check_count,
)
from clusterrec.clustering.entry import cluster_users, resolve_algorithm
from clusterrec.clustering.medoids import sample_users
from clusterrec.clustering.result import Clustering
from clusterrec.distances.engine import (
    DEFAULT_MEMORY_BUDGET,
    DEFAULT_MIN_OVERLAP,
    DEFAULT_SHRINKAGE,
    dense_bytes,
)
from clusterrec.distances.pairwise import largest_distance, pairwise_distances
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "Sweep",
    "SweepPoint",
    "silhouette",
    "sweep_distances",
    "sweep_n_clusters",
]

logger = logging.getLogger("clusterrec")


# -- choosing L -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    """One L of a sweep: the clustering and its silhouette (None when undefined)."""

    clustering: Clustering
    silhouette: float | None
    seconds: float

    @property
    def n_clusters(self) -> int:
        return self.clustering.n_clusters


@dataclass(frozen=True)
class Sweep:
    """Clusterings for a range of L with one metric, and the distances silhouettes used.

    ``distances`` is the metric's matrix over ``users`` (None: all users).
    """

    metric: str
    algorithm: str
    points: tuple[SweepPoint, ...]
    distances: np.ndarray = field(repr=False)
    users: np.ndarray | None = field(default=None, repr=False)
    rule: str = SUGGESTION_RULE

    @property
    def suggested(self) -> int | None:
        """The L with the largest silhouette (ties: the smaller L); None without silhouettes."""
        scored = [(p.silhouette, -p.n_clusters) for p in self.points if p.silhouette is not None]
        return -max(scored)[1] if scored else None

    def point(self, n_clusters: int) -> SweepPoint:
        return next(p for p in self.points if p.n_clusters == n_clusters)

    def summary(self) -> dict:
        """The sweep as plain values, in the layout of the run's ``sweep.json`` (what
        :func:`clusterrec.report.wording.metric_discussion` reads)."""
        return {
            "metric": self.metric,
            "algorithm": self.algorithm,
            "suggested": self.suggested,
            "rule": self.rule,
            "silhouette_users": None if self.users is None else len(self.users),
            "points": [
                {
                    "L": p.n_clusters,
                    "objective": float(p.clustering.objective),
                    "silhouette": p.silhouette,
                    "sizes": [int(s) for s in p.clustering.sizes],
                    "n_iter": int(p.clustering.n_iter),
                    "converged": bool(p.clustering.converged),
                    "uncovered_users": int(p.clustering.n_uncovered),
                    "seconds": float(p.seconds),
                }
                for p in self.points
            ],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per L: objective, silhouette (NaN when undefined), cluster sizes,
        iterations, convergence, users without a shared movie, seconds."""
        import pandas as pd

        frame = pd.DataFrame(self.summary()["points"])
        frame["silhouette"] = frame["silhouette"].astype("float64")
        frame["sizes"] = frame["sizes"].map(tuple)
        return frame.set_index("L")

    def _repr_html_(self) -> str:
        from clusterrec._html import frame_html

        caption = f"{self.metric} ({self.algorithm}); suggested L = {self.suggested} ({self.rule})"
        return frame_html(self.to_frame(), caption)


def silhouette(D: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean silhouette on a precomputed distance matrix; None with fewer than 2 clusters used
    or as many clusters as users (where it is undefined)."""
    from sklearn.metrics import silhouette_score

    n_used = len(np.unique(labels))
    if n_used < 2 or n_used >= len(labels):
        return None
    return float(silhouette_score(D, labels, metric="precomputed"))


def sweep_distances(
    R: RatingsLike,
    metric: str,
    *,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    shrinkage: float = DEFAULT_SHRINKAGE,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(D, users): the metric's n x n matrix when it fits the budget, else over a sample.

    ``min_overlap`` and ``shrinkage`` as in :func:`clusterrec.distances.pairwise_distances`
    (by default the formulas as stated; the run passes ``MEASURED_SHRINKAGE``).
    """
    matrix = _as_csr(R)
    n = matrix.shape[0]
    users = None
    if memory_budget is not None and dense_bytes(n) > memory_budget:
        users = sample_users(n, sample_size, seed)
    options = {"min_overlap": min_overlap, "shrinkage": shrinkage, "memory_budget": None}
    if users is None:
        return pairwise_distances(R, metric, **options), None
    fallback = largest_distance(R, metric)
    return pairwise_distances(matrix[users], metric, undefined=fallback, **options), users


def sweep_n_clusters(
    R: RatingsLike,
    metric: str,
    n_clusters: Iterable[int],
    algorithm: str | None = None,
    *,
    seed: int = 0,
    n_init: int = DEFAULT_N_INIT,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    shrinkage: float = DEFAULT_SHRINKAGE,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    distances: tuple[np.ndarray, np.ndarray | None] | None = None,
    kmeans_sample_size: int | None = DEFAULT_KMEANS_SAMPLE_SIZE,
    progress: ProgressArg = False,
) -> Sweep:
    """Cluster for each L and record objective (elbow), silhouette and sizes.

    Each L gets its own generator from ``(seed, L)``, so a clustering does not depend on the
    range swept. Silhouettes use the metric's distance matrix (over a sample of users beyond
    the memory budget); ``distances`` = ``(D, users)`` from :func:`sweep_distances` reuses one
    (computed with the same ``min_overlap`` and ``shrinkage``). k-means runs its restarts on
    a sample of ``kmeans_sample_size`` users when there are more (None: on all users; see
    :func:`~clusterrec.clustering.masked_kmeans`).
    ``progress``: False, True (a bar) or a callable told ``"metric L=..."`` before each L (see
    :mod:`clusterrec._progress`).
    """
    algorithm = resolve_algorithm(metric, algorithm)
    values = sorted({_check_count(L, "n_clusters") for L in n_clusters})
    if not values:
        raise ConfigError("give at least one number of clusters")
    D, users = distances or sweep_distances(
        R,
        metric,
        min_overlap=min_overlap,
        shrinkage=shrinkage,
        memory_budget=memory_budget,
        sample_size=sample_size,
        seed=seed,
    )
    points = []
    step = Steps(progress, len(values), unit="L")
    for L in values:
        step(f"{metric} L={L}")
        started = time.perf_counter()
        clustering = cluster_users(
            R,
            L,
            metric,
            algorithm,
            distances=D,
            users=users,
            seed=_seed_for(seed, L),
            n_init=n_init,
            min_overlap=min_overlap,
            shrinkage=shrinkage,
            memory_budget=memory_budget,
            sample_size=sample_size,
            kmeans_sample_size=kmeans_sample_size,
        )
        labels = clustering.labels if users is None else clustering.labels[users]
        score = silhouette(D, labels)
        points.append(SweepPoint(clustering, score, time.perf_counter() - started))
        logger.info(
            "sweep %s/%s L=%d: objective %.6g, silhouette %s",
            metric,
            algorithm,
            L,
            clustering.objective,
            score,
        )
    step.close()
    return Sweep(metric, algorithm, tuple(points), D, users)


def _seed_for(seed: int, n_clusters: int) -> np.random.Generator:
    return np.random.default_rng([_check_count(seed, "seed", low=0), n_clusters])
