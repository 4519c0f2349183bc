"""The one engine of user distances: operands, sparse products in row blocks, the metric formulas
and the policy for pairs without evidence.

Every distance in clusterrec (users x users, users x centroids and medoids, top-k neighbours)
and the baselines' Pearson similarities are computed from the products built here, with one
policy (:class:`_Policy`), one set of sums (:class:`_BlockSums`) and one set of formulas; see
:mod:`clusterrec.distances` for the formulas. The variants are parameters: operands without
the dense part (``split_items=False``: users x centres, where the right side is not the same
users, and ratings whose stored zeros count as rated), a formula that is a similarity
(``"cosine_similarity"``, undefined value 0), a diagonal kept instead of zeroed.
"""

from __future__ import annotations

import contextlib
import functools
import math
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

__all__ = [
    "CO_RATED_METRICS",
    "DEFAULT_MEMORY_BUDGET",
    "DEFAULT_MIN_OVERLAP",
    "DEFAULT_SHRINKAGE",
    "MEASURED_SHRINKAGE",
    "METRICS",
    "UNDEFINED_POLICIES",
    "as_rating_matrix",
    "dense_bytes",
]


#: Metric names accepted by :func:`pairwise_distances` and :func:`nearest_neighbors`.
METRICS = ("euclidean", "euclidean_rms", "cosine", "jaccard")
#: Metrics that are computed over co-rated items only and so can be undefined for a pair.
CO_RATED_METRICS = ("euclidean", "euclidean_rms", "cosine")
#: Named policies for undefined pairs; a finite number >= 0 is accepted too.
UNDEFINED_POLICIES = ("max",)

#: Fewer co-rated items than this make a Euclidean or cosine distance undefined.
DEFAULT_MIN_OVERLAP = 1
#: beta of the shrinkage toward the undefined value by default: 0, no shrinkage, so that the
#: functions compute the assignment's formulas as they are stated.
DEFAULT_SHRINKAGE = 0.0
#: The beta the run uses (``[distances] shrinkage`` of the run configuration, the ``clusterrec
#: cluster`` command), chosen by measurement (docs/distances.md): on 20,000 generated users,
#: without shrinkage 50 % (cosine) and 29 % (Euclidean) of users had all 6 nearest neighbours
#: at distance 0, sharing 3 movies on average; with beta = 2 none had, neighbours share 17..24
#: movies, and their rating biases are the closest to the user's of all candidates for
#: euclidean_rms, second for euclidean. Pass it as ``shrinkage=MEASURED_SHRINKAGE``.
MEASURED_SHRINKAGE = 2.0
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


# -- validation and input -------------------------------------------------------------------------


def dense_bytes(n_users: int, n_matrices: int = 1) -> int:
    """Bytes of ``n_matrices`` dense n x n float32 (or int32) matrices: 4·n² each."""
    return 4 * int(n_users) ** 2 * int(n_matrices)


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


#: What a refused dense distance matrix suggests instead.
_TOP_K_INSTEAD = (
    "use nearest_neighbors(R, metric, k) for each user's k nearest users in blocks, "
    "or raise memory_budget"
)


def _check_budget_value(budget: object) -> None:
    """``memory_budget`` is None or a whole number of bytes >= 0, else a ConfigError."""
    if budget is None:
        return
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise ConfigError(f"memory_budget must be a number of bytes >= 0 or None; got {budget!r}")


def _check_budget(
    n: int, n_matrices: int, budget: int | None, *, what: str, instead: str = _TOP_K_INSTEAD
) -> None:
    _check_budget_value(budget)
    if budget is None:
        return
    needed = dense_bytes(n, n_matrices)
    if needed > budget:
        raise MemoryBudgetError(
            f"{what} for {n:,} users need {_size(needed)} (4·n² bytes each), more than the "
            f"memory budget of {_size(budget)}; {instead}"
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
    """Whether any formula needs the ratings, not only the mask (all but Jaccard do)."""
    return any(name in _FORMULAS for name in metrics)


# -- the policy for pairs without evidence --------------------------------------------------------


@dataclass(frozen=True)
class _Policy:
    """Resolved options: which metrics, their undefined values, minimum overlap, shrinkage.

    A pair with ``c`` co-rated items gets ``w * value + (1 - w) * undefined`` with
    ``w = c / (c + shrinkage)`` (1 without shrinkage) and ``w = 0`` below ``min_overlap``.
    ``metrics`` may also name the internal formula ``"cosine_similarity"`` (the Pearson
    similarities of the baselines, with ``undefined=0``).
    """

    metrics: tuple[str, ...]
    undefined: dict[str, float]
    min_overlap: int
    shrinkage: float

    @property
    def metric(self) -> str:
        """The metric of a single-metric policy (users x centres)."""
        (name,) = self.metrics
        return name

    @property
    def fallback(self) -> float:
        """The undefined value of a single-metric policy."""
        return self.undefined[self.metric]

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

    ``split_items=False`` keeps every item in the sparse part (no dense part, no item left
    out): for products with other rows than these users' own (users x centres, where an item
    one user rated may be covered by a centre) and for values whose stored zeros count as
    rated (centred ratings). The sums then come from the sparse products alone.
    """

    n_rated: np.ndarray
    dense: dict[str, np.ndarray]
    sparse: dict[str, sp.csr_matrix]

    @classmethod
    def build(
        cls, matrix: sp.csr_matrix, *, with_values: bool, split_items: bool = True
    ) -> _Operands:
        """``matrix``: float64 CSR with sorted indices (as from :func:`as_rating_matrix`)."""
        if split_items:
            popular, tail_items = _split_items(matrix)
            dense_values = matrix[:, popular].toarray()
            tail = matrix[:, tail_items].tocsr()
            tail.sort_indices()
        else:
            dense_values = np.empty((matrix.shape[0], 0))
            tail = matrix
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
    n_left: np.ndarray | None = None
    n_right: np.ndarray | None = None
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


def _block_sums(left: _Operands, right: _Columns, policy: _Policy) -> _BlockSums:
    """The products the metrics of ``policy`` need, for a block of pairs."""
    return _BlockSums.compute(left, right, with_values=_needs_values(policy.metrics))


def _distances(sums: _BlockSums, policy: _Policy) -> dict[str, np.ndarray]:
    """float64 values of every metric of ``policy`` from the sums of a block of pairs."""
    weight = _evidence_weight(sums.overlap, policy) if sums.dot is not None else None
    return {name: _distances_from_sums(sums, name, policy, weight) for name in policy.metrics}


def _block_distances(left: _Operands, right: _Columns, policy: _Policy) -> dict[str, np.ndarray]:
    """float64 distances of every metric of ``policy`` for a block of pairs."""
    return _distances(_block_sums(left, right, policy), policy)


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
    distances = _FORMULAS[metric](sums)
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


def _cosine_similarity(sums: _BlockSums) -> np.ndarray:
    """``dot / sqrt(squares_left * squares_right)`` over co-rated items, in [-1, 1]; 0 where
    either side's squares are 0. On ratings centred on each user's mean: Pearson's r."""
    norms = np.sqrt(sums.squares_left * sums.squares_right)
    similarity = np.divide(sums.dot, norms, out=np.zeros_like(norms), where=norms > 0)
    return np.clip(similarity, -1.0, 1.0, out=similarity)


def _cosine(sums: _BlockSums) -> np.ndarray:
    similarity = _cosine_similarity(sums)
    return np.subtract(1.0, similarity, out=similarity)


#: The formulas over co-rated items, by name: the co-rated metrics and one similarity.
_FORMULAS = {
    "euclidean": _euclidean,
    "euclidean_rms": _euclidean_rms,
    "cosine": _cosine,
    "cosine_similarity": _cosine_similarity,
}


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


def _write_symmetric(
    out: np.ndarray, block: np.ndarray, start: int, *, zero_diagonal: bool = True
) -> None:
    """Write the block of rows [start, start+b) x columns [start, n), its mirror image, and 0
    on the diagonal (``zero_diagonal=False``: the block's own values there)."""
    stop = start + block.shape[0]
    values = block.astype(out.dtype)
    out[start:stop, start:] = values
    out[start:, start:stop] = values.T
    if zero_diagonal:
        diagonal = np.arange(start, stop)
        out[diagonal, diagonal] = 0
