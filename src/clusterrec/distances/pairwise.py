"""Dense n x n results within a memory budget: distances, co-rated counts, the largest value."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from clusterrec.distances.engine import (
    DEFAULT_MEMORY_BUDGET,
    DEFAULT_MIN_OVERLAP,
    DEFAULT_SHRINKAGE,
    _block_distances,
    _blocks,
    _check_budget,
    _check_metrics,
    _is_sequence,
    _largest_values,
    _needs_values,
    _Operands,
    _pair_sums,
    _Policy,
    _single_threaded_blas,
    _write_symmetric,
    as_rating_matrix,
)

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "co_rated_counts",
    "largest_distance",
    "pairwise_distances",
]

logger = logging.getLogger("clusterrec")


# -- public API -----------------------------------------------------------------------------------


def pairwise_distances(
    R: RatingsLike,
    metric: str | Sequence[str],
    *,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    shrinkage: float = DEFAULT_SHRINKAGE,
    undefined: str | float = "max",
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    block_size: int | None = None,
) -> np.ndarray | dict[str, np.ndarray]:
    """The dense n x n float32 distance matrix between the users (rows) of ``R``.

    ``R`` is a users x items sparse matrix (an absent entry means "not rated") or a
    :class:`~clusterrec.data.Ratings`. ``metric`` is one of :data:`METRICS`, or a sequence of
    them: then a dict metric -> matrix is returned and the sparse products are shared.

    Refused with :class:`MemoryBudgetError` when the matrices (4·n² bytes each) exceed
    ``memory_budget`` bytes (None: no limit); :func:`nearest_neighbors` needs no n x n matrix.
    See the module docstring for ``min_overlap``, ``shrinkage`` and ``undefined``: by default
    the assignment's formulas as stated (``shrinkage=0``); the run passes
    ``shrinkage=MEASURED_SHRINKAGE``.
    """
    metrics = _check_metrics(metric)
    matrix, spread = as_rating_matrix(R)
    n = matrix.shape[0]
    _check_budget(n, len(metrics), memory_budget, what=f"{len(metrics)} distance matrices")
    policy = _Policy.build(matrix, spread, metrics, min_overlap, shrinkage, undefined)
    operands = _Operands.build(matrix, with_values=_needs_values(metrics))
    started = time.perf_counter()
    out = {name: np.empty((n, n), dtype=np.float32) for name in metrics}
    with _single_threaded_blas():
        for start, stop in _blocks(n, n, block_size, symmetric=True):
            right = operands.rows(start, n).as_columns()
            block = _block_distances(operands.rows(start, stop), right, policy)
            for name in metrics:
                _write_symmetric(out[name], block[name], start)
    logger.info(
        "pairwise_distances: %s users, %s, %.2f s",
        f"{n:,}",
        ", ".join(metrics),
        time.perf_counter() - started,
    )
    return out if _is_sequence(metric) else out[metrics[0]]


def co_rated_counts(
    R: RatingsLike,
    *,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    block_size: int | None = None,
) -> np.ndarray:
    """The n x n int32 matrix of co-rated item counts ``|phi(u) & phi(v)|`` (``M·Mᵀ``).

    The diagonal holds each user's number of ratings. Refused beyond ``memory_budget`` bytes
    (4·n²) like :func:`pairwise_distances`.
    """
    matrix, _ = as_rating_matrix(R)
    n = matrix.shape[0]
    _check_budget(n, 1, memory_budget, what="the co-rated counts matrix")
    operands = _Operands.build(matrix, with_values=False)
    out = np.empty((n, n), dtype=np.int32)
    with _single_threaded_blas():
        for start, stop in _blocks(n, n, block_size, symmetric=True):
            right = operands.rows(start, n).as_columns()
            counts = _pair_sums(operands.rows(start, stop), "mask", right, "mask")
            _write_symmetric(out, np.rint(counts), start)
    out[np.diag_indices(n)] = operands.n_rated
    return out


def largest_distance(R: RatingsLike, metric: str) -> float:
    """The value ``undefined="max"`` gives: the largest distance ``metric`` can take on ``R``.

    * cosine: 1 when every rating is positive (as on every rating scale here: 0 means "not
      rated"), since the co-rated cosine similarity is then >= 0; 2 otherwise.
    * jaccard: 1.
    * euclidean_rms: the rating spread ``high - low`` (the scale of a
      :class:`~clusterrec.data.Ratings`, else the lowest and highest rating in ``R``).
    * euclidean: ``spread * sqrt(most ratings of any user)``: no pair can be farther, since
      it has at most that many co-rated items, each differing by at most the spread.

    A spread of 0 (every rating equal) counts as 1, so an undefined pair is never at 0.
    """
    (name,) = _check_metrics(metric)
    matrix, spread = as_rating_matrix(R)
    return _largest_values(matrix, spread, (name,))[name]
