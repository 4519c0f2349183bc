"""Each user's k nearest users in row blocks, never holding n x n (optionally within groups,
optionally among allowed candidates); for Jaccard, from the item -> raters inverted index."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from clusterrec.distances.engine import (
    _ARRAYS_PER_BLOCK,
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
from clusterrec.errors import ConfigError, MemoryBudgetError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "NEIGHBOR_METHODS",
    "nearest_neighbors",
]

#: Accepted ``method`` values of :func:`nearest_neighbors`.
NEIGHBOR_METHODS = ("auto", "blocked", "inverted")
#: ``method="auto"`` takes the inverted index (Jaccard) from this many users on: below it the
#: blocked search takes milliseconds and the first call needs no compilation.
_INVERTED_MIN_USERS = 4096
#: Metrics the inverted index computes (the masked ones only when asked: their sums come in
#: another order than the blocks', so with ratings off a grid the last bits may differ).
_INVERTED_METRICS = ("jaccard", "euclidean", "euclidean_rms", "cosine")

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
    method: str = "auto",
    memory_budget: int | None = None,
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

    ``method``: ``"blocked"`` computes row blocks against all of the group's users
    (O(n²) pairs); ``"inverted"`` counts each user's shared movies over the raters of their
    own movies (O(sum over movies of raters²), numba, every core numba is allowed:
    ``NUMBA_NUM_THREADS`` or ``numba.set_num_threads``), the only one that reaches millions
    of users; ``"auto"`` (default) takes the inverted index for Jaccard from 4,096 users on
    when it does less work, else the blocks. Both give identical results for Jaccard; the
    masked metrics go through the index only when asked (identical on integer and half-star
    ratings, else up to the last bits of float rounding, the sums running in another order).
    ``memory_budget``: bytes of working memory beyond the input and the result (12·n·k
    bytes); it sets the block size (and, inverted, the threads), and a search that cannot
    fit even one row raises :class:`MemoryBudgetError`. None: blocks of about 256 MiB
    (blocked) or 65,536 users (inverted).
    """
    (name,) = _check_metrics(metric)
    k = _check_positive_int(k, "k")
    if method not in NEIGHBOR_METHODS:
        raise ConfigError(
            f"method={method!r} is not known; accepted values: {', '.join(NEIGHBOR_METHODS)}"
        )
    if method == "inverted" and name not in _INVERTED_METRICS:
        raise ConfigError(
            f'method="inverted" computes {", ".join(_INVERTED_METRICS)}; got metric={name!r} '
            f'(use method="blocked" or "auto")'
        )
    _check_memory_budget(memory_budget)
    matrix, spread = as_rating_matrix(R)
    n = matrix.shape[0]
    allowed = _check_candidates(candidates, n)
    policy = _Policy.build(matrix, spread, (name,), min_overlap, shrinkage, undefined)
    if _use_inverted(method, name, matrix, groups, allowed):
        return _inverted_neighbors(matrix, policy, k, groups, allowed, memory_budget)
    operands = _Operands.build(matrix, with_values=_needs_values((name,)))
    indices = np.full((n, k), -1, dtype=np.int64)
    distances = np.full((n, k), np.inf, dtype=np.float32)
    started = time.perf_counter()
    with _single_threaded_blas():
        for members in _group_members(groups, n):
            group = operands if len(members) == n else operands.take(members)
            group_allowed = None if allowed is None else allowed[members]
            group_block = _budget_block_size(block_size, memory_budget, len(members))
            local_idx, local_dist = _group_neighbors(
                group, policy, name, k, group_block, group_allowed
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


# -- the inverted index (Jaccard) -----------------------------------------------------------------


def _check_memory_budget(memory_budget: object) -> None:
    if memory_budget is not None and (
        isinstance(memory_budget, bool)
        or not isinstance(memory_budget, int | np.integer)
        or memory_budget < 1
    ):
        raise ConfigError(
            f"memory_budget must be a number of bytes >= 1 or None; got {memory_budget!r}"
        )


def _budget_block_size(block_size: int | None, memory_budget: int | None, n: int) -> int | None:
    """Rows per block of the blocked search: as given, else what the budget allows."""
    if block_size is not None or memory_budget is None:
        return block_size
    per_row = 8 * _ARRAYS_PER_BLOCK * max(n, 1)
    if memory_budget < per_row:
        raise MemoryBudgetError(
            f"nearest_neighbors (blocked, a group of {n:,} users) needs {per_row:,} bytes of "
            f"working memory for one row, more than memory_budget={int(memory_budget):,}; "
            f'raise memory_budget, or for Jaccard use method="inverted"'
        )
    return max(1, min(n, int(memory_budget) // per_row))


def _use_inverted(
    method: str,
    metric: str,
    matrix: sp.csr_matrix,
    groups: Sequence[int] | np.ndarray | None,
    allowed: np.ndarray | None,
) -> bool:
    """Whether to search through the inverted index: asked for, or (auto) Jaccard on enough
    users where the pairs sharing a movie are fewer than half of all pairs."""
    if method != "auto":
        return method == "inverted"
    n = matrix.shape[0]
    if metric != "jaccard" or n < _INVERTED_MIN_USERS:
        return False
    from clusterrec.distances.inverted import pair_work

    if groups is None:
        all_pairs = n * n
    else:
        sizes = np.unique(np.asarray(groups), return_counts=True)[1].astype(np.int64)
        all_pairs = int(sizes @ sizes)
    return pair_work(matrix, allowed) < all_pairs // 2


def _inverted_neighbors(
    matrix: sp.csr_matrix,
    policy: _Policy,
    k: int,
    groups: Sequence[int] | np.ndarray | None,
    allowed: np.ndarray | None,
    memory_budget: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """nearest_neighbors through the inverted index, group by group."""
    from clusterrec.distances.inverted import top_k

    n = matrix.shape[0]
    indices = distances = None
    started = time.perf_counter()
    for members in _group_members(groups, n):
        whole = len(members) == n
        local_idx, local_dist = top_k(
            matrix if whole else matrix[members],
            k,
            None if allowed is None else allowed[members],
            policy.metric,
            policy.fallback,
            min_overlap=policy.min_overlap,
            shrinkage=policy.shrinkage,
            memory_budget=memory_budget,
        )
        if whole:
            indices, distances = local_idx, local_dist
            break
        if indices is None:
            indices = np.full((n, k), -1, dtype=np.int64)
            distances = np.full((n, k), np.inf, dtype=np.float32)
        found = local_idx >= 0
        indices[members] = np.where(found, members[np.maximum(local_idx, 0)], -1)
        distances[members] = local_dist
    if indices is None:  # no users at all
        indices, distances = np.full((n, k), -1, np.int64), np.full((n, k), np.inf, np.float32)
    logger.info(
        "nearest_neighbors (inverted index): %s users, %s, k=%d, %.2f s",
        f"{n:,}",
        policy.metric,
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
        return _keys_to_result(np.sort(self.keys, axis=1))


def _keys_to_result(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys as int64 indices (-1 for an empty slot) and float32 distances (+inf)."""
    distances = (keys >> _INDEX_BITS).astype(np.uint32).view(np.float32)
    indices = (keys & _INDEX_MASK).astype(np.int64)
    indices[keys == _NO_CANDIDATE] = -1
    return indices, distances
