"""User-user distances over co-rated items: masked Euclidean, masked cosine and Jaccard.

With ``lambda`` the 0/1 "rated" mask and sums over items ``k``:

* ``euclidean(u, v) = sqrt(sum_k (R_u(k) - R_v(k))^2 lambda_u(k) lambda_v(k))``
* ``euclidean_rms(u, v)`` = ``euclidean(u, v) / sqrt(c(u, v))``, the root mean square
  difference over the ``c(u, v)`` co-rated items
* ``cosine(u, v) = 1 - sum R_u R_v lambda_u lambda_v / (sqrt(sum R_u^2 lambda_u lambda_v)
  sqrt(sum R_v^2 lambda_u lambda_v))`` (the norms too are over co-rated items only)
* ``jaccard(u, v) = 1 - |phi(u) & phi(v)| / |phi(u) | phi(v)|``

Nothing loops over pairs. With ``S = R∘R`` and ``M`` the mask, every quantity is a sparse
product: ``dot = R·Rᵀ``, the co-rated counts ``C = M·Mᵀ``, ``A = S·Mᵀ`` (the sum of u's
squares over the items v rated; A and C come from one complex product), and then
``euclidean² = A + Aᵀ − 2·dot``, ``cosine = 1 − dot / sqrt(A ∘ Aᵀ)`` and
``jaccard = 1 − C / (n_u + n_v − C)``. The products are taken in row blocks (float64
arithmetic, float32 results), only for the blocks on and right of the diagonal: the dense
matrix mirrors them, the k-nearest search offers each pair to both of its users and keeps
k per user, so its memory stays at one block and never reaches n x n. Popular items (rated
by more than a fifth of the users) go through a dense BLAS product, the long tail through
sparse products, and items rated by a single user are left out (no pair shares them): the
result is the same, only faster.

**Pairs without evidence.** A pair with no co-rated item has no Euclidean or cosine
distance. Such a pair gets the value chosen by ``undefined``: ``"max"`` (default), the largest
value the metric can take on the data (see :func:`largest_distance`), or a fixed number. So a
pair with nothing in common never reads as identical, and no distance is ever NaN or negative.
Pairs with fewer than ``min_overlap`` co-rated items are treated the same way, and ``shrinkage``
(``beta``) pulls the distance of a pair with ``c`` co-rated items toward that value::

    d' = c / (c + beta) * d + beta / (c + beta) * undefined_value

because one or two co-rated items make a distance of 0 cheap (one co-rated item always gives
a cosine distance of 0). The default, ``shrinkage=2`` with ``min_overlap=1``, was chosen by
measurement on 20,000 generated users (heavy-tailed popularity over 68,084 movies, 150..300
ratings each; ``benchmarks/bench_distances.py``, ``docs/distances.md``): without protection
50 % (cosine) and 29 % (Euclidean) of users had all 6 nearest neighbours at distance 0, found
among users sharing 3 movies with them on average; with ``beta = 2`` no user had, neighbours
share 17..24 movies, and the (RMS) Euclidean neighbours rate most like the user of all
candidates tried. A ``min_overlap`` alone needed 10 co-rated movies to do as much and found
neighbours who rate less like the user. ``shrinkage=0, min_overlap=1`` gives the formulas as
the assignment states them. Jaccard needs neither: it is itself a measure of overlap, and a
pair with nothing in common already gets its largest value, 1; it is undefined only for two
users who both have no rating.

A user with no rating is allowed: every Euclidean and cosine distance to them is undefined.
The diagonal is always 0 and the matrices are exactly symmetric.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError, MemoryBudgetError

if TYPE_CHECKING:
    from typing import TypeAlias

    #: What the functions accept as R: a sparse users x items matrix, a dense one, or Ratings.
    RatingsLike: TypeAlias = sp.spmatrix | sp.sparray | np.ndarray | Ratings

logger = logging.getLogger("clusterrec")

#: Metric names accepted by :func:`pairwise_distances` and :func:`nearest_neighbors`.
METRICS = ("euclidean", "euclidean_rms", "cosine", "jaccard")
#: Metrics that are computed over co-rated items only and so can be undefined for a pair.
CO_RATED_METRICS = ("euclidean", "euclidean_rms", "cosine")
#: Named policies for undefined pairs; a finite number >= 0 is accepted too.
UNDEFINED_POLICIES = ("max",)

#: Fewer co-rated items than this make a Euclidean or cosine distance undefined.
DEFAULT_MIN_OVERLAP = 1
#: beta of the shrinkage toward the undefined value (0 switches shrinkage off). Chosen by
#: measurement (docs/distances.md): on 20,000 generated users, without it 50 % (cosine) and
#: 29 % (Euclidean) of users had all 6 nearest neighbours at distance 0, sharing 3 movies on
#: average; with beta = 2 none had, neighbours share 17..24 movies, and their rating biases
#: are the closest to the user's of all candidates for euclidean_rms, second for euclidean.
DEFAULT_SHRINKAGE = 2.0
#: Largest dense result :func:`pairwise_distances` builds, in bytes (4·n² per matrix).
DEFAULT_MEMORY_BUDGET = 2 * 1024**3

#: Working memory one row block aims at, in bytes.
_BLOCK_BYTES = 256 * 1024**2
#: float64 arrays of one block's width alive at once (products and metric arithmetic).
_ARRAYS_PER_BLOCK = 12
#: A symmetric result is computed in at least this many row blocks ...
_SYMMETRIC_BLOCKS = 8
#: ... of at least this many rows.
_MIN_SYMMETRIC_BLOCK = 64
#: Items rated by more than this share of users are multiplied densely (BLAS).
_DENSE_ITEM_SHARE = 0.2
#: At most this many items are multiplied densely.
_MAX_DENSE_ITEMS = 2048


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
    See the module docstring for ``min_overlap``, ``shrinkage`` and ``undefined``.
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


def nearest_neighbors(
    R: RatingsLike,
    metric: str,
    k: int,
    groups: Sequence[int] | np.ndarray | None = None,
    *,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    shrinkage: float = DEFAULT_SHRINKAGE,
    undefined: str | float = "max",
    block_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's ``k`` nearest other users, within the user's group when ``groups`` is given.

    Returns ``(indices, distances)``: int64 (n, k) row indices of ``R`` and float32 (n, k)
    distances, nearest first. A user is never their own neighbour; ties go to the smaller
    index; a user with fewer than ``k`` candidates is padded with index -1 and distance +inf.
    Computed in row blocks: memory stays at one block of rows against the group's users, never
    n x n. The distances are those of :func:`pairwise_distances` with the same options.
    """
    (name,) = _check_metrics(metric)
    k = _check_positive_int(k, "k")
    matrix, spread = as_rating_matrix(R)
    n = matrix.shape[0]
    policy = _Policy.build(matrix, spread, (name,), min_overlap, shrinkage, undefined)
    operands = _Operands.build(matrix, with_values=_needs_values((name,)))
    indices = np.full((n, k), -1, dtype=np.int64)
    distances = np.full((n, k), np.inf, dtype=np.float32)
    started = time.perf_counter()
    with _single_threaded_blas():
        for members in _group_members(groups, n):
            group = operands if len(members) == n else operands.take(members)
            local_idx, local_dist = _group_neighbors(group, policy, name, k, block_size)
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


def dense_bytes(n_users: int, n_matrices: int = 1) -> int:
    """Bytes of ``n_matrices`` dense n x n float32 (or int32) matrices: 4·n² each."""
    return 4 * int(n_users) ** 2 * int(n_matrices)


# -- validation and input -------------------------------------------------------------------------


def _is_sequence(metric: object) -> bool:
    return not isinstance(metric, str)


def _check_metrics(metric: str | Sequence[str]) -> tuple[str, ...]:
    try:
        names = (metric,) if isinstance(metric, str) else tuple(metric)
    except TypeError:
        names = (metric,)
    unknown = [name for name in names if name not in METRICS]
    if not names or unknown:
        raise ConfigError(
            f"metric {unknown[0] if unknown else metric!r} is not known; "
            f"accepted values: {', '.join(METRICS)} (or a sequence of them)"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"metric names repeat in {names!r}; give each metric once")
    return names


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


def _check_budget(n: int, n_matrices: int, budget: int | None, *, what: str) -> None:
    if budget is None:
        return
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise ConfigError(f"memory_budget must be a number of bytes >= 0 or None; got {budget!r}")
    needed = dense_bytes(n, n_matrices)
    if needed > budget:
        raise MemoryBudgetError(
            f"{what} for {n:,} users need {_size(needed)} (4·n² bytes each), more than the "
            f"memory budget of {_size(budget)}; use nearest_neighbors(R, metric, k) for each "
            "user's k nearest users in blocks, or raise memory_budget"
        )


def _size(n_bytes: int) -> str:
    """Bytes in the largest binary unit that keeps the number >= 1: ``1.03 MiB``."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f} {unit}"
    return f"{n_bytes} bytes"


def as_rating_matrix(R: RatingsLike) -> tuple[sp.csr_matrix, float | None]:
    """R as float64 CSR with sorted indices and no stored zeros, and the scale's spread."""
    spread = None
    if isinstance(R, Ratings):
        spread = float(R.scale.high - R.scale.low)
        R = R.matrix()
    if isinstance(R, np.ndarray):
        if R.ndim != 2:
            raise ConfigError(f"R must be 2-D (users x items); got shape {R.shape}")
        R = sp.csr_matrix(R)
    if not sp.issparse(R):
        raise ConfigError(
            f"R must be a scipy sparse users x items matrix, a 2-D numpy array or a Ratings; "
            f"got {type(R).__name__}"
        )
    matrix = sp.csr_matrix(R, dtype=np.float64, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    if not np.isfinite(matrix.data).all():
        raise DataError("R holds NaN or infinite ratings; ratings must be finite numbers")
    return matrix, spread


def _needs_values(metrics: Sequence[str]) -> bool:
    return any(name in CO_RATED_METRICS for name in metrics)


# -- the policy for pairs without evidence --------------------------------------------------------


@dataclass(frozen=True)
class _Policy:
    """Resolved options: which metrics, their undefined values, minimum overlap, shrinkage."""

    metrics: tuple[str, ...]
    undefined: dict[str, float]
    min_overlap: int
    shrinkage: float

    @classmethod
    def build(
        cls,
        matrix: sp.csr_matrix,
        spread: float | None,
        metrics: tuple[str, ...],
        min_overlap: int,
        shrinkage: float,
        undefined: str | float,
    ) -> _Policy:
        min_overlap = _check_positive_int(min_overlap, "min_overlap")
        if isinstance(shrinkage, bool) or not _is_finite_non_negative(shrinkage):
            raise ConfigError(f"shrinkage must be a finite number >= 0; got {shrinkage!r}")
        if isinstance(undefined, str):
            if undefined not in UNDEFINED_POLICIES:
                raise ConfigError(
                    f"undefined={undefined!r} is not known; accepted values: "
                    f"{', '.join(map(repr, UNDEFINED_POLICIES))} or a finite number >= 0"
                )
            values = _largest_values(matrix, spread, metrics)
        elif isinstance(undefined, bool) or not _is_finite_non_negative(undefined):
            raise ConfigError(f"undefined must be 'max' or a finite number >= 0; got {undefined!r}")
        else:
            values = dict.fromkeys(metrics, float(undefined))
        return cls(metrics, values, min_overlap, float(shrinkage))


def _is_finite_non_negative(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and (
        math.isfinite(value) and value >= 0
    )


def _largest_values(
    matrix: sp.csr_matrix, spread: float | None, metrics: Sequence[str]
) -> dict[str, float]:
    """The largest value of each metric on this data (see :func:`largest_distance`)."""
    data = matrix.data
    if spread is None:
        spread = float(data.max() - data.min()) if data.size else 0.0
    spread = spread if spread > 0 else 1.0
    most_ratings = int(np.diff(matrix.indptr).max(initial=0))
    largest = {
        "euclidean": spread * math.sqrt(max(most_ratings, 1)),
        "euclidean_rms": spread,
        "cosine": 1.0 if data.size == 0 or data.min() > 0 else 2.0,
        "jaccard": 1.0,
    }
    return {name: largest[name] for name in metrics}


# -- operands and products ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Operands:
    """R, M and S of some users (rows), split by items into a dense and a sparse part.

    Popular items are held densely (users x few items) and multiplied with BLAS; the long
    tail stays sparse (CSR, the same pattern for the three parts). Without values (Jaccard
    only) just the mask is kept.
    """

    n_rated: np.ndarray
    dense: dict[str, np.ndarray]
    sparse: dict[str, sp.csr_matrix]

    @classmethod
    def build(cls, matrix: sp.csr_matrix, *, with_values: bool) -> _Operands:
        popular, tail_items = _split_items(matrix)
        dense_values = matrix[:, popular].toarray()
        tail = matrix[:, tail_items].tocsr()
        tail.sort_indices()
        dense = {"mask": (dense_values != 0).astype(np.float64)}
        sparse = {"mask": _with_data(tail, np.ones_like(tail.data))}
        if with_values:
            dense |= {"values": dense_values, "squares": dense_values**2}
            sparse |= {"values": tail, "squares": _with_data(tail, tail.data**2)}
        n_rated = np.diff(matrix.indptr).astype(np.float64)
        return cls(n_rated, dense, sparse)

    def take(self, rows: np.ndarray) -> _Operands:
        """The operands of a subset of users (sorted row indices)."""
        return _Operands(
            self.n_rated[rows],
            {name: part[rows] for name, part in self.dense.items()},
            {name: part[rows] for name, part in self.sparse.items()},
        )

    def rows(self, start: int, stop: int) -> _Operands:
        """Users start..stop-1, as views where possible (no copy of the sparse data)."""
        return _Operands(
            self.n_rated[start:stop],
            {name: part[start:stop] for name, part in self.dense.items()},
            {name: _row_range(part, start, stop) for name, part in self.sparse.items()},
        )

    def as_columns(self) -> _Columns:
        """The same users as the right-hand side of products: the tail transposed once.

        The parts share one sparsity pattern, so only R (or M) is transposed; the mask and
        the squares are made from its values.
        """
        base = self.sparse.get("values", self.sparse["mask"]).T.tocsr()
        sparse_t = {"mask": _with_data(base, np.ones_like(base.data))}
        if "values" in self.sparse:
            sparse_t |= {"values": base, "squares": _with_data(base, base.data**2)}
        return _Columns(self.n_rated, self.dense, sparse_t)


@dataclass(frozen=True)
class _Columns:
    """The right-hand side of block products: tail parts transposed to items x users CSR."""

    n_rated: np.ndarray
    dense: dict[str, np.ndarray]
    sparse_t: dict[str, sp.csr_matrix]


def _with_data(pattern: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix((data, pattern.indices, pattern.indptr), shape=pattern.shape)


def _row_range(matrix: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
    """Rows start..stop-1 of a CSR matrix sharing its data (scipy's slicing copies)."""
    first, last = matrix.indptr[start], matrix.indptr[stop]
    return sp.csr_matrix(
        (
            matrix.data[first:last],
            matrix.indices[first:last],
            matrix.indptr[start : stop + 1] - first,
        ),
        shape=(stop - start, matrix.shape[1]),
    )


def _split_items(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Items for the dense product and items for the sparse one, each sorted.

    Dense: items rated by more than ``_DENSE_ITEM_SHARE`` of the users (at most
    ``_MAX_DENSE_ITEMS``, the most popular). Sparse: the other items rated by two users or
    more; an item rated by a single user is co-rated by no pair and is left out.
    """
    counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
    popular = np.flatnonzero(counts > _DENSE_ITEM_SHARE * matrix.shape[0])
    popular = np.sort(popular[np.argsort(-counts[popular], kind="stable")][:_MAX_DENSE_ITEMS])
    shared = counts >= 2
    shared[popular] = False
    return popular, np.flatnonzero(shared)


def _pair_sums(left: _Operands, left_part: str, right: _Columns, right_part: str) -> np.ndarray:
    """float64 (n_left, n_right): ``sum_k left_u(k) right_v(k)`` over all items k."""
    sums = (left.sparse[left_part] @ right.sparse_t[right_part]).toarray()
    left_dense = left.dense[left_part]
    if left_dense.shape[1]:
        sums += left_dense @ right.dense[right_part].T
    return sums


@dataclass(frozen=True)
class _BlockSums:
    """The products for one block of pairs (left users x right users), float64.

    ``overlap`` is C = M·Mᵀ, ``dot`` is R·Rᵀ, ``squares_left`` is S·Mᵀ (u's squares over
    the items v rated) and ``squares_right`` is M·Sᵀ (v's squares over the items u rated).
    """

    overlap: np.ndarray
    n_left: np.ndarray
    n_right: np.ndarray
    dot: np.ndarray | None = None
    squares_left: np.ndarray | None = None
    squares_right: np.ndarray | None = None

    @classmethod
    def compute(cls, left: _Operands, right: _Columns, *, with_values: bool) -> _BlockSums:
        if not with_values:
            return cls(_pair_sums(left, "mask", right, "mask"), left.n_rated, right.n_rated)
        squares_left, overlap = _squares_and_overlap(left, right)
        return cls(
            overlap,
            left.n_rated,
            right.n_rated,
            dot=_pair_sums(left, "values", right, "values"),
            squares_left=squares_left,
            squares_right=_pair_sums(left, "mask", right, "squares"),
        )


def _squares_and_overlap(left: _Operands, right: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """``S·Mᵀ`` and ``M·Mᵀ`` from one sparse product: ``(S + iM)·Mᵀ = S·Mᵀ + i M·Mᵀ``.

    Both share the right operand M; the index work of a sparse product costs far more than
    its arithmetic, so one complex product takes about 60 % of the time of two real ones. The
    parts stay exact: each term is ``s·1 + i·1·1``.
    """
    squares = left.sparse["squares"]
    paired = _with_data(squares, squares.data + 1j)  # the mask's values are all 1
    sums = (paired @ right.sparse_t["mask"]).toarray()
    squares_left, overlap = np.ascontiguousarray(sums.real), np.ascontiguousarray(sums.imag)
    if left.dense["mask"].shape[1]:
        right_mask = right.dense["mask"].T
        squares_left += left.dense["squares"] @ right_mask
        overlap += left.dense["mask"] @ right_mask
    return squares_left, overlap


def _block_distances(left: _Operands, right: _Columns, policy: _Policy) -> dict[str, np.ndarray]:
    """float64 distances of every metric of ``policy`` for a block of pairs."""
    with_values = _needs_values(policy.metrics)
    sums = _BlockSums.compute(left, right, with_values=with_values)
    weight = _evidence_weight(sums.overlap, policy) if with_values else None
    return {name: _distances_from_sums(sums, name, policy, weight) for name in policy.metrics}


def _evidence_weight(overlap: np.ndarray, policy: _Policy) -> np.ndarray:
    """How much a measured distance counts against the undefined value, per pair.

    ``c / (c + beta)`` for a pair with ``c >= min_overlap`` co-rated items, 0 for the others;
    without shrinkage 1 or 0.
    """
    if policy.shrinkage > 0:
        weight = overlap / (overlap + policy.shrinkage)
    else:
        weight = np.ones_like(overlap)
    weight[overlap < policy.min_overlap] = 0.0
    return weight


def _distances_from_sums(
    sums: _BlockSums, metric: str, policy: _Policy, weight: np.ndarray | None
) -> np.ndarray:
    """One metric from the block's products, with the policy for pairs without evidence:
    ``weight * distance + (1 - weight) * undefined_value``."""
    fallback = policy.undefined[metric]
    if metric == "jaccard":
        return _jaccard(sums, fallback)
    distances = _RAW_METRICS[metric](sums)
    distances *= weight
    distances += (1.0 - weight) * fallback
    return distances


def _squared_euclidean(sums: _BlockSums) -> np.ndarray:
    squared = sums.squares_left + sums.squares_right
    squared -= 2.0 * sums.dot
    return np.maximum(squared, 0.0, out=squared)


def _euclidean(sums: _BlockSums) -> np.ndarray:
    return np.sqrt(_squared_euclidean(sums))


def _euclidean_rms(sums: _BlockSums) -> np.ndarray:
    mean = np.divide(
        _squared_euclidean(sums), sums.overlap, out=np.zeros_like(sums.dot), where=sums.overlap > 0
    )
    return np.sqrt(mean, out=mean)


def _cosine(sums: _BlockSums) -> np.ndarray:
    norms = np.sqrt(sums.squares_left * sums.squares_right)
    similarity = np.divide(sums.dot, norms, out=np.zeros_like(norms), where=norms > 0)
    np.clip(similarity, -1.0, 1.0, out=similarity)
    return np.subtract(1.0, similarity, out=similarity)


_RAW_METRICS = {"euclidean": _euclidean, "euclidean_rms": _euclidean_rms, "cosine": _cosine}


def _jaccard(sums: _BlockSums, fallback: float) -> np.ndarray:
    union = sums.n_left[:, None] + sums.n_right[None, :] - sums.overlap
    share = np.divide(sums.overlap, union, out=np.zeros_like(union), where=union > 0)
    return np.where(union > 0, 1.0 - share, fallback)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _single_threaded_blas() -> contextlib.AbstractContextManager:
    """One BLAS thread while blocks are computed.

    The dense products of a block are small and alternate with single-threaded sparse work;
    on a shared machine, waking BLAS threads for each of them made single products vary from
    0.6 ms to 16 ms (measured on 68 x 260 x 1,079), more than the second thread ever gives.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


# -- blocks ---------------------------------------------------------------------------------------


def _blocks(
    n_rows: int, n_columns: int, block_size: int | None, *, symmetric: bool = False
) -> Iterator[tuple[int, int]]:
    """Row ranges [start, stop): explicit ``block_size`` rows, else :func:`_auto_block_size`."""
    if block_size is None:
        block_size = _auto_block_size(n_rows, n_columns, symmetric=symmetric)
    else:
        block_size = _check_positive_int(block_size, "block_size")
    for start in range(0, n_rows, block_size):
        yield start, min(start + block_size, n_rows)


def _auto_block_size(n_rows: int, n_columns: int, *, symmetric: bool) -> int:
    """Rows per block for about ``_BLOCK_BYTES`` of working memory.

    A symmetric result computes only the blocks right of the diagonal, so there it also uses
    at least ``_SYMMETRIC_BLOCKS`` blocks: the fewer rows per block, the closer the work comes
    to half of the full products.
    """
    rows = max(16, _BLOCK_BYTES // (8 * _ARRAYS_PER_BLOCK * max(n_columns, 1)))
    if symmetric:
        rows = min(rows, max(_MIN_SYMMETRIC_BLOCK, -(-n_rows // _SYMMETRIC_BLOCKS)))
    return rows


def _write_symmetric(out: np.ndarray, block: np.ndarray, start: int) -> None:
    """Write the block of rows [start, start+b) x columns [start, n), its mirror image, and 0
    on the diagonal."""
    stop = start + block.shape[0]
    values = block.astype(out.dtype)
    out[start:stop, start:] = values
    out[start:, start:stop] = values.T
    diagonal = np.arange(start, stop)
    out[diagonal, diagonal] = 0


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


def _group_neighbors(
    group: _Operands, policy: _Policy, metric: str, k: int, block_size: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inside one group, with indices local to the group.

    Like :func:`pairwise_distances`, only the blocks on and right of the diagonal are
    computed: each block offers its pairs to the rows of the block and, mirrored, to the rows
    below it, so every pair is computed once and offered to both of its users.
    """
    n = len(group.n_rated)
    nearest = _Nearest(n, k)
    if n < 2:
        return nearest.result()
    for start, stop in _blocks(n, n, block_size, symmetric=True):
        right = group.rows(start, n).as_columns()
        tile = _block_distances(group.rows(start, stop), right, policy)[metric]
        keys = _candidate_keys(tile, first_column=start)
        own = np.arange(stop - start)
        keys[own, own] = _NO_CANDIDATE  # a user is never their own neighbour
        nearest.offer(slice(start, stop), keys)
        nearest.offer(slice(stop, n), _candidate_keys(tile[:, stop - start :].T, start))
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
