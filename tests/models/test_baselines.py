"""Baselines against naive loop implementations of the same formulas, and their fallbacks."""

from __future__ import annotations

import math
from functools import partial

import helpers
import numpy as np
import pytest
import scipy.sparse as sp

from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, MemoryBudgetError
from clusterrec.models.baselines import (
    BiasBaseline,
    GlobalMean,
    UserKNN,
    _top_k_per_column,
    pearson_similarities,
)

#: random_ratings(n_users, n_items, density, seed): 1..5, every user and every item rated.
random_ratings = partial(helpers.random_ratings, cover=True)


def dense(ratings: Ratings) -> np.ndarray:
    """users x items float64 with 0 for "not rated", in the model's code order."""
    return ratings.compact().matrix().toarray().astype(np.float64)


# -- GlobalMean -----------------------------------------------------------------------------------


def test_global_mean_predicts_the_training_mean_and_flags_unknown_ids():
    ratings = Ratings.from_records(["a", "a", "b"], ["x", "y", "x"], [1, 2, 4])
    model = GlobalMean().fit(ratings)
    result = model.predict(["a", "b", "zz", "a"], ["y", "y", "x", "nope"])
    np.testing.assert_allclose(result.rating, [7 / 3] * 4, rtol=1e-6)
    assert result.fallback.tolist() == [False, False, True, True]
    assert sorted(model._rated_items(int(model.user_codes(["a"])[0]))) == [0, 1]


# -- BiasBaseline ---------------------------------------------------------------------------------


def naive_als_biases(
    matrix: np.ndarray, mu: float, reg_user: float, reg_item: float, n_epochs: int
):
    """Surprise's baseline ALS written as loops over users and items (0 = not rated)."""
    n_users, n_items = matrix.shape
    user_bias, item_bias = [0.0] * n_users, [0.0] * n_items
    for _ in range(n_epochs):
        for i in range(n_items):
            raters = [u for u in range(n_users) if matrix[u, i] > 0]
            total = sum(matrix[u, i] - mu - user_bias[u] for u in raters)
            item_bias[i] = total / (reg_item + len(raters))
        for u in range(n_users):
            rated = [i for i in range(n_items) if matrix[u, i] > 0]
            total = sum(matrix[u, i] - mu - item_bias[i] for i in rated)
            user_bias[u] = total / (reg_user + len(rated))
    return np.array(user_bias), np.array(item_bias)


def test_bias_baseline_matches_the_naive_als_loops():
    ratings = random_ratings(30, 25, 0.3, seed=1)
    matrix = dense(ratings)
    model = BiasBaseline(reg_user=3.0, reg_item=2.0, n_epochs=4).fit(ratings)
    mu = model.global_mean_
    np.testing.assert_allclose(mu, matrix[matrix > 0].mean(), rtol=1e-6)  # float32 mean in base
    user_bias, item_bias = naive_als_biases(matrix, mu, 3.0, 2.0, 4)
    np.testing.assert_allclose(model.user_bias_, user_bias, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.item_bias_, item_bias, rtol=1e-10, atol=1e-12)
    users, items = np.array([0, 3, 7]), np.array([1, 2, 5])
    expected = np.clip(mu + user_bias[users] + item_bias[items], 1, 5)
    np.testing.assert_allclose(model.predict_codes(users, items).rating, expected, rtol=1e-6)


def test_bias_baseline_unknown_ids_get_zero_bias_and_a_fallback_flag():
    ratings = random_ratings(10, 8, 0.5, seed=2)
    model = BiasBaseline().fit(ratings)
    codes = np.array([0, -1, 0, -1])
    items = np.array([1, 1, -1, -1])
    np.testing.assert_allclose(
        model.biases(codes, items),
        [
            model.user_bias_[0] + model.item_bias_[1],
            model.item_bias_[1],
            model.user_bias_[0],
            0.0,
        ],
    )
    result = model.predict(["u0", "stranger", "u0"], ["i1", "i1", "unseen"])
    assert result.fallback.tolist() == [False, True, True]
    np.testing.assert_allclose(
        result.rating[1], model.global_mean_ + model.item_bias_[1], rtol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs", [{"reg_user": -1.0}, {"reg_item": "ten"}, {"n_epochs": 0}, {"n_epochs": 2.5}]
)
def test_bias_baseline_rejects_bad_parameters(kwargs):
    with pytest.raises(ConfigError):
        BiasBaseline(**kwargs).fit(random_ratings(5, 5, 0.5, seed=0))


# -- UserKNN --------------------------------------------------------------------------------------


def naive_similarity(a: np.ndarray, b: np.ndarray, min_support: int, shrinkage: float) -> float:
    """Pearson over co-rated items, centred on each user's overall mean, shrunk."""
    mean_a, mean_b = a[a > 0].mean(), b[b > 0].mean()
    common = [k for k in range(len(a)) if a[k] > 0 and b[k] > 0]
    if len(common) < min_support:
        return 0.0
    num = sum((a[k] - mean_a) * (b[k] - mean_b) for k in common)
    var_a = sum((a[k] - mean_a) ** 2 for k in common)
    var_b = sum((b[k] - mean_b) ** 2 for k in common)
    if var_a == 0 or var_b == 0:
        return 0.0
    c = len(common)
    return c / (c + shrinkage) * num / math.sqrt(var_a * var_b)


def naive_knn_prediction(
    matrix: np.ndarray, sims: np.ndarray, u: int, i: int, k: int
) -> tuple[float, bool]:
    """KNNWithMeans for (u, i) written literally: returns (prediction, fallback)."""
    means = [row[row > 0].mean() for row in matrix]
    raters = [v for v in range(len(matrix)) if v != u and matrix[v, i] > 0]
    positive = [v for v in raters if sims[u, v] > 0]
    # the same float32 similarities as the model ranks by; ties: the smaller user first
    positive.sort(key=lambda v: (-np.float32(sims[u, v]), v))
    chosen = positive[:k]
    if not chosen:
        return means[u], True
    num = sum(sims[u, v] * (matrix[v, i] - means[v]) for v in chosen)
    den = sum(sims[u, v] for v in chosen)
    return means[u] + num / den, False


@pytest.fixture(scope="module")
def knn_case():
    ratings = random_ratings(24, 20, 0.45, seed=3)
    matrix = dense(ratings)
    n = len(matrix)
    sims = np.array(
        [[naive_similarity(matrix[u], matrix[v], 2, 5.0) for v in range(n)] for u in range(n)]
    )
    model = UserKNN(n_neighbors=3, min_support=2, shrinkage=5.0).fit(ratings)
    return ratings, matrix, sims, model


def test_pearson_similarities_match_the_naive_formula(knn_case):
    _, matrix, sims, model = knn_case
    off_diagonal = ~np.eye(len(matrix), dtype=bool)
    np.testing.assert_allclose(model.similarity_[off_diagonal], sims[off_diagonal], atol=1e-6)
    assert np.all(np.diag(model.similarity_) == 0)  # never one's own neighbour
    direct = pearson_similarities(knn_case[0].matrix(), min_support=2, shrinkage=5.0)
    np.testing.assert_allclose(direct, direct.T, atol=1e-7)


def test_user_knn_matches_the_naive_prediction_for_every_pair(knn_case):
    _, matrix, sims, model = knn_case
    n_users, n_items = matrix.shape
    users = np.repeat(np.arange(n_users), n_items)
    items = np.tile(np.arange(n_items), n_users)
    result = model.predict_codes(users, items)
    naive = [naive_knn_prediction(matrix, sims, u, i, 3) for u, i in zip(users, items, strict=True)]
    expected = np.clip([p for p, _ in naive], 1, 5)
    np.testing.assert_allclose(result.rating, expected, atol=1e-5)
    assert result.fallback.tolist() == [f for _, f in naive]
    assert 0 < result.fallback.mean() < 1  # both paths are exercised


def test_user_knn_with_more_neighbours_than_raters_uses_every_positive_one(knn_case):
    ratings, matrix, sims, _ = knn_case
    model = UserKNN(n_neighbors=100, min_support=2, shrinkage=5.0).fit(ratings)
    for u, i in [(0, 0), (5, 7), (11, 3)]:
        expected, fallback = naive_knn_prediction(matrix, sims, u, i, 100)
        got = model.predict_codes(np.array([u]), np.array([i]))
        assert bool(got.fallback[0]) == fallback
        np.testing.assert_allclose(got.rating[0], np.clip(expected, 1, 5), atol=1e-5)


def test_top_k_keeps_the_k_largest_positive_similarities_ties_to_the_smaller_user():
    similarity = np.array(
        [[0.5, 0.1, -0.2], [0.3, 0.0, -0.1], [0.3, -0.4, -0.3], [0.3, 0.2, -0.5], [-1.0, 0, 0]],
        dtype=np.float32,
    )  # rows: candidate neighbours in user-code order; columns: querying users
    weights = _top_k_per_column(similarity.copy(), 2)
    expected = np.array(
        [[0.5, 0.1, 0], [0.3, 0, 0], [0, 0, 0], [0, 0.2, 0], [0, 0, 0]], dtype=np.float32
    )
    np.testing.assert_array_equal(weights, expected)


def test_user_knn_fallbacks_for_unknown_ids(knn_case):
    ratings, matrix, _, model = knn_case
    result = model.predict(["u0", "stranger", "stranger"], ["unseen", "i0", "unseen"])
    assert result.fallback.tolist() == [True, True, True]
    np.testing.assert_allclose(result.rating[0], matrix[0][matrix[0] > 0].mean(), rtol=1e-6)
    np.testing.assert_allclose(result.rating[1:], model.global_mean_, rtol=1e-6)


def test_user_knn_recommend_excludes_training_items_and_is_deterministic(knn_case):
    ratings, matrix, _, model = knn_case
    first = model.recommend("u2", n=5)
    again = UserKNN(n_neighbors=3, min_support=2, shrinkage=5.0).fit(ratings).recommend("u2", 5)
    assert first.equals(again)
    assert model.user_index_[2] == "u2"
    rated_labels = set(model.item_index_[np.flatnonzero(matrix[2] > 0)])
    assert rated_labels == set(model.item_index_[model._rated_items(2)])
    assert not set(first["item"]) & rated_labels


def test_pearson_similarities_refuse_a_matrix_beyond_the_memory_budget():
    ratings = random_ratings(30, 10, 0.5, seed=4)
    with pytest.raises(MemoryBudgetError, match="memory_budget"):
        pearson_similarities(ratings.matrix(), memory_budget=4 * 30 * 30 - 1)
    pearson_similarities(ratings.matrix(), memory_budget=4 * 30 * 30)  # at the limit: fine


def test_user_knn_past_the_budget_keeps_nothing_n_by_n_and_predicts_the_same(knn_case, tmp_path):
    ratings, matrix, sims, dense_model = knn_case
    n = len(matrix)
    assert not dense_model.bounded
    model = UserKNN(n_neighbors=3, min_support=2, shrinkage=5.0, memory_budget=4 * n * n - 1)
    model.fit(ratings)
    assert model.bounded and model.similarity_ is None
    users = np.repeat(np.arange(n), matrix.shape[1])
    items = np.tile(np.arange(matrix.shape[1]), n)
    got, expected = model.predict_codes(users, items), dense_model.predict_codes(users, items)
    np.testing.assert_allclose(got.rating, expected.rating, atol=1e-5)
    assert got.fallback.tolist() == expected.fallback.tolist()
    # several blocks of querying users give the same
    blocked = UserKNN(n_neighbors=3, min_support=2, shrinkage=5.0, memory_budget=0).fit(ratings)
    blocked._similarity_rows.blocks = lambda users: np.array_split(users, 5)
    np.testing.assert_allclose(blocked.predict_codes(users, items).rating, got.rating, atol=1e-6)
    saved = model.save(tmp_path / "knn")
    assert "similarity" not in np.load(saved / "arrays.npz").files
    again = UserKNN.load(saved).predict_codes(users, items)
    np.testing.assert_allclose(again.rating, got.rating, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs", [{"n_neighbors": 0}, {"min_support": -1}, {"shrinkage": -5}, {"memory_budget": -1}]
)
def test_user_knn_rejects_bad_parameters(kwargs):
    with pytest.raises(ConfigError):
        UserKNN(**kwargs).fit(random_ratings(5, 5, 0.5, seed=0))


def test_pearson_counts_a_rating_equal_to_the_mean_as_co_rated_and_keeps_the_diagonal():
    """A rating equal to the user's mean is a deviation of 0 that is still co-rated: with
    min_support=3 the pair below is defined only because the middle item counts."""
    R = sp.csr_matrix(np.array([[1, 3, 5, 0], [2, 3, 4, 0], [0, 0, 0, 4]], dtype=float))
    plain = pearson_similarities(R, min_support=3, shrinkage=0.0)
    assert plain[0, 1] == plain[1, 0] == pytest.approx(1.0)
    assert plain[0, 2] == plain[2, 2] == 0  # nothing co-rated; no variance
    shrunk = pearson_similarities(R, min_support=3, shrinkage=1.0)
    assert shrunk[0, 1] == pytest.approx(3 / 4)
    np.testing.assert_allclose(np.diag(shrunk), [3 / 4, 3 / 4, 0])  # c = n_u on the diagonal
    assert pearson_similarities(R, min_support=4, shrinkage=0.0)[0, 1] == 0
    with pytest.raises(ConfigError, match="min_support"):
        pearson_similarities(R, min_support=0)
