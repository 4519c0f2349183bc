"""Users in 2-D for the cluster pictures: classical MDS of a distance matrix, or a sparse SVD."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.linalg import eigh

from clusterrec.clustering._common import (
    DEFAULT_EMBEDDING_USERS,
    _as_csr,
    _check_count,
    _check_square,
)
from clusterrec.clustering.medoids import sample_users
from clusterrec.clustering.sweep import Sweep

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "classical_mds",
    "embed_sweep",
    "svd_embedding",
]


# -- embedding ------------------------------------------------------------------------------------


def classical_mds(D: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(coordinates n x c, share of each axis): classical (Torgerson) MDS.

    The top eigenvectors of the double-centred squared distances ``B = −½ J D² J``, scaled
    by the square roots of their eigenvalues. An axis's share is its eigenvalue over the sum
    of B's positive eigenvalues (a non-Euclidean D, such as the masked metrics', also has
    negative ones). eigh is O(n³): keep n to a few thousand (see :func:`embed_sweep`).
    """
    D = _check_square(D).astype(np.float64)
    n = D.shape[0]
    n_components = min(_check_count(n_components, "n_components"), n)
    squared = D**2
    row_means = squared.mean(axis=1)
    B = -0.5 * (squared - row_means[:, None] - row_means[None, :] + row_means.mean())
    del squared
    spectrum = eigh(B, eigvals_only=True)
    values, vectors = eigh(B, subset_by_index=[n - n_components, n - 1])
    values, vectors = values[::-1], vectors[:, ::-1]
    vectors *= np.where(vectors.sum(axis=0) < 0, -1.0, 1.0)
    coordinates = vectors * np.sqrt(np.maximum(values, 0.0))
    positive = float(spectrum[spectrum > 0].sum())
    shares = np.maximum(values, 0.0) / positive if positive > 0 else np.zeros_like(values)
    return coordinates, shares


def embed_sweep(
    sweep: Sweep, max_users: int = DEFAULT_EMBEDDING_USERS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, coordinates, axis shares): classical MDS of the sweep's distance matrix, over at
    most ``max_users`` of its users (a seeded sample); ``users`` are rows of R."""
    n = sweep.distances.shape[0]
    local = sample_users(n, max_users, seed)
    local = np.arange(n) if local is None else local
    coordinates, shares = classical_mds(sweep.distances[np.ix_(local, local)])
    users = local if sweep.users is None else sweep.users[local]
    return users, coordinates, shares


def svd_embedding(R: RatingsLike, seed: int = 0) -> np.ndarray:
    """A cheap 2-D embedding of any number of users: TruncatedSVD of the sparse ratings."""
    from sklearn.decomposition import TruncatedSVD

    return TruncatedSVD(n_components=2, random_state=seed).fit_transform(_as_csr(R))
