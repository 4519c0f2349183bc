"""Neighbour features of the hybrid model, from training ratings only (NumPy and SciPy).

For a (user u, movie i) pair: u's nearest users inside u's cluster by Jaccard similarity of the
rated sets and what they did with i, and u's own ratings of the movies most similar to i
(shrunk pearson_baseline), both baseline-adjusted, with similarities, counts and summaries.
Training pairs get them out of fold (:func:`out_of_fold_features`): each part of the training
ratings from an index built on the other parts, so neither a neighbour's selection nor its
values ever see the target rating. See :mod:`clusterrec.models.cluster_hybrid`.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import scipy.sparse as sp

from clusterrec.distances.inverted import replace_heap_top
from clusterrec.models.baselines import fit_bias_arrays

FloatArray = np.ndarray
IntArray = np.ndarray

#: Square similarity matrices up to this many rows are densified for fast slicing (4 bytes
#: per entry: 12000 rows are 576 MB); larger ones are sliced as sparse matrices (slower).
DENSE_SIMILARITY_LIMIT = 12000
#: Similarities kept per row above that limit (``max_similar`` of the core): each user's M
#: most similar users of the cluster, each item's M most similar items. Measured on
#: MovieLens-100K with the bounded form forced (benchmarks/results/hybrid_scaling.md).
DEFAULT_MAX_SIMILAR = 200


# --------------------------------------------------------------------------- baselines
def fit_biases(
    users: IntArray, items: IntArray, ratings: FloatArray, n_users: int, n_items: int
) -> tuple[float, FloatArray, FloatArray]:
    """``mu`` and the regularised biases of these ratings (`BiasBaseline`'s ALS, Surprise's
    defaults), for the fallback prediction, the logit offset and centring the neighbours."""
    mu = float(ratings.mean()) if len(ratings) else 0.0
    b_u, b_i = fit_bias_arrays(users, items, ratings - mu, n_users, n_items)
    return mu, b_u, b_i


# --------------------------------------------------------------------------- sparse helpers
def _csr(
    rows: IntArray, cols: IntArray, values: FloatArray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """A CSR matrix whose structure is exactly the given entries (zeros kept, sorted)."""
    keys = rows.astype(np.int64) * shape[1] + cols
    order = (
        np.arange(len(keys)) if np.all(keys[1:] >= keys[:-1]) else np.argsort(keys, kind="stable")
    )
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))])
    return sp.csr_matrix(
        (values[order].astype(np.float32), cols[order].astype(np.int32), indptr), shape=shape
    )


def _row_major_keys(m: sp.csr_matrix) -> IntArray:
    """``row * n_cols + col`` of each stored entry of a CSR matrix with sorted indices."""
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return rows * m.shape[1] + m.indices


def _values_on(pattern: sp.csr_matrix, m: sp.spmatrix) -> FloatArray:
    """Values of ``m`` at the stored entries of ``pattern`` (0 where ``m`` has none).

    Both are in sorted row-major order, so the binary searches walk memory in order."""
    m = sp.csr_matrix(m)
    m.sort_indices()
    keys = _row_major_keys(m)
    want = _row_major_keys(pattern)
    out = np.zeros(len(want))
    if len(keys):
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        hit = keys[pos] == want
        out[hit] = m.data[pos[hit]]
    return out


def jaccard_similarity(binary: sp.csr_matrix, labels: IntArray) -> sp.csr_matrix:
    """User x user Jaccard similarity of rated sets, kept only inside each cluster, no diagonal."""
    inter = (binary @ binary.T).tocoo()
    sizes = np.asarray(binary.sum(axis=1)).ravel()
    keep = (labels[inter.row] == labels[inter.col]) & (inter.row != inter.col)
    r, c, v = inter.row[keep], inter.col[keep], inter.data[keep]
    sim = v / (sizes[r] + sizes[c] - v)
    return _csr(r, c, sim, inter.shape)


def _sorted_csr(m: sp.spmatrix) -> sp.csr_matrix:
    """CSR with sorted column indices (in place, in C)."""
    m = sp.csr_matrix(m)
    m.sort_indices()
    return m


def _aligned(pattern: sp.csr_matrix, m: sp.spmatrix) -> FloatArray:
    """Values of ``m`` on ``pattern``'s entries. Sparse products of matrices with the same
    structures come out with the same (unsorted) entry order, so the data is used directly
    when the structures agree (the usual case); otherwise (an exact cancellation dropped an
    entry) both are sorted and matched by binary search."""
    m = sp.csr_matrix(m)
    if (
        m.nnz == pattern.nnz
        and np.array_equal(m.indptr, pattern.indptr)
        and np.array_equal(m.indices, pattern.indices)
    ):
        return m.data.astype(np.float64)
    p = pattern.copy()
    order = _sort_order(p)
    p.sort_indices()
    out = np.empty(p.nnz)
    out[order] = _values_on(p, _sorted_csr(m))
    return out


def _sort_order(m: sp.csr_matrix) -> IntArray:
    """Positions of the entries of ``m`` in row-major sorted order."""
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return np.argsort(rows * m.shape[1] + m.indices, kind="stable")


def pearson_baseline_similarity(
    resid_ui: sp.csr_matrix, resid_iu: sp.csr_matrix, shrink: float
) -> sp.csr_matrix:
    """Item x item shrunk Pearson correlation of baseline residuals over common raters.

    ``sum e_ui e_uj / sqrt(sum e_ui^2 sum e_uj^2) * (n_ij - 1) / (n_ij - 1 + shrink)``, the
    sums over users who rated both (Surprise's ``pearson_baseline``). Pairs with one common
    rater have similarity 0 and are not stored. ``resid_iu`` is ``resid_ui`` transposed, as
    CSR (all four products are CSR x CSR, with no format conversions).
    """
    bin_ui, bin_iu = resid_ui.copy(), resid_iu.copy()
    bin_ui.data[:] = 1.0
    bin_iu.data[:] = 1.0
    sq_ui, sq_iu = resid_ui.multiply(resid_ui).tocsr(), resid_iu.multiply(resid_iu).tocsr()
    pattern = sp.csr_matrix(bin_iu @ bin_ui)  # full co-rating pattern (counts never cancel)
    num = _aligned(pattern, resid_iu @ resid_ui)
    d_ij = _aligned(pattern, sq_iu @ bin_ui)  # [i, j] = sum over common raters of e_ui^2
    d_ji = _aligned(pattern, bin_iu @ sq_ui)  # [i, j] = sum over common raters of e_uj^2
    n = pattern.data.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sim = np.where(d_ij * d_ji > 0, num / np.sqrt(d_ij * d_ji), 0.0)
    sim *= (n - 1) / (n - 1 + shrink)
    rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    keep = (rows != pattern.indices) & (sim != 0)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=pattern.shape[0]))])
    # rows stay grouped, so this is valid CSR (column order within a row is unsorted)
    return sp.csr_matrix(
        (sim[keep].astype(np.float32), pattern.indices[keep], indptr), shape=pattern.shape
    )


# --------------------------------------------------------------------------- dense (exact)
def _dense_rows(n: int) -> int:
    """Rows per block of a dense n x n build: about 64 MiB per float64 temporary."""
    return max(1, min(n, (64 * 1024**2) // (8 * max(n, 1))))


def dense_jaccard(binary: sp.csr_matrix, labels: IntArray) -> FloatArray:
    """:func:`jaccard_similarity` as a dense float32 n x n, built in row blocks (never the
    whole sparse product): the same numbers, bit for bit."""
    n = binary.shape[0]
    sizes = np.asarray(binary.sum(axis=1)).ravel()
    binary_t = sp.csr_matrix(binary.T)
    out = np.zeros((n, n), np.float32)
    step = _dense_rows(n)
    for start in range(0, n, step):
        stop = min(start + step, n)
        inter = (binary[start:stop] @ binary_t).toarray()
        keep = (inter > 0) & (labels[start:stop, None] == labels[None, :])
        keep[np.arange(stop - start), np.arange(start, stop)] = False
        union = sizes[start:stop, None] + sizes[None, :] - inter
        out[start:stop] = np.where(keep, inter / np.where(keep, union, 1), 0)
    return out


def _residual_operands(
    resid_ui: sp.csr_matrix, resid_iu: sp.csr_matrix
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Binary and squared forms of the residual matrices (the operands of the four sums)."""
    bin_ui, bin_iu = resid_ui.copy(), resid_iu.copy()
    bin_ui.data[:] = 1.0
    bin_iu.data[:] = 1.0
    sq_ui, sq_iu = resid_ui.multiply(resid_ui).tocsr(), resid_iu.multiply(resid_iu).tocsr()
    return bin_ui, bin_iu, sq_ui, sq_iu


def dense_pearson_baseline(
    resid_ui: sp.csr_matrix, resid_iu: sp.csr_matrix, shrink: float
) -> FloatArray:
    """:func:`pearson_baseline_similarity` as a dense float32 n x n, built in row blocks of
    items (never the four whole sparse products): the same numbers, bit for bit (a row's
    sparse product does not depend on the other rows)."""
    n = resid_iu.shape[0]
    bin_ui, bin_iu, sq_ui, sq_iu = _residual_operands(resid_ui, resid_iu)
    out = np.zeros((n, n), np.float32)
    step = _dense_rows(n)
    for start in range(0, n, step):
        stop = min(start + step, n)
        # the arithmetic on the block's co-rated pairs only (a pair without a common rater
        # is 0), then scattered into the dense rows
        pattern = sp.csr_matrix(bin_iu[start:stop] @ bin_ui)
        count = pattern.data.astype(np.float64)
        num = _aligned(pattern, resid_iu[start:stop] @ resid_ui)
        d_ij = _aligned(pattern, sq_iu[start:stop] @ bin_ui)
        d_ji = _aligned(pattern, bin_iu[start:stop] @ sq_ui)
        prod = d_ij * d_ji
        ok = (prod > 0) & (count > 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sim = np.where(ok, num / np.sqrt(prod), 0.0)
            sim *= np.where(ok, (count - 1) / (count - 1 + shrink), 0.0)
        rows = np.repeat(np.arange(stop - start), np.diff(pattern.indptr))
        out[start + rows, pattern.indices] = sim
        out[np.arange(start, stop), np.arange(start, stop)] = 0.0
    return out


# --------------------------------------------------------------------------- pruned (top-M)
#: Empty slot of a top-M heap: after every key.
_EMPTY_KEY = np.uint64(0xFFFFFFFF_FFFFFFFF)


@dataclasses.dataclass(frozen=True)
class PrunedRows:
    """Each row's M largest similarities, as CSR arrays in *rank order* within a row (largest
    similarity first, ties to the smaller column); zeros are never stored."""

    indptr: IntArray  # int64 (n + 1)
    indices: IntArray  # int32
    data: FloatArray  # float32
    n_cols: int

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.indptr) - 1, self.n_cols)

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.indices.nbytes + self.data.nbytes

    def to_csr(self) -> sp.csr_matrix:
        """As a SciPy matrix (columns sorted), for tests and inspection."""
        m = sp.csr_matrix(
            (self.data.copy(), self.indices.copy(), self.indptr.copy()), shape=self.shape
        )
        return _sorted_csr(m)  # sorts in place: hence the copies

    @classmethod
    def from_top(cls, cols: IntArray, sims: FloatArray, n_cols: int) -> PrunedRows:
        """From (n, M) columns and similarities in rank order, -1 / 0 marking empty slots."""
        keep = (cols >= 0) & (sims != 0)
        indptr = np.zeros(cols.shape[0] + 1, np.int64)
        np.cumsum(keep.sum(axis=1), out=indptr[1:])
        return cls(indptr, cols[keep].astype(np.int32), sims[keep].astype(np.float32), n_cols)


def pruned_jaccard(binary: sp.csr_matrix, labels: IntArray, m: int) -> PrunedRows:
    """Each user's ``m`` most similar other users of the same cluster by Jaccard similarity,
    pairs sharing no movie left out: the exact top-m of the distance engine
    (:func:`clusterrec.distances.nearest_neighbors`, in blocks or through the inverted
    index; ties to the smaller index), never an n x n matrix."""
    from clusterrec.distances.neighbors import nearest_neighbors

    n = binary.shape[0]
    m = max(1, min(m, n - 1)) if n > 1 else 1
    idx, dist = nearest_neighbors(binary, "jaccard", m, groups=np.asarray(labels, np.int64))
    sims = np.where((idx >= 0) & (dist < 1), np.float32(1) - dist, np.float32(0))
    return PrunedRows.from_top(idx, sims.astype(np.float32), binary.shape[0])


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _descending_key(value: np.float32, col: np.int64) -> np.uint64:
    """A uint64 that sorts ascending by (value descending, col ascending)."""
    bits = np.uint64(np.float32(-value).view(np.uint32))
    if bits & np.uint64(0x80000000):
        bits = ~bits & np.uint64(0xFFFFFFFF)
    else:
        bits = bits | np.uint64(0x80000000)
    return (bits << np.uint64(32)) | np.uint64(col)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _pearson_value(num: float, d_ij: float, d_ji: float, count: int, shrink: float) -> float:
    prod = d_ij * d_ji
    if count < 2 or not prod > 0:
        return 0.0
    return num / np.sqrt(prod) * ((count - 1) / (count - 1 + shrink))


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _pearson_row(
    i, iu_indptr, iu_indices, iu_data, ui_indptr, ui_indices, ui_data, shrink, original,
    position, acc, count, touched, heap, out_cols, out_sims,
):  # fmt: skip
    """Row i's top-M shrunk pearson_baseline similarities into out_cols / out_sims (rank
    order); returns how many. ``ui_indices`` are item *positions* (hottest first, so the
    accumulators nearly every row touches share the cache), ``original[position]`` the
    item; keys and output carry the items. Accumulators are left zero."""
    n_touched = 0
    for p in range(iu_indptr[i], iu_indptr[i + 1]):
        u = iu_indices[p]
        e = np.float64(iu_data[p])
        for q in range(ui_indptr[u], ui_indptr[u + 1]):
            j = ui_indices[q]
            f = np.float64(ui_data[q])
            if count[j] == 0:
                touched[n_touched] = j
                n_touched += 1
            count[j] += 1
            acc[j, 0] += e * f
            acc[j, 1] += e * e
            acc[j, 2] += f * f
    for t in range(heap.shape[0]):
        heap[t] = np.uint64(0xFFFFFFFF_FFFFFFFF)
    for t in range(n_touched):
        j = touched[t]
        if original[j] == i:
            continue
        s = np.float32(_pearson_value(acc[j, 0], acc[j, 1], acc[j, 2], count[j], shrink))
        if s == 0:
            continue
        key = _descending_key(s, original[j])
        if key < heap[0]:
            replace_heap_top(heap, key)
    heap.sort()
    kept = 0
    for t in range(heap.shape[0]):
        if heap[t] == np.uint64(0xFFFFFFFF_FFFFFFFF):
            break
        item = np.int64(heap[t] & np.uint64(0xFFFFFFFF))
        j = position[item]
        out_cols[kept] = item
        out_sims[kept] = np.float32(
            _pearson_value(acc[j, 0], acc[j, 1], acc[j, 2], count[j], shrink)
        )
        kept += 1
    for t in range(n_touched):
        j = touched[t]
        count[j] = 0
        acc[j, 0] = 0.0
        acc[j, 1] = 0.0
        acc[j, 2] = 0.0
    return kept


@numba.njit(cache=True, nogil=True, parallel=True, boundscheck=False)
def _pearson_block(
    start, stop, iu_indptr, iu_indices, iu_data, ui_indptr, ui_indices, ui_data, shrink,
    original, position, accs, counts, touched, heaps, out_cols, out_sims, out_n,
):  # fmt: skip
    """Rows start..stop-1, thread t taking every T-th row."""
    threads = accs.shape[0]
    for t in numba.prange(threads):
        for i in range(start + t, stop, threads):
            out_n[i - start] = _pearson_row(
                i, iu_indptr, iu_indices, iu_data, ui_indptr, ui_indices, ui_data, shrink,
                original, position, accs[t], counts[t], touched[t], heaps[t],
                out_cols[i - start], out_sims[i - start],
            )  # fmt: skip


def pruned_pearson_baseline(
    resid_ui: sp.csr_matrix, resid_iu: sp.csr_matrix, shrink: float, m: int
) -> PrunedRows:
    """Each item's ``m`` largest shrunk pearson_baseline similarities (the values of
    :func:`pearson_baseline_similarity`, summed in float64), computed item by item from the
    residual matrices: per thread one accumulator row over the items, a bounded heap of
    ``m`` keys, and a block of output rows; never an items x items product. The work is
    the sum over users of (movies rated)²; numba threads as the engine's inverted index."""
    n, n_items = resid_iu.shape[0], resid_ui.shape[1]
    m = max(1, min(m, max(n_items - 1, 1)))
    threads = max(1, numba.get_num_threads())
    iu = _sorted_csr(resid_iu)
    ui = _sorted_csr(resid_ui)
    popularity = np.diff(iu.indptr)
    original = np.argsort(-popularity, kind="stable").astype(np.int32)  # hottest first
    position = np.empty(n_items, np.int32)
    position[original] = np.arange(n_items, dtype=np.int32)
    args = (
        iu.indptr.astype(np.int64), iu.indices.astype(np.int32), iu.data.astype(np.float32),
        ui.indptr.astype(np.int64), position[ui.indices], ui.data.astype(np.float32),
        float(shrink), original, position,
    )  # fmt: skip
    accs = np.zeros((threads, n_items, 3), np.float64)
    counts = np.zeros((threads, n_items), np.int32)
    touched = np.empty((threads, n_items), np.int32)
    heaps = np.empty((threads, m), np.uint64)
    block = max(1, min(n, (64 * 1024**2) // (8 * m)))
    cols = np.empty((block, m), np.int32)
    sims = np.empty((block, m), np.float32)
    kept = np.empty(block, np.int64)
    indptr = np.zeros(n + 1, np.int64)
    parts_cols, parts_sims = [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        _pearson_block(start, stop, *args, accs, counts, touched, heaps, cols, sims, kept)
        rows = stop - start
        mask = np.arange(m)[None, :] < kept[:rows, None]
        parts_cols.append(cols[:rows][mask])
        parts_sims.append(sims[:rows][mask])
        indptr[start + 1 : stop + 1] = kept[:rows]
    np.cumsum(indptr, out=indptr)
    return PrunedRows(
        indptr,
        np.concatenate(parts_cols) if parts_cols else np.zeros(0, np.int32),
        np.concatenate(parts_sims) if parts_sims else np.zeros(0, np.float32),
        n_items,
    )


class _Similarity:
    """A square similarity for slicing: exact and dense up to :data:`DENSE_SIMILARITY_LIMIT`
    rows, else each row's M largest entries (:class:`PrunedRows`)."""

    def __init__(self, dense: FloatArray | None = None, pruned: PrunedRows | None = None) -> None:
        if (dense is None) == (pruned is None):
            raise ValueError("a similarity is either dense or pruned")
        self.dense = dense
        self.pruned = pruned

    @property
    def nbytes(self) -> int:
        return self.dense.nbytes if self.dense is not None else self.pruned.nbytes

    def block(self, rows: IntArray, cols: IntArray) -> FloatArray:
        """Dense ``sim[rows][:, cols]`` (0 where a pruned row does not keep the column)."""
        if self.dense is not None:
            return self.dense[np.ix_(rows, cols)]
        return self.pruned.to_csr()[rows][:, cols].toarray()


def _use_dense(n: int) -> bool:
    """Exact dense similarities for n rows up to the limit (read at call time)."""
    return n <= DENSE_SIMILARITY_LIMIT


def user_similarity(binary: sp.csr_matrix, labels: IntArray, max_similar: int) -> _Similarity:
    """Jaccard inside clusters: dense and exact when small, else each user's top-M."""
    if _use_dense(binary.shape[0]):
        return _Similarity(dense=dense_jaccard(binary, labels))
    return _Similarity(pruned=pruned_jaccard(binary, labels, max_similar))


def item_similarity(
    resid_ui: sp.csr_matrix, resid_iu: sp.csr_matrix, shrink: float, max_similar: int
) -> _Similarity:
    """Shrunk pearson_baseline: dense and exact when small, else each item's top-M."""
    if _use_dense(resid_iu.shape[0]):
        return _Similarity(dense=dense_pearson_baseline(resid_ui, resid_iu, shrink))
    return _Similarity(pruned=pruned_pearson_baseline(resid_ui, resid_iu, shrink, max_similar))


def _top_k(block: FloatArray, k: int) -> IntArray:
    """Column indices of each row's k largest values, largest first (k <= block.shape[1])."""
    if block.shape[1] > k:
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(block.shape[1]), block.shape).copy()
    order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _top_k_pruned(
    a, order, starts, ends, groups, sim_indptr, sim_indices, sim_data, own_indptr, own_indices,
    own_data, slot, neg_sims, neg_vals, sims, vals,
):  # fmt: skip
    """:func:`top_k_among_rated` over pruned rows; see there. Rows are in rank order, so the
    first k stored columns that b owns are the k largest; a candidate whose column the row
    does not keep counts as similarity 0 (after the positive ones, before the negative ones,
    as in the dense form)."""
    k = sims.shape[1]
    for g in range(groups.shape[0]):
        b0 = groups[g]
        lo, hi = own_indptr[b0], own_indptr[b0 + 1]
        if hi == lo:
            continue
        for q in range(lo, hi):
            slot[own_indices[q]] = q + 1
        for t in range(starts[g], ends[g]):
            p = order[t]
            row = a[p]
            filled = 0
            hits = 0
            n_neg = 0
            for r in range(sim_indptr[row], sim_indptr[row + 1]):
                q = slot[sim_indices[r]]
                if q == 0:
                    continue
                hits += 1
                s = sim_data[r]
                if s > 0:
                    sims[p, filled] = s
                    vals[p, filled] = own_data[q - 1]
                    filled += 1
                    if filled == k:
                        break
                elif n_neg < k:
                    neg_sims[n_neg] = s
                    neg_vals[n_neg] = own_data[q - 1]
                    n_neg += 1
            if filled < k and n_neg > 0:
                at = filled + (hi - lo) - hits  # the candidates at similarity 0 come first
                for j in range(n_neg):
                    if at >= k:
                        break
                    sims[p, at] = neg_sims[j]
                    vals[p, at] = neg_vals[j]
                    at += 1
        for q in range(lo, hi):
            slot[own_indices[q]] = 0


def top_k_among_rated(
    sim: _Similarity, owner: sp.csr_matrix, a: IntArray, b: IntArray, k: int
) -> tuple[FloatArray, FloatArray]:
    """For each pair (a, b): the k entries c of row b of ``owner`` with the largest sim[a, c].

    Returns (similarities, owner values), both (n, k), zero where fewer than k candidates
    (or zero similarity). Item side: a = movie, b = user, owner = user x movie residuals.
    User side: a = user, b = movie, owner = movie x user residuals. Loops over distinct b
    (users or movies), never over ratings. On a pruned similarity only the columns row a
    keeps can be chosen (numba; ties to the smaller column).
    """
    n = len(a)
    sims = np.zeros((n, k), np.float32)
    vals = np.zeros((n, k), np.float32)
    order = np.argsort(b, kind="stable")
    uniq, starts = np.unique(b[order], return_index=True)
    ends = np.append(starts[1:], n)
    if sim.pruned is not None:
        rows = sim.pruned
        _top_k_pruned(
            np.asarray(a, np.int64), order, starts.astype(np.int64), ends.astype(np.int64),
            uniq.astype(np.int64), rows.indptr, rows.indices, rows.data, owner.indptr,
            owner.indices, owner.data, np.zeros(owner.shape[1], np.int64),
            np.zeros(k, np.float32), np.zeros(k, np.float32), sims, vals,
        )  # fmt: skip
        return sims, vals
    for b0, s, e in zip(uniq, starts, ends, strict=False):
        lo, hi = owner.indptr[b0], owner.indptr[b0 + 1]
        if hi == lo:
            continue
        idx = order[s:e]
        cand, cand_vals = owner.indices[lo:hi], owner.data[lo:hi]
        block = sim.block(a[idx], cand)
        top = _top_k(block, k)
        kk = top.shape[1]
        sims[idx, :kk] = np.take_along_axis(block, top, axis=1)
        vals[idx, :kk] = cand_vals[top]
    vals[sims == 0] = 0.0
    return sims, vals


def _lookup(matrix: sp.csr_matrix, rows: IntArray, cols: IntArray) -> tuple[FloatArray, FloatArray]:
    """Vectorised ``matrix[rows, cols]`` with a 0/1 'present' flag, by binary search per row."""
    rows = rows.ravel()
    cols = cols.ravel()
    n_cols = matrix.shape[1]
    keys = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr)) * n_cols
    keys += matrix.indices
    want = rows.astype(np.int64) * n_cols + cols
    pos = np.clip(np.searchsorted(keys, want), 0, max(len(keys) - 1, 0))
    hit = keys[pos] == want if len(keys) else np.zeros(len(want), bool)
    vals = np.where(hit, matrix.data[pos] if len(keys) else 0.0, 0.0)
    return vals.astype(np.float32), hit.astype(np.float32)


# --------------------------------------------------------------------------- neighbour index
@dataclasses.dataclass
class NeighbourIndex:
    """Everything the neighbour features of a pair are computed from, built on one rating set."""

    mu: float
    b_user: FloatArray
    b_item: FloatArray
    resid_ui: sp.csr_matrix  # user x movie, r - baseline
    resid_iu: sp.csr_matrix  # movie x user
    user_sim: _Similarity  # Jaccard inside clusters
    item_sim: _Similarity  # shrunk pearson_baseline
    fixed_neighbours: IntArray | None  # (n_users, k) for user_mode="fixed", -1 = none
    fixed_sims: FloatArray | None
    n_rated_user: FloatArray
    n_rated_item: FloatArray

    @classmethod
    def build(
        cls,
        users: IntArray,
        items: IntArray,
        ratings: FloatArray,
        n_users: int,
        n_items: int,
        labels: IntArray,
        *,
        shrink: float,
        user_mode: str,
        k_user: int,
        max_similar: int = DEFAULT_MAX_SIMILAR,
    ) -> NeighbourIndex:
        """Baselines, residual matrices and both similarities from these ratings only
        (each exact and dense up to :data:`DENSE_SIMILARITY_LIMIT` rows, else pruned to
        each row's ``max_similar`` largest)."""
        mu, b_u, b_i = fit_biases(users, items, ratings, n_users, n_items)
        resid = ratings - mu - b_u[users] - b_i[items]
        resid_ui = _csr(users, items, resid, (n_users, n_items))
        resid_iu = _csr(items, users, resid, (n_items, n_users))
        binary = _csr(users, items, np.ones(len(users)), (n_users, n_items))
        user_sim = user_similarity(binary, labels, max_similar)
        del binary
        item_sim = item_similarity(resid_ui, resid_iu, shrink, max_similar)
        fixed_nb = fixed_s = None
        if user_mode == "fixed":
            fixed_nb, fixed_s = _fixed_neighbours(user_sim, n_users, k_user)
        return cls(
            mu,
            b_u,
            b_i,
            resid_ui,
            resid_iu,
            user_sim,
            item_sim,
            fixed_nb,
            fixed_s,
            np.bincount(users, minlength=n_users).astype(np.float32),
            np.bincount(items, minlength=n_items).astype(np.float32),
        )

    def features(self, users: IntArray, items: IntArray, k_user: int, k_item: int) -> FloatArray:
        """Per-pair network inputs (n, 2*k_user + 2*k_item + 8), scale-free (residuals in
        units of the rating range / 4)."""
        if self.fixed_neighbours is not None:
            nb = self.fixed_neighbours[users]
            u_sims = self.fixed_sims[users]
            u_vals, present = _lookup(
                self.resid_ui, np.maximum(nb, 0), np.repeat(items[:, None], nb.shape[1], 1)
            )
            present = present.reshape(nb.shape) * (nb >= 0)
            u_vals = u_vals.reshape(nb.shape) * present
            u_sims = u_sims * present  # a neighbour who did not rate i carries no evidence
        else:
            u_sims, u_vals = top_k_among_rated(self.user_sim, self.resid_iu, users, items, k_user)
        i_sims, i_vals = top_k_among_rated(self.item_sim, self.resid_ui, items, users, k_item)
        return np.concatenate(
            [
                u_vals,
                u_sims,
                i_vals,
                i_sims,
                _summaries(u_sims, u_vals),
                _summaries(i_sims, i_vals),
                np.log1p(self.n_rated_user[users])[:, None] / 5,
                np.log1p(self.n_rated_item[items])[:, None] / 5,
            ],
            axis=1,
        ).astype(np.float32)


def _fixed_neighbours(sim: _Similarity, n_users: int, k: int) -> tuple[IntArray, FloatArray]:
    """Each user's k most similar users (inside the cluster; -1 / 0 where fewer exist)."""
    nb = np.full((n_users, k), -1, np.int64)
    sims = np.zeros((n_users, k), np.float32)
    if sim.pruned is not None:  # rows in rank order, all similarities > 0
        rows = sim.pruned
        lengths = np.minimum(np.diff(rows.indptr), k)
        user = np.repeat(np.arange(n_users), lengths)
        slot = np.arange(len(user)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        at = rows.indptr[user] + slot
        nb[user, slot] = rows.indices[at]
        sims[user, slot] = rows.data[at]
        return nb, sims
    everyone = np.arange(n_users)
    for start in range(0, n_users, 1024):
        rows = everyone[start : start + 1024]
        block = sim.block(rows, everyone)
        top = _top_k(block, k)
        s = np.take_along_axis(block, top, axis=1)
        nb[rows, : top.shape[1]] = np.where(s > 0, top, -1)
        sims[rows, : top.shape[1]] = np.where(s > 0, s, 0)
    return nb, sims


def _summaries(sims: FloatArray, vals: FloatArray) -> FloatArray:
    """Share of neighbour slots filled, sum of |sim|, and the similarity-weighted mean value."""
    filled = (sims != 0).mean(axis=1, keepdims=True)
    weight = np.abs(sims).sum(axis=1, keepdims=True)
    mean = (sims * vals).sum(axis=1, keepdims=True) / np.maximum(weight, 1e-6)
    return np.concatenate([filled, weight / sims.shape[1], mean], axis=1)


def feature_parts(n_ratings: int, n_parts: int, seed: int) -> IntArray:
    """The part (0..n_parts-1) of each training rating, for out-of-fold features."""
    return np.random.default_rng(seed).permutation(n_ratings) % n_parts


def out_of_fold_features(
    users: IntArray,
    items: IntArray,
    ratings: FloatArray,
    n_users: int,
    n_items: int,
    labels: IntArray,
    part: IntArray,
    *,
    k_user: int,
    k_item: int,
    shrink: float,
    user_mode: str,
    unit: float,
    keep_indices: bool = False,
    max_similar: int = DEFAULT_MAX_SIMILAR,
) -> tuple[FloatArray, list[NeighbourIndex]]:
    """Features of every training pair, each from an index built without its part (``part``:
    0..K-1 per rating, see :func:`feature_parts`); and, with ``keep_indices``, the K indices
    (reused at prediction so that unseen pairs see features of the same density; otherwise
    each is dropped as soon as its part is done, so only one is in memory at a time)."""
    feats = None
    indices = []
    for p in range(int(part.max()) + 1):
        rest, mine = part != p, part == p
        index = NeighbourIndex.build(
            users[rest],
            items[rest],
            ratings[rest] / unit,
            n_users,
            n_items,
            labels,
            shrink=shrink,
            user_mode=user_mode,
            k_user=k_user,
            max_similar=max_similar,
        )
        f = index.features(users[mine], items[mine], k_user, k_item)
        if feats is None:
            feats = np.zeros((len(users), f.shape[1]), np.float32)
        feats[mine] = f
        if keep_indices:
            indices.append(index)
        del index
    return feats, indices
