"""Training rows of the method: the neighbours' ratings of a movie, as the network's input.

For user u in cluster a and a movie i, the assignment's input is (R_u1(i), ..., R_uk(i)), the
ratings of i by u's k nearest neighbours, 0 where a neighbour did not rate i; the target is
R_u(i). Everything here is vectorised: ratings are looked up in the sparse matrix by binary
search over its sorted (row, column) keys, never through a dense users x movies table.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "RatingLookup",
    "neighbor_ratings",
    "rated_pairs",
]


class RatingLookup:
    """Fast vectorised ``R[u, i]`` for many (u, i) pairs of a CSR matrix (0 where absent)."""

    def __init__(self, R: sp.csr_matrix) -> None:
        R = sp.csr_matrix(R)
        R.sort_indices()
        self.n_items = R.shape[1]
        rows = np.repeat(np.arange(R.shape[0], dtype=np.int64), np.diff(R.indptr))
        self._keys = rows * self.n_items + R.indices
        self._values = R.data.astype(np.float32, copy=False)

    def __call__(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Ratings of ``items`` by ``users`` (broadcast together); 0 where not rated or a
        code is negative (padding, unknown)."""
        users, items = np.broadcast_arrays(np.asarray(users), np.asarray(items))
        valid = (users >= 0) & (items >= 0)
        keys = np.where(valid, users.astype(np.int64) * self.n_items + items, -1)
        positions = np.searchsorted(self._keys, keys)
        positions = np.minimum(positions, len(self._keys) - 1)
        found = valid & (self._keys[positions] == keys) if len(self._keys) else valid & False
        return np.where(found, self._values[positions], 0.0).astype(np.float32)


def neighbor_ratings(
    lookup: RatingLookup, neighbors: np.ndarray, users: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """(N, k) ratings of ``items[j]`` by each of ``users[j]``'s neighbours; 0 where the
    neighbour did not rate it or the slot is padding (-1)."""
    slots = neighbors[users]
    return lookup(slots, items[:, None])


def rated_pairs(R: sp.csr_matrix, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (user, item, rating) of the given users, in CSR order (users ascending)."""
    R = sp.csr_matrix(R)
    mask = np.zeros(R.shape[0], dtype=bool)
    mask[users] = True
    counts = np.diff(R.indptr)
    rows = np.repeat(np.arange(R.shape[0]), counts)
    keep = mask[rows]
    return rows[keep], R.indices[keep].astype(np.int64), R.data[keep].astype(np.float32)
