"""Each user's k nearest users in row blocks, never holding n x n (optionally within groups,
optionally among allowed candidates)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from clusterrec.distances.engine import (
    DEFAULT_MIN_OVERLAP,
    DEFAULT_SHRINKAGE,
    _block_distances,
    _blocks,
    _check_metrics,
    _check_positive_int,
    _needs_values,
    _Operands,
    _Policy,
    _single_threaded_blas,
    as_rating_matrix,
)
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "nearest_neighbors",
]

logger = logging.getLogger("clusterrec")


def nearest_neighbors(
    R: RatingsLike,
    metric: str,
    k: int,
    groups: Sequence[int] | np.ndarray | None = None,
    *,
    candidates: Sequence[bool] | np.ndarray | None = None,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    shrinkage: float = DEFAULT_SHRINKAGE,
    undefined: str | float = "max",
    block_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's ``k`` nearest other users, within the user's group when ``groups`` is given.

    ``candidates``: a boolean mask of the users allowed as neighbours (None: everyone); every
    user still gets neighbours, chosen among the allowed users of their group (the training
    users, so that no held-out user's ratings become another user's input).

    Returns ``(indices, distances)``: int64 (n, k) row indices of ``R`` and float32 (n, k)
    distances, nearest first. A user is never their own neighbour; ties go to the smaller
    index; a user with fewer than ``k`` candidates is padded with index -1 and distance +inf.
    Computed in row blocks: memory stays at one block of rows against the group's users, never
    n x n. The distances are those of :func:`pairwise_distances` with the same options (by
    default the formulas as stated, ``shrinkage=0``; the run passes ``MEASURED_SHRINKAGE``).
    """
    (name,) = _check_metrics(metric)
    k = _check_positive_int(k, "k")
    matrix, spread = as_rating_matrix(R)
    n = matrix.shape[0]
    allowed = _check_candidates(candidates, n)
    policy = _Policy.build(matrix, spread, (name,), min_overlap, shrinkage, undefined)
    operands = _Operands.build(matrix, with_values=_needs_values((name,)))
    indices = np.full((n, k), -1, dtype=np.int64)
    distances = np.full((n, k), np.inf, dtype=np.float32)
    started = time.perf_counter()
    with _single_threaded_blas():
        for members in _group_members(groups, n):
            group = operands if len(members) == n else operands.take(members)
            group_allowed = None if allowed is None else allowed[members]
            local_idx, local_dist = _group_neighbors(
                group, policy, name, k, block_size, group_allowed
            )
            found = local_idx >= 0
            indices[members] = np.where(found, members[np.maximum(local_idx, 0)], -1)
            distances[members] = local_dist
    logger.info(
        "nearest_neighbors: %s users, %s, k=%d, %.2f s",
        f"{n:,}",
        name,
        k,
        time.perf_counter() - started,
    )
    return indices, distances


# -- nearest neighbours ---------------------------------------------------------------------------


def _group_members(groups: Sequence[int] | np.ndarray | None, n: int) -> Iterator[np.ndarray]:
    """Sorted row indices of each group (all rows when there are no groups)."""
    if groups is None:
        yield np.arange(n)
        return
    labels = np.asarray(groups)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(
            f"groups must be an integer label per user, shape ({n},); "
            f"got {labels.dtype} array of shape {labels.shape}"
        )
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    yield from np.split(order, bounds)


def _check_candidates(candidates: Sequence[bool] | np.ndarray | None, n: int) -> np.ndarray | None:
    """The boolean mask of allowed neighbours, or None when every user is allowed."""
    if candidates is None:
        return None
    allowed = np.asarray(candidates)
    if allowed.shape != (n,) or allowed.dtype != np.bool_:
        raise ConfigError(
            f"candidates must be a boolean mask with one value per user, shape ({n},); "
            f"got {allowed.dtype} array of shape {allowed.shape}"
        )
    return None if allowed.all() else allowed


def _group_neighbors(
    group: _Operands,
    policy: _Policy,
    metric: str,
    k: int,
    block_size: int | None,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inside one group, with indices local to the group (``allowed``: the group's mask
    of users who may be chosen; None: all).

    Like :func:`pairwise_distances`, only the blocks on and right of the diagonal are
    computed: each block offers its pairs to the rows of the block and, mirrored, to the rows
    below it, so every pair is computed once and offered to both of its users; a pair whose
    other user is not allowed is offered as an empty slot.
    """
    n = len(group.n_rated)
    nearest = _Nearest(n, k)
    if n < 2 or (allowed is not None and not allowed.any()):
        return nearest.result()
    for start, stop in _blocks(n, n, block_size, symmetric=True):
        right = group.rows(start, n).as_columns()
        tile = _block_distances(group.rows(start, stop), right, policy)[metric]
        keys = _candidate_keys(tile, first_column=start)
        own = np.arange(stop - start)
        keys[own, own] = _NO_CANDIDATE  # a user is never their own neighbour
        mirrored = _candidate_keys(tile[:, stop - start :].T, start)
        if allowed is not None:
            keys[:, ~allowed[start:]] = _NO_CANDIDATE
            mirrored[:, ~allowed[start:stop]] = _NO_CANDIDATE
        nearest.offer(slice(start, stop), keys)
        nearest.offer(slice(stop, n), mirrored)
    return nearest.result()


#: Key of an empty slot: after every candidate (distance +inf, index 2**32 - 1).
_NO_CANDIDATE = np.uint64(0x7F800000_FFFFFFFF)
_INDEX_BITS = np.uint64(32)
_INDEX_MASK = np.uint64(0xFFFFFFFF)


def _candidate_keys(distances: np.ndarray, first_column: int) -> np.ndarray:
    """One uint64 per candidate that sorts by (distance, index): ties go to the smaller index.

    The float32 distance (>= 0, so its bit pattern orders like the number) fills the high
    32 bits, the column index ``first_column + j`` the low 32 bits.
    """
    distances = distances.astype(np.float32) + np.float32(0)  # -0.0 becomes +0.0
    keys = distances.view(np.uint32).astype(np.uint64) << _INDEX_BITS
    keys |= np.arange(first_column, first_column + distances.shape[1], dtype=np.uint64)
    return keys


class _Nearest:
    """The k smallest candidate keys seen so far for each of n rows."""

    def __init__(self, n: int, k: int) -> None:
        self.keys = np.full((n, k), _NO_CANDIDATE, dtype=np.uint64)

    def offer(self, rows: slice, keys: np.ndarray) -> None:
        """Merge new candidates (one row of keys per row in ``rows``) into the k kept."""
        if keys.size == 0:
            return
        k = self.keys.shape[1]
        merged = np.concatenate([self.keys[rows], keys], axis=1)
        self.keys[rows] = np.partition(merged, k - 1, axis=1)[:, :k]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """int64 indices (-1 for an empty slot) and float32 distances (+inf), nearest first."""
        keys = np.sort(self.keys, axis=1)
        distances = (keys >> _INDEX_BITS).astype(np.uint32).view(np.float32)
        indices = (keys & _INDEX_MASK).astype(np.int64)
        indices[keys == _NO_CANDIDATE] = -1
        return indices, distances
