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

import numpy as np
import scipy.sparse as sp

from clusterrec.models.baselines import fit_bias_arrays

FloatArray = np.ndarray
IntArray = np.ndarray

#: Square similarity matrices up to this many rows are densified for fast slicing (4 bytes
#: per entry: 12000 rows are 576 MB); larger ones are sliced as sparse matrices (slower).
DENSE_SIMILARITY_LIMIT = 12000


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


class _Similarity:
    """Row/column slicing of a square similarity, dense when small enough (see limit)."""

    def __init__(self, sim: sp.csr_matrix) -> None:
        self.sparse = sim
        self.dense = sim.toarray() if sim.shape[0] <= DENSE_SIMILARITY_LIMIT else None

    def block(self, rows: IntArray, cols: IntArray) -> FloatArray:
        """Dense ``sim[rows][:, cols]``."""
        if self.dense is not None:
            return self.dense[np.ix_(rows, cols)]
        return self.sparse[rows][:, cols].toarray()


def _top_k(block: FloatArray, k: int) -> IntArray:
    """Column indices of each row's k largest values, largest first (k <= block.shape[1])."""
    if block.shape[1] > k:
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(block.shape[1]), block.shape).copy()
    order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def top_k_among_rated(
    sim: _Similarity, owner: sp.csr_matrix, a: IntArray, b: IntArray, k: int
) -> tuple[FloatArray, FloatArray]:
    """For each pair (a, b): the k entries c of row b of ``owner`` with the largest sim[a, c].

    Returns (similarities, owner values), both (n, k), zero where fewer than k candidates
    (or zero similarity). Item side: a = movie, b = user, owner = user x movie residuals.
    User side: a = user, b = movie, owner = movie x user residuals. Loops over distinct b
    (users or movies), never over ratings.
    """
    n = len(a)
    sims = np.zeros((n, k), np.float32)
    vals = np.zeros((n, k), np.float32)
    order = np.argsort(b, kind="stable")
    uniq, starts = np.unique(b[order], return_index=True)
    ends = np.append(starts[1:], n)
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
    ) -> NeighbourIndex:
        """Baselines, residual matrices and both similarities from these ratings only."""
        mu, b_u, b_i = fit_biases(users, items, ratings, n_users, n_items)
        resid = ratings - mu - b_u[users] - b_i[items]
        resid_ui = _csr(users, items, resid, (n_users, n_items))
        resid_iu = _csr(items, users, resid, (n_items, n_users))
        binary = _csr(users, items, np.ones(len(users)), (n_users, n_items))
        user_sim = _Similarity(jaccard_similarity(binary, labels))
        item_sim = _Similarity(pearson_baseline_similarity(resid_ui, resid_iu, shrink))
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
        )
        f = index.features(users[mine], items[mine], k_user, k_item)
        if feats is None:
            feats = np.zeros((len(users), f.shape[1]), np.float32)
        feats[mine] = f
        if keep_indices:
            indices.append(index)
        del index
    return feats, indices
