"""The inverted-index Jaccard top-k (``method="inverted"``) against the blocked search and the
naive loops: identical indices and distances, the same padding, ties and budget rules."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clusterrec.distances import inverted, neighbors
from clusterrec.distances.neighbors import nearest_neighbors
from clusterrec.errors import ConfigError, MemoryBudgetError


def csr(rows: list[list[float]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.array(rows, dtype=np.float64))


def sparse_patterns(max_users: int = 14, max_items: int = 8):
    """Small rating matrices, sparse enough that many users share nothing (and some have no
    rating at all), so that padding and the undefined value are exercised."""
    shapes = st.tuples(st.integers(1, max_users), st.integers(1, max_items))
    cell = st.sampled_from([0.0, 0.0, 0.0, 1.0, 3.0, 5.0])
    return shapes.flatmap(lambda s: arrays(np.float64, s, elements=cell)).map(sp.csr_matrix)


def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    R=sparse_patterns(),
    k=st.integers(1, 16),
    with_groups=st.booleans(),
    with_candidates=st.booleans(),
    undefined=st.sampled_from(["max", 0.0, 0.5, 1.0, 4.0]),
    budget_rows=st.one_of(st.none(), st.integers(1, 3)),
)
def test_inverted_equals_blocked_and_naive(
    data, R, k, with_groups, with_candidates, undefined, budget_rows
):
    n = R.shape[0]
    groups = candidates = None
    if with_groups:
        groups = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    if with_candidates:
        candidates = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    budget = None
    if budget_rows is not None:  # a budget of a few rows of keys: many kernel calls
        fixed = inverted.inverted_bytes(n, R.nnz, R.shape[1], 1)
        budget = fixed + budget_rows * k * inverted._BYTES_PER_SLOT
    options = {"groups": groups, "candidates": candidates, "undefined": undefined}
    got = nearest_neighbors(R, "jaccard", k, **options, method="inverted", memory_budget=budget)
    blocked = nearest_neighbors(R, "jaccard", k, **options, method="blocked")
    fallback = None if undefined == "max" else undefined
    dense = naive.pairwise_distances(R, "jaccard", undefined=fallback)
    reference = naive.nearest_neighbors(dense.astype(np.float32), k, groups, candidates)
    assert got[0].dtype == np.int64 and got[1].dtype == np.float32
    assert same(got, blocked)
    assert same(got, reference)


def rating_patterns(max_users: int = 12, max_items: int = 8):
    """Small matrices of integer or half-star ratings (their sums are exact in any order)."""
    shapes = st.tuples(st.integers(1, max_users), st.integers(1, max_items))
    cell = st.one_of(st.just(0.0), st.just(0.0), st.integers(1, 10).map(lambda x: x / 2))
    return shapes.flatmap(lambda s: arrays(np.float64, s, elements=cell)).map(sp.csr_matrix)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    R=rating_patterns(),
    metric=st.sampled_from(["euclidean", "euclidean_rms", "cosine"]),
    k=st.integers(1, 14),
    with_groups=st.booleans(),
    with_candidates=st.booleans(),
    min_overlap=st.integers(1, 3),
    shrinkage=st.sampled_from([0.0, 1.0, 2.0]),
    undefined=st.sampled_from(["max", 0.0, 1.5]),
)
def test_masked_metrics_through_the_index_equal_the_blocks(
    data, R, metric, k, with_groups, with_candidates, min_overlap, shrinkage, undefined
):
    n = R.shape[0]
    groups = candidates = None
    if with_groups:
        groups = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    if with_candidates:
        candidates = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    options = {
        "groups": groups,
        "candidates": candidates,
        "min_overlap": min_overlap,
        "shrinkage": shrinkage,
        "undefined": undefined,
    }
    got = nearest_neighbors(R, metric, k, **options, method="inverted")
    assert same(got, nearest_neighbors(R, metric, k, **options, method="blocked"))
    fallback = None if undefined == "max" else undefined
    dense = naive.pairwise_distances(
        R, metric, min_overlap=min_overlap, shrinkage=shrinkage, undefined=fallback
    )
    ref_indices, ref_distances = naive.nearest_neighbors(
        dense.astype(np.float32), k, groups, candidates
    )
    # the naive loops round differently: the same neighbours up to float32 rounding
    np.testing.assert_allclose(got[1], ref_distances, rtol=1e-5, atol=1e-6)
    assert (got[0] >= 0).sum() == (ref_indices >= 0).sum()


def test_masked_hand_computed():
    # users 0 and 1 share movies 0 and 1; user 2 shares movie 1 with both; user 3 nothing
    R = csr([[4, 2, 0, 0], [2, 2, 0, 0], [0, 4, 1, 0], [0, 0, 0, 5]])
    indices, distances = nearest_neighbors(R, "euclidean", 3, undefined=9.0, method="inverted")
    # user 1: sqrt((4-2)² + 0) = 2; user 2: |2 - 4| = 2 over one movie: a tie, smaller index
    assert indices[0].tolist() == [1, 2, 3]
    assert distances[0].tolist() == [2.0, 2.0, 9.0]
    assert indices[3].tolist() == [0, 1, 2] and distances[3].tolist() == [9.0] * 3
    cosine = nearest_neighbors(R, "cosine", 1, min_overlap=2, undefined=1.0, method="inverted")
    expected = 1 - (4 * 2 + 2 * 2) / (np.sqrt(20) * np.sqrt(8))
    assert cosine[0][0, 0] == 1 and cosine[1][0, 0] == np.float32(expected)


def test_padding_hand_computed():
    # user 0 shares movie 0 with user 2 only; user 1 shares nothing; user 3 has no rating
    R = csr([[1, 0, 0], [0, 1, 0], [2, 0, 4], [0, 0, 0]])
    indices, distances = nearest_neighbors(R, "jaccard", 4, method="inverted")
    # 0: user 2 at 1 - 1/2, then the smallest other indices at 1, then one empty slot
    assert indices[0].tolist() == [2, 1, 3, -1]
    assert distances[0].tolist() == [0.5, 1.0, 1.0, np.inf]
    assert indices[1].tolist() == [0, 2, 3, -1]
    assert distances[1].tolist() == [1.0, 1.0, 1.0, np.inf]
    assert indices[3].tolist() == [0, 1, 2, -1]
    assert same((indices, distances), nearest_neighbors(R, "jaccard", 4, method="blocked"))


def test_users_without_ratings_get_the_undefined_value_between_them():
    R = csr([[0, 0], [1, 0], [0, 0], [0, 0], [1, 1]])
    for undefined, first in ((0.25, [2, 3, 1]), (3.0, [1, 4, 2])):
        indices, distances = nearest_neighbors(
            R, "jaccard", 3, undefined=undefined, method="inverted"
        )
        assert indices[0].tolist() == first
        assert same(
            (indices, distances),
            nearest_neighbors(R, "jaccard", 3, undefined=undefined, method="blocked"),
        )


def test_ties_go_to_the_smaller_index_and_self_is_never_a_neighbour():
    R = csr([[1, 1], [1, 1], [1, 1], [1, 1], [1, 0]])
    indices, distances = nearest_neighbors(R, "jaccard", 2, method="inverted")
    assert indices[:4].tolist() == [[1, 2], [0, 2], [0, 1], [0, 1]]
    assert distances[:4].tolist() == [[0.0, 0.0]] * 4
    assert indices[4].tolist() == [0, 1] and distances[4].tolist() == [0.5, 0.5]


def test_a_user_with_more_than_65535_ratings_uses_wide_counters():
    many = 70_000
    R = sp.csr_matrix(
        (
            np.ones(2 * many + 1),
            np.r_[np.arange(many), np.arange(many // 2, many + many // 2), 0],
            np.array([0, many, 2 * many, 2 * many + 1]),
        ),
        shape=(3, 2 * many),
    )
    got = nearest_neighbors(R, "jaccard", 2, method="inverted")
    assert same(got, nearest_neighbors(R, "jaccard", 2, method="blocked"))
    assert got[1][0, 0] == np.float32(1 - (many // 2) / (many + many // 2))


def _random_users(n: int, m: int, per_user: int, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, m + 1)
    popularity /= popularity.sum()
    rows = np.repeat(np.arange(n), per_user)
    cols = rng.choice(m, size=n * per_user, p=popularity)
    R = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, m))
    R.data[:] = 1.0
    return R


def test_shortcuts_on_heavy_tailed_data_equal_the_blocks():
    """Many users with one or a few ratings on popular movies (the one-rating shortcut and
    the size cutoff both act), a few heavy users; every k against the blocked search."""
    rng = np.random.default_rng(3)
    n, m = 3000, 400
    per_user = np.minimum(rng.zipf(1.6, n), 60)
    popularity = 1.0 / np.arange(1, m + 1) ** 0.8
    popularity /= popularity.sum()
    rows = np.repeat(np.arange(n), per_user)
    cols = rng.choice(m, size=len(rows), p=popularity)
    R = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, m))
    R.data[:] = 1.0
    candidates = rng.random(n) < 0.8
    for k in (1, 5, 20):
        assert same(
            nearest_neighbors(R, "jaccard", k, method="inverted"),
            nearest_neighbors(R, "jaccard", k, method="blocked"),
        )
    assert same(
        nearest_neighbors(R, "jaccard", 7, candidates=candidates, method="inverted"),
        nearest_neighbors(R, "jaccard", 7, candidates=candidates, method="blocked"),
    )


def test_auto_takes_the_inverted_index_for_jaccard_on_many_users(monkeypatch):
    R = _random_users(5000, 3000, 3, seed=0)
    calls = []
    real = inverted.top_k
    monkeypatch.setattr(inverted, "top_k", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    auto = nearest_neighbors(R, "jaccard", 5)
    assert calls, "auto did not take the inverted index"
    groups = np.arange(5000) % 3
    assert same(auto, nearest_neighbors(R, "jaccard", 5, method="blocked"))
    assert same(
        nearest_neighbors(R, "jaccard", 5, groups),
        nearest_neighbors(R, "jaccard", 5, groups, method="blocked"),
    )
    calls.clear()
    nearest_neighbors(R[:100], "jaccard", 5)  # few users: the blocks
    nearest_neighbors(R, "cosine", 2)  # not Jaccard: the blocks
    assert not calls


def test_memory_budget_sets_the_blocks_and_refuses_what_cannot_fit():
    R = _random_users(600, 200, 4, seed=1)
    reference = nearest_neighbors(R, "jaccard", 6, method="blocked")
    fixed = inverted.inverted_bytes(600, R.nnz, 200, 1)
    small = fixed + 7 * 6 * inverted._BYTES_PER_SLOT  # 7 query rows per kernel call
    assert same(
        nearest_neighbors(R, "jaccard", 6, method="inverted", memory_budget=small), reference
    )
    with pytest.raises(MemoryBudgetError, match="memory_budget"):
        nearest_neighbors(R, "jaccard", 6, method="inverted", memory_budget=fixed // 2)
    # the blocked search takes its block size from the budget too
    row = 8 * neighbors._ARRAYS_PER_BLOCK * 600
    assert same(
        nearest_neighbors(R, "jaccard", 6, method="blocked", memory_budget=5 * row), reference
    )
    with pytest.raises(MemoryBudgetError, match="memory_budget"):
        nearest_neighbors(R, "cosine", 6, memory_budget=row - 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "fast"}, "method='fast' is not known"),
        ({"method": "inverted", "metric": "manhattan"}, "is not known"),
        ({"memory_budget": 0}, "memory_budget"),
        ({"memory_budget": 2.5}, "memory_budget"),
    ],
)
def test_bad_method_or_budget_raise_config_error(kwargs, message):
    metric = kwargs.pop("metric", "jaccard")
    with pytest.raises(ConfigError, match=message):
        nearest_neighbors(csr([[1, 0], [1, 1]]), metric, 1, **kwargs)
