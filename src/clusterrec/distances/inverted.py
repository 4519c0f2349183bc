"""The exact Jaccard top-k of every user from the item -> raters inverted index (numba).

Only users who share a movie can be at a Jaccard distance below 1, so each user's
intersection counts come from the raters of their own movies: a per-thread counter of n
int32 plus a list of the users it touched, then ``1 - c / (|u| + |v| - c)`` and a bounded
max-heap of k keys. The work is ``sum over movies of raters²`` (4.2e9 on the full generated
file), not n²; nothing of size n x n or users x candidates is ever held. The keys and the
tie rule are those of :mod:`clusterrec.distances.neighbors` (distance, then the smaller
index); a user with fewer than k users sharing a movie is padded exactly as the blocked
search pads them: with the smallest-index other users at distance 1 (the undefined value
between two users without ratings), then index -1 and +inf when the candidates run out.

Internal: :func:`clusterrec.distances.nearest_neighbors` calls :func:`top_k`
(``method="inverted"``, or ``"auto"`` when it is the cheaper exact path).
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
import scipy.sparse as sp

from clusterrec.errors import ConfigError, MemoryBudgetError

__all__ = ["MASKED_CODES", "inverted_bytes", "pair_work", "replace_heap_top", "top_k"]

#: Key of an empty slot (same value as in neighbors.py): after every candidate.
_EMPTY = np.uint64(0x7F800000_FFFFFFFF)
_INDEX_MASK = np.uint64(0xFFFFFFFF)
#: Query rows per kernel call at most (progress granularity; the budget may ask for fewer).
_DEFAULT_BLOCK_ROWS = 65_536
#: Bytes per query row and neighbour slot while a block is converted to the result (uint64
#: keys, the shifted and masked temporaries, the float32 and int64 rows, a mask).
_BYTES_PER_SLOT = 40
#: Bytes per user and thread: the intersection counter and the touched list (int32 each).
_BYTES_PER_USER_THREAD = 8
#: ... for the masked metrics: four float64 sums (co-rated count, dot, both squares) + touched.
_BYTES_PER_USER_THREAD_MASKED = 36


def pair_work(matrix: sp.csr_matrix, allowed: np.ndarray | None = None) -> int:
    """Sum over items of raters x allowed raters: the increments the inverted index does."""
    pop = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.int64)
    if allowed is None:
        return int(pop @ pop)
    rows = np.repeat(allowed, np.diff(matrix.indptr))
    pop_allowed = np.bincount(matrix.indices[rows], minlength=matrix.shape[1]).astype(np.int64)
    return int(pop @ pop_allowed)


def inverted_bytes(
    n_users: int, nnz: int, n_items: int, n_threads: int, per_user: int = _BYTES_PER_USER_THREAD
) -> int:
    """Fixed working memory of the inverted-index search, in bytes: while it is built, about
    60 bytes per rating (the reordered pattern, the index and the sorts that make them) and
    40 per user (orders, sizes, maps), and every thread's counter and touched list. A block
    of query rows adds ``rows x k x 40`` bytes; the result (12·n·k) is not counted."""
    setup = 8 * (n_items + 1) + 60 * nnz + 40 * n_users
    if per_user != _BYTES_PER_USER_THREAD:  # the masked metrics: the ratings, twice
        setup += 16 * nnz
    return setup + per_user * n_users * n_threads


def _plan(
    n: int,
    nnz: int,
    n_items: int,
    k: int,
    memory_budget: int | None,
    per_user: int = _BYTES_PER_USER_THREAD,
) -> tuple[int, int]:
    """Threads and query rows per block that keep the working memory within the budget."""
    threads = max(1, numba.get_num_threads())
    if memory_budget is None:
        return threads, max(1, min(n, _DEFAULT_BLOCK_ROWS))
    # budget checked by nearest_neighbors; here only its consequences
    while threads > 1 and (
        inverted_bytes(n, nnz, n_items, threads, per_user) + k * _BYTES_PER_SLOT * threads
        > memory_budget
    ):
        threads -= 1
    spare = memory_budget - inverted_bytes(n, nnz, n_items, threads, per_user)
    rows = spare // (k * _BYTES_PER_SLOT)
    if rows < 1:
        needed = inverted_bytes(n, nnz, n_items, 1, per_user) + k * _BYTES_PER_SLOT
        raise MemoryBudgetError(
            f"nearest_neighbors (inverted index, {n:,} users) needs at least {needed:,} bytes "
            f"of working memory (index, one thread's counters and one row of keys), more than "
            f"memory_budget={int(memory_budget):,}; raise memory_budget (the result itself "
            f"takes a further {12 * n * k:,} bytes)"
        )
    return threads, int(max(1, min(n, rows, _DEFAULT_BLOCK_ROWS)))


#: The masked metrics the inverted index computes, by kernel code.
MASKED_CODES = {"euclidean": 0, "euclidean_rms": 1, "cosine": 2}


def top_k(
    matrix: sp.csr_matrix,
    k: int,
    allowed: np.ndarray | None,
    metric: str,
    fallback: float,
    *,
    min_overlap: int = 1,
    shrinkage: float = 0.0,
    memory_budget: int | None = None,
    on_block: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's k nearest other allowed users: int64 (n, k) indices (-1: empty slot) and
    float32 (n, k) distances (+inf), nearest first, ties to the smaller index.

    ``matrix``: users x items CSR with no stored zeros; ``allowed``: boolean mask of the
    users who may be neighbours (None: all); ``metric``: ``"jaccard"`` or one of
    :data:`MASKED_CODES`; ``fallback``: the undefined value (Jaccard: between two users who
    both have no rating; the masked metrics: a pair with fewer than ``min_overlap`` co-rated
    movies, and the target of ``shrinkage``). Query rows are processed in blocks whose size
    (and the thread count) follow ``memory_budget``; ``on_block(done)`` is called after
    each block (progress).

    Internally users are renumbered hottest first (by how often the counting touches them:
    the sum of their movies' allowed raters), so the counters that nearly every query hits
    share a few MiB of cache; the keys carry the original indices, so ties and results are
    unchanged.
    """
    n, n_items = matrix.shape
    if n >= 2**31 - 1:
        raise ConfigError(f"the inverted-index search takes fewer than 2**31 users; got {n:,}")
    jaccard = metric == "jaccard"
    if not matrix.has_sorted_indices:  # _shared merges sorted rows
        matrix = matrix.sorted_indices()
    indptr = matrix.indptr.astype(np.int64)
    indices = matrix.indices.astype(np.int32)
    sizes = np.diff(indptr)
    keep = np.ones(n, dtype=bool) if allowed is None else allowed
    order, position = _hot_first(indptr, indices, keep, n_items)
    rows_order = _rows_in_order(indptr, order)
    p_indptr, p_indices = rows_order[0], indices[rows_order[1]]
    p_sizes = sizes[order].astype(np.int32)
    item_indptr, item_rows, item_of = _inverted_index(p_indptr, p_indices, keep[order], n_items)
    if jaccard:  # each movie's raters by (number of ratings, index): see _query
        entry_item = np.repeat(np.arange(n_items), np.diff(item_indptr))
        by_size = np.lexsort((order[item_rows], p_sizes[item_rows], entry_item))
        item_rows, item_of = item_rows[by_size], item_of[by_size]
    item_users = np.ascontiguousarray(item_rows.astype(np.int32))
    item_sizes = p_sizes[item_users]  # sorted within each movie for Jaccard
    allowed_ids = np.flatnonzero(keep).astype(np.int32)
    per_user = _BYTES_PER_USER_THREAD if jaccard else _BYTES_PER_USER_THREAD_MASKED
    threads, block_rows = _plan(n, len(indices), n_items, k, memory_budget, per_user)
    touched = np.empty((threads, n), dtype=np.int32)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    block = np.empty((block_rows, k), dtype=np.uint64)  # keys of one block, hot-first order
    original = order.astype(np.int32)
    fallback_bits = int(np.float32(fallback).view(np.uint32))
    if jaccard:
        counter_type = np.uint16 if sizes.max(initial=0) < 2**16 else np.int32
        counters = np.zeros((threads, n), dtype=counter_type)
        one_bits = int(np.float32(1.0).view(np.uint32))
    else:
        values = matrix.data.astype(np.float64)
        p_values = values[rows_order[1]]
        item_values = np.ascontiguousarray(p_values[item_of])
        sums = np.zeros((threads, n, 4), dtype=np.float64)
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        if jaccard:
            _kernel(
                start, stop, p_indptr, p_indices, p_sizes, item_indptr, item_users,
                item_sizes, original, position, allowed_ids, counters, touched, block,
                one_bits,
            )  # fmt: skip
        else:
            _masked_kernel(
                start, stop, p_indptr, p_indices, p_values, item_indptr, item_users,
                item_values, original, position, allowed_ids, sums, touched,
                block, MASKED_CODES[metric], float(fallback), fallback_bits,
                int(min_overlap), float(shrinkage),
            )  # fmt: skip
        rows = original[start:stop]
        indices[rows], distances[rows] = _keys_to_result(block[: stop - start])
        if on_block is not None:
            on_block(stop)
    if jaccard:
        empty = np.flatnonzero(sizes == 0)
        if empty.size:
            keys = _keys_of_users_without_ratings(empty, sizes, allowed_ids, k, fallback)
            indices[empty], distances[empty] = _keys_to_result(keys)
    return indices, distances


def _keys_to_result(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys as int64 indices (-1 for an empty slot) and float32 distances (+inf)."""
    distances = (keys >> np.uint64(32)).astype(np.uint32).view(np.float32)
    indices = (keys & _INDEX_MASK).astype(np.int64)
    indices[keys == _EMPTY] = -1
    return indices, distances


def _hot_first(
    indptr: np.ndarray, indices: np.ndarray, keep: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Users by how often the counting touches them, most first (ties by index):
    ``order[p]`` is the user at position p, ``position[u]`` the position of user u."""
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    raters = np.bincount(indices[keep[rows]], minlength=n_items).astype(np.int64)
    touches = np.bincount(rows, weights=raters[indices], minlength=len(indptr) - 1)
    touches[~keep] = -1  # never touched: last
    order = np.argsort(-touches, kind="stable")
    position = np.empty(len(order), dtype=np.int32)
    position[order] = np.arange(len(order), dtype=np.int32)
    return order, position


def _rows_in_order(indptr: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CSR row pointers with the rows in ``order``, and where each entry comes from."""
    lengths = np.diff(indptr)[order]
    new_indptr = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_indptr[1:])
    starts = np.repeat(indptr[order] - new_indptr[:-1], lengths)
    return new_indptr, starts + np.arange(new_indptr[-1])


def _inverted_index(
    indptr: np.ndarray, indices: np.ndarray, keep: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """item -> the allowed rows that rated it, rows ascending (a stable sort by item), and
    for each of its entries the position of that rating in the CSR."""
    rows = np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr))
    chosen = np.flatnonzero(keep[rows])
    items = indices[chosen]
    order = chosen[np.argsort(items, kind="stable")]
    item_indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.bincount(items, minlength=n_items), out=item_indptr[1:])
    return item_indptr, rows[order], order


def _keys_of_users_without_ratings(
    empty: np.ndarray, sizes: np.ndarray, allowed_ids: np.ndarray, k: int, fallback: float
) -> np.ndarray:
    """Sorted keys of the users ``empty`` (no rating: they share nothing): every allowed
    user with ratings is at 1 and every other allowed user without ratings at ``fallback``;
    the k smallest keys of those, self left out. The same few candidates serve them all."""
    rated = allowed_ids[sizes[allowed_ids] > 0][:k]
    unrated = allowed_ids[sizes[allowed_ids] == 0][: k + 1]
    common = np.sort(
        np.concatenate([_keys_at(np.float32(1.0), rated), _keys_at(np.float32(fallback), unrated)])
    )
    common = np.concatenate([common, np.full(k + 1, _EMPTY, dtype=np.uint64)])
    own = (common & _INDEX_MASK).astype(np.int64)
    own[common == _EMPTY] = -1
    # the user's position in the common list (its length when absent): later slots move up one
    valid = own >= 0
    position = np.full(len(empty), len(common), dtype=np.int64)
    hit_rows, hit_cols = np.nonzero(own[None, valid] == empty[:, None])
    position[hit_rows] = np.flatnonzero(valid)[hit_cols]
    slots = np.arange(k)[None, :]
    return common[slots + (slots >= position[:, None])]


def _keys_at(distance: np.float32, users: np.ndarray) -> np.ndarray:
    high = np.uint64(np.float32(distance + np.float32(0)).view(np.uint32)) << np.uint64(32)
    return high | users.astype(np.uint64)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def replace_heap_top(heap: np.ndarray, key: np.uint64) -> None:
    """Replace the largest key of a max-heap by ``key`` and restore the heap."""
    size = heap.shape[0]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        right = left + 1
        if right < size and heap[right] > heap[left]:
            child = right
        if heap[child] <= key:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = key


#: No size cutoff: every rater of the user's movies is counted.
_NO_CUTOFF = 2**31 - 1
#: Users with at most this many ratings first look for a size cutoff (see _size_cutoff).
_CUTOFF_MAX_RATINGS = 16


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _shared(p_indptr, p_indices, u, v):
    """Movies users u and v (positions) both rated: a merge of their sorted rows."""
    a, a_end = p_indptr[u], p_indptr[u + 1]
    b, b_end = p_indptr[v], p_indptr[v + 1]
    shared = 0
    while a < a_end and b < b_end:
        x, y = p_indices[a], p_indices[b]
        if x == y:
            shared += 1
            a += 1
            b += 1
        elif x < y:
            a += 1
        else:
            b += 1
    return shared


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _size_cutoff(
    u, p_indptr, p_indices, sizes, item_indptr, item_users, original, counter, touched, heap,
    pad_high,
):  # fmt: skip
    """The most ratings a user may have and still be among u's k nearest, from a first look.

    For a user with few ratings: the exact distances to the first k + 1 raters of each of
    u's movies (the raters with the fewest ratings) give k users at Jaccard similarity >= J
    (the k-th best of them); a user v with |v| ratings has similarity at most |u| / |v| when
    |v| >= |u|, so no user with more than |u| / J ratings can enter. The margin (J lowered by
    1e-6) keeps every user whose float32 distance could tie. Returns _NO_CUTOFF when the
    look finds fewer than k users nearer than 1 (then padding decides, which needs them all).
    ``heap`` is left empty, the counter all zero.
    """
    empty = np.uint64(0x7F800000_FFFFFFFF)
    size_u = sizes[u]
    k = heap.shape[0]
    if size_u > _CUTOFF_MAX_RATINGS:
        return _NO_CUTOFF
    n_seen = 0
    for p in range(p_indptr[u], p_indptr[u + 1]):
        item = p_indices[p]
        lo, hi = item_indptr[item], item_indptr[item + 1]
        for q in range(lo, min(hi, lo + k + 1)):
            v = item_users[q]
            if v == u or counter[v] != 0:
                continue
            counter[v] = 1
            touched[n_seen] = v
            n_seen += 1
            shared = np.float64(_shared(p_indptr, p_indices, u, v))
            union = np.float64(size_u + sizes[v]) - shared
            bits = np.uint64(np.float32(1.0 - shared / union).view(np.uint32))
            key = (bits << np.uint64(32)) | np.uint64(original[v])
            if key < heap[0]:
                replace_heap_top(heap, key)
    for t in range(n_seen):
        counter[touched[t]] = 0
    cutoff = _NO_CUTOFF
    if heap[0] < pad_high:
        farthest = np.float64(
            np.uint32(heap[0] >> np.uint64(32)).view(np.float32)
        )  # the k-th distance found
        similarity = 1.0 - farthest - 1e-6
        if similarity > 0:
            cutoff = min(_NO_CUTOFF, int(np.floor(size_u / similarity)))
    for j in range(k):
        heap[j] = empty
    return cutoff


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _query(
    u, p_indptr, p_indices, sizes, item_indptr, item_users, item_sizes, original, position,
    allowed_ids, counter, touched, heap, one_bits,
):  # fmt: skip
    """The k smallest keys of the user at position u into ``heap``, sorted; the counter is
    left all zero. Positions index the counters, ``original`` gives the keys' indices."""
    empty = np.uint64(0x7F800000_FFFFFFFF)
    high = np.uint64(32)
    for j in range(heap.shape[0]):
        heap[j] = empty
    size_u = sizes[u]
    if size_u == 0:
        return  # filled in by _keys_of_users_without_ratings
    pad_high = np.uint64(one_bits) << high
    if size_u == 1:
        # One movie: every rater v shares exactly it, at 1 - 1/|v|, and its raters are
        # listed by (|v|, index), so the distances only grow along the list: stop at the
        # first that cannot enter. Kept when the k found are all nearer than 1, else the
        # general path below decides (padding).
        item = p_indices[p_indptr[u]]
        lo, hi = item_indptr[item], item_indptr[item + 1]
        if hi - lo > heap.shape[0]:
            worst = heap[0] >> high
            for q in range(lo, hi):
                v = item_users[q]
                if v == u:
                    continue
                union = np.float64(1 + sizes[v]) - 1.0
                bits = np.uint64(np.float32(1.0 - 1.0 / union).view(np.uint32))
                if bits > worst:
                    break
                key = (bits << high) | np.uint64(original[v])
                if key < heap[0]:
                    replace_heap_top(heap, key)
                    worst = heap[0] >> high
            if heap[0] < pad_high:
                heap.sort()
                return
            for j in range(heap.shape[0]):
                heap[j] = empty
    cutoff = _size_cutoff(
        u, p_indptr, p_indices, sizes, item_indptr, item_users, original, counter, touched,
        heap, pad_high,
    )  # fmt: skip
    n_touched = 0
    for p in range(p_indptr[u], p_indptr[u + 1]):
        item = p_indices[p]
        lo, hi = item_indptr[item], item_indptr[item + 1]
        if cutoff < _NO_CUTOFF:  # the raters with more ratings cannot enter (sorted by size)
            hi = lo + np.searchsorted(item_sizes[lo:hi], cutoff, side="right")
        for q in range(lo, hi):
            v = item_users[q]
            if counter[v] == 0:
                touched[n_touched] = v
                n_touched += 1
            counter[v] += 1
    worst = heap[0] >> high
    for t in range(n_touched):
        v = touched[t]
        if v == u:
            continue
        shared = np.float64(counter[v])
        union = np.float64(size_u + sizes[v]) - shared
        bits = np.uint64(np.float32(1.0 - shared / union).view(np.uint32))
        if bits > worst:
            continue
        key = (bits << high) | np.uint64(original[v])
        if key < heap[0]:
            replace_heap_top(heap, key)
            worst = heap[0] >> high
    # users sharing nothing are at distance 1: offer the smallest-index ones while they can
    # still enter (the heap is not full, or holds keys at distance 1 or more)
    if heap[0] >= pad_high:
        me = original[u]
        for a in range(allowed_ids.shape[0]):
            v = allowed_ids[a]
            if v == me or counter[position[v]] != 0:
                continue
            key = pad_high | np.uint64(v)
            if key >= heap[0]:
                break
            replace_heap_top(heap, key)
    for t in range(n_touched):
        counter[touched[t]] = 0
    heap.sort()


@numba.njit(cache=True, nogil=True, parallel=True, boundscheck=False)
def _kernel(
    start, stop, p_indptr, p_indices, sizes, item_indptr, item_users, item_sizes, original,
    position, allowed_ids, counters, touched, keys, one_bits,
):  # fmt: skip
    """Positions start..stop-1, thread t taking every T-th of them (balanced, no queue);
    the keys of position u go to row u - start of ``keys``."""
    threads = counters.shape[0]
    for t in numba.prange(threads):
        counter = counters[t]
        seen = touched[t]
        for u in range(start + t, stop, threads):
            _query(
                u, p_indptr, p_indices, sizes, item_indptr, item_users, item_sizes, original,
                position, allowed_ids, counter, seen, keys[u - start], one_bits,
            )  # fmt: skip


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _masked_query(
    u, p_indptr, p_indices, p_values, item_indptr, item_users, item_values, original,
    position, allowed_ids, sums, touched, heap, code, fallback, fallback_bits, min_overlap,
    shrinkage,
):  # fmt: skip
    """The k smallest keys of the user at position u by a masked metric (code 0 euclidean,
    1 euclidean_rms, 2 cosine), with the policy's weight ``c / (c + shrinkage)`` (0 below
    ``min_overlap``) toward ``fallback``; the operations of engine.py, in its order."""
    empty = np.uint64(0x7F800000_FFFFFFFF)
    high = np.uint64(32)
    for j in range(heap.shape[0]):
        heap[j] = empty
    n_touched = 0
    for p in range(p_indptr[u], p_indptr[u + 1]):
        item = p_indices[p]
        mine = p_values[p]
        for q in range(item_indptr[item], item_indptr[item + 1]):
            v = item_users[q]
            theirs = item_values[q]
            if sums[v, 0] == 0.0:
                touched[n_touched] = v
                n_touched += 1
            sums[v, 0] += 1.0
            sums[v, 1] += mine * theirs
            sums[v, 2] += mine * mine
            sums[v, 3] += theirs * theirs
    worst = heap[0] >> high
    for t in range(n_touched):
        v = touched[t]
        if v == u:
            continue
        overlap = sums[v, 0]
        dot = sums[v, 1]
        if code == 2:
            norms = np.sqrt(sums[v, 2] * sums[v, 3])
            similarity = dot / norms if norms > 0 else 0.0
            similarity = min(max(similarity, -1.0), 1.0)
            distance = 1.0 - similarity
        else:
            squared = sums[v, 2] + sums[v, 3]
            squared -= 2.0 * dot
            squared = max(squared, 0.0)
            if code == 1:
                squared = squared / overlap if overlap > 0 else 0.0
            distance = np.sqrt(squared)
        weight = overlap / (overlap + shrinkage) if shrinkage > 0 else 1.0
        if overlap < min_overlap:
            weight = 0.0
        distance *= weight
        distance += (1.0 - weight) * fallback
        bits = np.uint64(np.float32(distance).view(np.uint32))
        if bits > worst:
            continue
        key = (bits << high) | np.uint64(original[v])
        if key < heap[0]:
            replace_heap_top(heap, key)
            worst = heap[0] >> high
    # users sharing no movie are at the undefined value: the smallest-index ones, if they fit
    pad_high = np.uint64(fallback_bits) << high
    if heap[0] >= pad_high:
        me = original[u]
        for a in range(allowed_ids.shape[0]):
            v = allowed_ids[a]
            if v == me or sums[position[v], 0] != 0.0:
                continue
            key = pad_high | np.uint64(v)
            if key >= heap[0]:
                break
            replace_heap_top(heap, key)
    for t in range(n_touched):
        w = touched[t]
        sums[w, 0] = 0.0
        sums[w, 1] = 0.0
        sums[w, 2] = 0.0
        sums[w, 3] = 0.0
    heap.sort()


@numba.njit(cache=True, nogil=True, parallel=True, boundscheck=False)
def _masked_kernel(
    start, stop, p_indptr, p_indices, p_values, item_indptr, item_users, item_values,
    original, position, allowed_ids, sums, touched, keys, code, fallback, fallback_bits,
    min_overlap, shrinkage,
):  # fmt: skip
    """:func:`_kernel` for the masked metrics."""
    threads = sums.shape[0]
    for t in numba.prange(threads):
        mine = sums[t]
        seen = touched[t]
        for u in range(start + t, stop, threads):
            _masked_query(
                u, p_indptr, p_indices, p_values, item_indptr, item_users, item_values,
                original, position, allowed_ids, mine, seen, keys[u - start], code, fallback,
                fallback_bits, min_overlap, shrinkage,
            )  # fmt: skip
