"""Tests of clusterrec.distances: hand-computed values, the naive loops of tests/naive.py,
properties (symmetry, bounds, triangle inequality), top-k against sorting, the memory budget."""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clusterrec.data import Ratings, RatingScale
from clusterrec.distances import engine as D
from clusterrec.distances.engine import DEFAULT_SHRINKAGE, MEASURED_SHRINKAGE, METRICS
from clusterrec.distances.neighbors import nearest_neighbors
from clusterrec.distances.pairwise import co_rated_counts, largest_distance, pairwise_distances
from clusterrec.errors import ConfigError, DataError, MemoryBudgetError

TOLERANCE = 1e-5
THREE_METRICS = ("euclidean", "cosine", "jaccard")
PLAIN = {"min_overlap": 1, "shrinkage": 0.0}
"""No protection against few co-rated items: the formulas of DESIGN.md as they are."""

RATING_VALUES = {
    "integer": st.integers(1, 10).map(float),
    "half": st.integers(1, 10).map(lambda x: x / 2),
    "float": st.floats(0.125, 10.0, width=32),
}


def rating_matrices(kind: str = "integer", max_users: int = 9, max_items: int = 12):
    """Small CSR matrices; a cell is 0 (not rated) or a rating of the given kind."""
    cell = st.one_of(st.just(0.0), RATING_VALUES[kind])
    shapes = st.tuples(st.integers(1, max_users), st.integers(1, max_items))
    return shapes.flatmap(lambda s: arrays(np.float32, s, elements=cell)).map(sp.csr_matrix)


def csr(rows: list[list[float]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


HAND = csr([[5, 3, 0, 0], [4, 0, 2, 0], [1, 3, 0, 5]])


# -- exact values -----------------------------------------------------------------------------


def test_hand_computed_values():
    got = pairwise_distances(HAND, METRICS, **PLAIN)
    cos_02 = 1 - 14 / (math.sqrt(34) * math.sqrt(10))
    expected = {
        "euclidean": [[0, 1, 4], [1, 0, 3], [4, 3, 0]],
        "euclidean_rms": [[0, 1, 4 / math.sqrt(2)], [1, 0, 3], [4 / math.sqrt(2), 3, 0]],
        "cosine": [[0, 0, cos_02], [0, 0, 0], [cos_02, 0, 0]],
        "jaccard": [[0, 2 / 3, 1 / 3], [2 / 3, 0, 3 / 4], [1 / 3, 3 / 4, 0]],
    }
    for name, matrix in expected.items():
        np.testing.assert_allclose(got[name], matrix, atol=1e-6, err_msg=name)
        assert got[name].dtype == np.float32


def test_co_rated_counts_hand_computed():
    assert co_rated_counts(HAND).tolist() == [[2, 1, 2], [1, 2, 1], [2, 1, 3]]
    assert co_rated_counts(HAND).dtype == np.int32


# -- against the naive loops ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    R=st.sampled_from(sorted(RATING_VALUES)).flatmap(rating_matrices),
    metric=st.sampled_from(METRICS),
    min_overlap=st.integers(1, 3),
    shrinkage=st.sampled_from([0.0, 0.5, 3.0]),
    undefined=st.sampled_from(["max", 0.25, 7.0]),
    block_size=st.one_of(st.none(), st.integers(1, 4)),
)
def test_matches_naive_loops(R, metric, min_overlap, shrinkage, undefined, block_size):
    got = pairwise_distances(
        R,
        metric,
        min_overlap=min_overlap,
        shrinkage=shrinkage,
        undefined=undefined,
        block_size=block_size,
    )
    fixed = None if undefined == "max" else undefined
    ref = naive.pairwise_distances(
        R, metric, min_overlap=min_overlap, shrinkage=shrinkage, undefined=fixed
    )
    assert np.abs(got - ref).max(initial=0) < TOLERANCE


@settings(max_examples=40, deadline=None)
@given(
    R=st.sampled_from(sorted(RATING_VALUES)).flatmap(rating_matrices),
    metric=st.sampled_from(["euclidean", "cosine"]),
)
def test_default_arguments_give_the_literal_formulas(R, metric):
    """``pairwise_distances(R, m)`` is the assignment's formula: no shrinkage, one co-rated
    item enough; only a pair without any co-rated item gets the metric's largest value."""
    assert DEFAULT_SHRINKAGE == 0
    got = pairwise_distances(R, metric)
    rows = naive.dense_rows(R)
    fallback = naive.largest_value(rows, metric)
    for u, v in np.ndindex(got.shape):
        literal = naive.METRICS[metric](rows[u], rows[v])
        expected = 0.0 if u == v else fallback if literal is None else literal
        assert abs(got[u, v] - expected) < TOLERANCE, (u, v)
    indices, distances = nearest_neighbors(R, metric, 2)
    ref_indices, ref_distances = naive.nearest_neighbors(got, 2)
    assert np.array_equal(indices, ref_indices) and np.array_equal(distances, ref_distances)


@pytest.mark.parametrize("dense_share", [0.0, 0.1, 1.1])
def test_dense_and_sparse_item_paths_match_naive(monkeypatch, dense_share):
    """Items go to BLAS (popular) or sparse products (the tail): both must give the formulas."""
    monkeypatch.setattr(D, "_DENSE_ITEM_SHARE", dense_share)
    rng = np.random.default_rng(7)
    popularity = rng.pareto(1.0, 150) + 0.02
    rated = rng.random((50, 150)) < np.minimum(popularity / popularity.max(), 0.6)
    R = sp.csr_matrix(np.where(rated, rng.integers(1, 11, rated.shape), 0).astype(np.float32))
    got = pairwise_distances(R, METRICS, min_overlap=2, shrinkage=1.0, block_size=16)
    for name in METRICS:
        ref = naive.pairwise_distances(R, name, min_overlap=2, shrinkage=1.0)
        assert np.abs(got[name] - ref).max() < TOLERANCE, name
    assert (co_rated_counts(R, block_size=16) == naive.co_rated_counts(R)).all()


@settings(max_examples=30, deadline=None)
@given(R=rating_matrices(), block_size=st.one_of(st.none(), st.integers(1, 4)))
def test_co_rated_counts_match_naive(R, block_size):
    assert (co_rated_counts(R, block_size=block_size) == naive.co_rated_counts(R)).all()


# -- edge cases -------------------------------------------------------------------------------


def test_no_co_rated_item_gets_the_largest_value():
    R = csr([[5, 3, 0, 0], [0, 0, 2, 1]])
    got = pairwise_distances(R, METRICS, **PLAIN)
    spread = 5 - 1
    assert got["euclidean"][0, 1] == pytest.approx(spread * math.sqrt(2))
    assert got["euclidean_rms"][0, 1] == pytest.approx(spread)
    assert got["cosine"][0, 1] == 1.0
    assert got["jaccard"][0, 1] == 1.0


def test_identical_users_are_at_zero():
    R = csr([[5, 3, 0, 2], [5, 3, 0, 2], [1, 0, 4, 0]])
    got = pairwise_distances(R, METRICS, **PLAIN)
    for name in METRICS:
        assert got[name][0, 1] == 0.0, name


def test_user_with_one_rating():
    R = csr([[0, 4, 0], [2, 1, 0], [0, 0, 3]])
    got = pairwise_distances(R, METRICS, **PLAIN)
    assert got["euclidean"][0, 1] == pytest.approx(3.0)
    assert got["cosine"][0, 1] == pytest.approx(0.0, abs=1e-7)  # one co-rated item: always 0
    assert got["jaccard"][0, 1] == pytest.approx(0.5)
    assert got["euclidean"][0, 2] == pytest.approx(largest_distance(R, "euclidean"))


def test_all_equal_ratings_keep_undefined_pairs_away_from_zero():
    R = csr([[3, 3, 0], [3, 0, 0], [0, 0, 3]])
    got = pairwise_distances(R, METRICS, **PLAIN)
    assert got["euclidean"][0, 1] == 0.0 and got["cosine"][0, 1] == 0.0
    # the spread is 0, taken as 1: sqrt(most ratings of a user) = sqrt(2)
    assert got["euclidean"][0, 2] == pytest.approx(math.sqrt(2))
    assert got["euclidean_rms"][0, 2] == 1.0
    assert got["cosine"][1, 2] == 1.0


def test_user_without_ratings_is_allowed_and_far_from_everyone():
    R = csr([[5, 3, 0], [0, 0, 0], [4, 0, 1], [0, 0, 0]])
    got = pairwise_distances(R, METRICS, **PLAIN)
    for name in METRICS:
        maximum = largest_distance(R, name)
        assert np.allclose(np.delete(got[name][1], 1), maximum), name
        assert got[name][1, 1] == 0.0
    assert got["jaccard"][1, 3] == 1.0  # two users without ratings: undefined, the maximum
    assert co_rated_counts(R)[1].tolist() == [0, 0, 0, 0]


def test_stored_zeros_mean_not_rated():
    explicit = sp.csr_matrix(
        (np.array([5, 0, 4, 2], dtype=np.float32), ([0, 0, 1, 1], [0, 1, 0, 1])), shape=(2, 2)
    )
    assert explicit.nnz == 4
    implicit = csr([[5, 0], [4, 2]])
    for name in METRICS:
        assert np.array_equal(
            pairwise_distances(explicit, name), pairwise_distances(implicit, name)
        )


def test_dense_array_and_ratings_inputs():
    ratings = Ratings.from_records(
        ["a", "a", "b", "b", "c"], ["x", "y", "x", "z", "z"], [8, 2, 6, 4, 10]
    )
    assert ratings.scale == RatingScale(1, 10, 1)
    matrix = ratings.matrix()
    for name in METRICS:
        from_ratings = pairwise_distances(ratings, name)
        from_dense = pairwise_distances(matrix.toarray(), name)
        if name in ("euclidean", "euclidean_rms"):
            # a Ratings gives the scale's spread (10 - 1); a matrix the observed one (10 - 2)
            assert largest_distance(ratings, name) / largest_distance(matrix, name) == 9 / 8
        else:
            assert np.array_equal(from_ratings, from_dense), name


def test_negative_values_give_the_cosine_bound_two():
    R = csr([[1, -1, 0], [-1, 1, 0], [0, 0, 2]])
    assert largest_distance(R, "cosine") == 2.0
    got = pairwise_distances(R, "cosine", **PLAIN)
    assert got[0, 1] == pytest.approx(2.0)
    assert got[0, 2] == 2.0


def test_nan_ratings_are_refused():
    with pytest.raises(DataError, match="NaN"):
        pairwise_distances(csr([[np.nan, 1.0]]), "cosine")


# -- properties -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    R=st.sampled_from(sorted(RATING_VALUES)).flatmap(rating_matrices),
    min_overlap=st.integers(1, 3),
    shrinkage=st.sampled_from([0.0, 2.0]),
)
def test_symmetric_bounded_zero_diagonal_never_nan(R, min_overlap, shrinkage):
    got = pairwise_distances(R, METRICS, min_overlap=min_overlap, shrinkage=shrinkage)
    for name, matrix in got.items():
        assert np.isfinite(matrix).all(), name
        assert np.array_equal(matrix, matrix.T), name
        assert (np.diag(matrix) == 0).all(), name
        assert matrix.min() >= 0, name
        assert matrix.max() <= largest_distance(R, name) * (1 + 1e-6), name
    assert got["cosine"].max() <= 1 and got["jaccard"].max() <= 1


@settings(max_examples=40, deadline=None)
@given(R=rating_matrices(max_users=10, max_items=10))
def test_jaccard_triangle_inequality(R):
    d = pairwise_distances(R, "jaccard").astype(np.float64)
    through = d[:, :, None] + d[None, :, :]  # d(u, v) + d(v, w) at [u, v, w]
    assert (d[:, None, :] <= through + 1e-6).all()


@settings(max_examples=25, deadline=None)
@given(R=rating_matrices("half"), block_size=st.integers(1, 3))
def test_multi_metric_dict_equals_single_metric_calls(R, block_size):
    together = pairwise_distances(R, METRICS, block_size=block_size)
    assert set(together) == set(METRICS)
    for name in METRICS:
        assert np.array_equal(together[name], pairwise_distances(R, name)), name


def test_single_metric_in_a_sequence_gives_a_dict():
    got = pairwise_distances(HAND, ["cosine"])
    assert list(got) == ["cosine"]
    assert np.array_equal(got["cosine"], pairwise_distances(HAND, "cosine"))


# -- nearest neighbours -----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    R=rating_matrices(max_users=12),
    metric=st.sampled_from(METRICS),
    k=st.integers(1, 5),
    with_groups=st.booleans(),
    block_size=st.one_of(st.none(), st.integers(1, 4)),
)
def test_top_k_equals_sorting_the_dense_rows(data, R, metric, k, with_groups, block_size):
    n = R.shape[0]
    groups = None
    if with_groups:
        groups = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    options = {"min_overlap": 2, "shrinkage": 1.0}
    indices, distances = nearest_neighbors(R, metric, k, groups, block_size=block_size, **options)
    dense = pairwise_distances(R, metric, **options)
    ref_indices, ref_distances = naive.nearest_neighbors(dense, k, groups)
    assert indices.dtype == np.int64 and distances.dtype == np.float32
    assert np.array_equal(indices, ref_indices)
    assert np.array_equal(distances, ref_distances)
    assert not (indices == np.arange(n)[:, None]).any()


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    R=rating_matrices(max_users=12),
    metric=st.sampled_from(METRICS),
    k=st.integers(1, 5),
    with_groups=st.booleans(),
    block_size=st.one_of(st.none(), st.integers(1, 4)),
)
def test_top_k_among_candidates_equals_sorting_the_allowed_columns(
    data, R, metric, k, with_groups, block_size
):
    n = R.shape[0]
    candidates = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    groups = None
    if with_groups:
        groups = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    options = {"min_overlap": 2, "shrinkage": 1.0}
    indices, distances = nearest_neighbors(
        R, metric, k, groups, candidates=candidates, block_size=block_size, **options
    )
    dense = pairwise_distances(R, metric, **options)  # itself checked against the naive loops
    ref_indices, ref_distances = naive.nearest_neighbors(dense, k, groups, candidates)
    assert np.array_equal(indices, ref_indices)
    assert np.array_equal(distances, ref_distances)
    found = indices >= 0
    assert candidates[indices[found]].all()  # only allowed users are neighbours
    assert not (indices == np.arange(n)[:, None]).any()


def test_candidates_exclude_users_but_every_user_gets_neighbours():
    R = csr([[5, 0], [5, 0], [4, 0], [0, 1]])
    allowed = np.array([False, True, False, True])
    indices, distances = nearest_neighbors(R, "euclidean", 2, candidates=allowed)
    assert indices.tolist() == [[1, 3], [3, -1], [1, 3], [1, -1]]
    assert distances[0, 0] == 0 and distances[2, 0] == 1 and np.isinf(distances[1, 1])
    none = nearest_neighbors(R, "jaccard", 1, candidates=np.zeros(4, dtype=bool))
    assert (none[0] == -1).all() and np.isinf(none[1]).all()
    with pytest.raises(ConfigError, match="candidates"):
        nearest_neighbors(R, "jaccard", 1, candidates=[1, 0, 1, 0])
    with pytest.raises(ConfigError, match="candidates"):
        nearest_neighbors(R, "jaccard", 1, candidates=np.ones(3, dtype=bool))


def test_ties_go_to_the_smaller_index_and_self_is_never_a_neighbour():
    R = csr([[5, 0], [5, 0], [5, 0], [5, 0], [0, 1]])
    indices, distances = nearest_neighbors(R, "euclidean", 3, **PLAIN)
    assert indices.tolist() == [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2], [0, 1, 2]]
    assert (distances[:4] == 0).all()


def test_small_groups_are_padded():
    R = csr([[5, 1], [4, 1], [3, 2], [1, 1], [2, 2]])
    groups = np.array([7, 7, -1, 7, 3])
    indices, distances = nearest_neighbors(R, "jaccard", 3, groups)
    assert indices[2].tolist() == [-1, -1, -1]
    assert np.isinf(distances[2]).all()
    assert indices[0].tolist() == [1, 3, -1]
    assert np.isinf(distances[0, 2]) and np.isfinite(distances[0, :2]).all()
    assert indices[4].tolist() == [-1, -1, -1]


def test_groups_must_be_integer_labels_per_user():
    with pytest.raises(ConfigError, match="groups"):
        nearest_neighbors(HAND, "cosine", 1, groups=[0, 1])
    with pytest.raises(ConfigError, match="groups"):
        nearest_neighbors(HAND, "cosine", 1, groups=[0.5, 1.0, 2.0])


# -- the memory budget ------------------------------------------------------------------------


def test_memory_budget_refuses_with_the_size_and_the_alternative():
    R = sp.random(300, 20, density=0.2, format="csr", dtype=np.float32, random_state=0)
    R.data = np.ceil(R.data * 5)
    one = 4 * 300**2
    assert pairwise_distances(R, "cosine", memory_budget=one).shape == (300, 300)
    with pytest.raises(MemoryBudgetError, match="nearest_neighbors") as refused:
        pairwise_distances(R, THREE_METRICS, memory_budget=3 * one - 1)
    assert "3 distance matrices for 300 users need 1.03 MiB" in str(refused.value)
    with pytest.raises(MemoryBudgetError, match="memory budget"):
        co_rated_counts(R, memory_budget=one - 1)
    assert nearest_neighbors(R, "cosine", 2)[0].shape == (300, 2)


def test_default_budget_refuses_a_large_matrix_before_any_work():
    n = 30_000  # 3.4 GiB for one float32 matrix
    R = sp.csr_matrix((n, 10), dtype=np.float32)
    with pytest.raises(MemoryBudgetError, match=r"3\.35 GiB"):
        pairwise_distances(R, "jaccard")


# -- the measured shrinkage against few co-rated movies -------------------------------------------


def test_measured_shrinkage_keeps_pairs_sharing_few_movies_from_reading_as_identical():
    """Users 0 and 1 share one movie rated alike; 0 and 2 share ten, rated a little apart."""
    rng = np.random.default_rng(0)
    base = rng.integers(3, 9, 12).astype(np.float32)
    u0 = np.zeros(30, dtype=np.float32)
    u0[:12] = base
    u1 = np.zeros(30, dtype=np.float32)
    u1[0] = base[0]
    u1[12:20] = 5
    u2 = np.zeros(30, dtype=np.float32)
    u2[:10] = base[:10] + rng.choice([-1, 1], 10)
    u2[20:25] = 6
    R = sp.csr_matrix(np.vstack([u0, u1, u2]))
    for metric in ("euclidean_rms", "cosine"):
        plain = pairwise_distances(R, metric, **PLAIN)
        assert plain[0, 1] == 0.0 < plain[0, 2]  # the problem: one shared movie reads as 0
        assert np.array_equal(pairwise_distances(R, metric), plain)  # the default is plain
        measured = pairwise_distances(R, metric, shrinkage=MEASURED_SHRINKAGE)
        assert measured[0, 1] > measured[0, 2], metric
        assert nearest_neighbors(R, metric, 1, shrinkage=MEASURED_SHRINKAGE)[0][0, 0] == 2


# -- parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "manhattan"}, "euclidean, euclidean_rms, cosine, jaccard"),
        ({"metric": ("cosine", "cosine")}, "repeat"),
        ({"metric": ()}, "accepted values"),
        ({"min_overlap": 0}, "min_overlap"),
        ({"min_overlap": 1.5}, "min_overlap"),
        ({"shrinkage": -1.0}, "shrinkage"),
        ({"shrinkage": float("inf")}, "shrinkage"),
        ({"undefined": "nan"}, "'max'"),
        ({"undefined": float("nan")}, "undefined"),
        ({"undefined": -0.5}, "undefined"),
        ({"block_size": 0}, "block_size"),
        ({"memory_budget": -1}, "memory_budget"),
    ],
)
def test_bad_parameters_raise_config_error(kwargs, message):
    kwargs = {"metric": "cosine"} | kwargs
    with pytest.raises(ConfigError, match=message):
        pairwise_distances(HAND, **kwargs)


def test_bad_k_and_input_type():
    with pytest.raises(ConfigError, match="k must be"):
        nearest_neighbors(HAND, "cosine", 0)
    with pytest.raises(ConfigError, match="scipy sparse"):
        pairwise_distances([[1, 2], [3, 4]], "cosine")
