"""What every clusterer returns (:class:`Clustering`), and the estimators' shared base."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin

if TYPE_CHECKING:
    pass

__all__ = [
    "Clustering",
]


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clustering:
    """A clustering of n users into ``n_clusters`` groups.

    ``objective``: k-means, the sum of each user's cost to their centroid (squared distance for
    the Euclidean metrics, distance for cosine); k-medoids and linkage, the sum of each user's
    distance to their cluster's medoid. ``centers`` (k-means): the L x m sparse centroid
    ratings, stored entries = the centroid's mask. ``medoids``: row indices of the medoid
    users. ``sample``: the users k-medoids searched among on the sampled path (k-means: the
    users its restarts ran on, sampled form). ``converged``: False when the iteration cap
    ended the run (k-means' sampled form: the cap of its steps on all users).
    ``n_uncovered``: users who shared no movie with any centroid or medoid (assigned to the
    one covering the most movies).
    """

    labels: np.ndarray
    objective: float
    n_iter: int
    n_clusters: int
    metric: str
    algorithm: str
    converged: bool = True
    n_uncovered: int = 0
    centers: sp.csr_matrix | None = field(default=None, repr=False)
    medoids: np.ndarray | None = None
    sample: np.ndarray | None = field(default=None, repr=False)

    @property
    def sizes(self) -> np.ndarray:
        """Number of users in each cluster 0..L-1."""
        return np.bincount(self.labels, minlength=self.n_clusters)


# -- estimators -----------------------------------------------------------------------------------


class _ClusterEstimator(ClusterMixin, BaseEstimator):
    """Shared: copying a :class:`Clustering` onto the fitted attributes."""

    def _store(self, result: Clustering) -> None:
        self.labels_ = result.labels
        self.objective_ = result.objective
        self.inertia_ = result.objective
        self.n_iter_ = result.n_iter
        self.result_ = result
