"""Masked k-means at scale: the centroid tables against the engine's products, the sampled form
against the full one, and the objective of given labels by hand."""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from clusterrec.clustering._common import _build_policy, _UserRows
from clusterrec.clustering.centroids import _center_distances, _own_center_distances
from clusterrec.clustering.entry import cluster_users
from clusterrec.clustering.kmeans import (
    MaskedKMeans,
    _masked_kmeans,
    _table_distances,
    _table_own_distances,
    _Tables,
    _update_centers,
    kmeans_objective,
    masked_kmeans,
)
from clusterrec.clustering.sweep import sweep_n_clusters
from clusterrec.errors import ConfigError

METRICS = ("euclidean", "euclidean_rms", "cosine")


def planted(
    per_group: int, groups: int = 4, items: int = 120, density: float = 0.3, seed: int = 0
) -> tuple[sp.csr_matrix, np.ndarray]:
    """``groups`` taste groups: each rates its own block of items 9, the others 2 (plus noise);
    each user rates a random ``density`` share of the items."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(groups), per_group)
    block = np.arange(items) * groups // items
    profile = np.where(block[None, :] == np.arange(groups)[:, None], 9.0, 2.0)
    values = np.clip(np.rint(profile[truth] + rng.normal(0, 1.5, (len(truth), items))), 1, 10)
    rated = rng.random(values.shape) < density
    return sp.csr_matrix(values * rated), truth


@pytest.fixture(scope="module")
def blurred() -> sp.csr_matrix:
    """Planted groups blurred by noise, plus a user with no rating and one whose only movie
    nobody else rated: k-means has real choices to make and edge cases to meet."""
    R, _ = planted(40, groups=3, items=60, density=0.4, seed=4)
    R = R.copy()
    R.data = np.clip(R.data + np.random.default_rng(5).integers(-3, 4, R.nnz), 1, 10)
    extra = sp.csr_matrix(([7.0], ([1], [R.shape[1]])), shape=(2, R.shape[1] + 1))
    return sp.vstack([sp.hstack([R, sp.csr_matrix((R.shape[0], 1))]), extra], format="csr")


# -- the tables compute what the engine computes --------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_table_distances_equal_the_engine_products(blurred, metric: str) -> None:
    matrix, policy = _build_policy(blurred, metric, 1, "max")
    rows = _UserRows.build(matrix)
    labels = np.random.default_rng(0).integers(0, 4, rows.n_users)
    engine = _update_centers(rows, labels, 4)
    tables = _Tables.of_labels(rows, labels, 4)
    expected, expected_overlap = _center_distances(rows, engine, policy)
    distances, overlap = _table_distances(rows, tables, policy)
    np.testing.assert_array_equal(distances, expected)
    np.testing.assert_array_equal(overlap, expected_overlap)
    own, own_overlap = _table_own_distances(rows, tables, policy)
    expected_own, expected_own_overlap = _own_center_distances(rows, engine.members, policy)
    np.testing.assert_array_equal(own, expected_own)
    np.testing.assert_array_equal(own_overlap, expected_own_overlap)
    assert (tables.to_csr() != engine.values).nnz == 0
    np.testing.assert_array_equal(tables.coverage, engine.coverage)


@pytest.mark.parametrize("leave_one_out", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_full_form_gives_the_same_clustering_as_the_engine(
    blurred, metric: str, leave_one_out: bool
) -> None:
    """The full form with tables is the algorithm before them, number for number."""
    options = {"n_init": 2, "seed": 3, "sample_size": None, "leave_one_out": leave_one_out}
    engine = _masked_kmeans(blurred, 4, metric, products="engine", **options)
    tables = _masked_kmeans(blurred, 4, metric, **options)
    np.testing.assert_array_equal(tables.labels, engine.labels)
    assert tables.objective == engine.objective and tables.n_iter == engine.n_iter
    assert (tables.centers != engine.centers).nnz == 0
    assert tables.sample is None


# -- the objective of given labels ----------------------------------------------------------------


def test_kmeans_objective_by_hand() -> None:
    """u0 = (4, -, 2), u1 = (2, -, -) in cluster 0; u2 = (-, 5, 1), u3 = (-, 3, 3) in 1."""
    R = sp.csr_matrix(np.array([[4.0, 0, 2], [2, 0, 0], [0, 5, 1], [0, 3, 3]]))
    labels = np.array([0, 0, 1, 1])
    # leave-one-out: each user against the other member of their pair, over co-rated movies
    # u0-u1: (4-2)² = 4 each; u2-u3: (5-3)² + (1-3)² = 8 each
    assert kmeans_objective(R, labels, "euclidean") == pytest.approx(4 + 4 + 8 + 8)
    # plain: centroids (3, -, 2) and (-, 4, 2): 1 + 1 and 2 + 2
    assert kmeans_objective(R, labels, "euclidean", leave_one_out=False) == pytest.approx(6)
    # RMS: the mean squared difference over co-rated movies, squared by the objective
    assert kmeans_objective(R, labels, "euclidean_rms", leave_one_out=False) == pytest.approx(
        0.5 + 1 + 1 + 1
    )
    cosine = (
        (1 - 16 / math.sqrt(20 * 13))  # u0 . (3, 2) over movies 0 and 2
        + 0  # u1 = (2) against (3): parallel
        + (1 - 22 / math.sqrt(26 * 20))  # u2 . (4, 2) over movies 1 and 2
        + (1 - 18 / math.sqrt(18 * 20))  # u3 . (4, 2)
    )
    assert kmeans_objective(R, labels, "cosine", leave_one_out=False) == pytest.approx(cosine)


@pytest.mark.parametrize("leave_one_out", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_kmeans_objective_equals_a_loop_over_users(
    blurred, metric: str, leave_one_out: bool
) -> None:
    R = blurred[::2]
    labels = np.random.default_rng(1).integers(0, 3, R.shape[0])
    rows = naive.dense_rows(R)
    fallback = naive.largest_value(rows, metric)
    expected = 0.0
    for u, user in enumerate(rows):
        members = labels == labels[u]
        if leave_one_out:
            members[u] = False
        rated = (rows[members] != 0).sum(axis=0)
        center = np.divide(
            rows[members].sum(axis=0), rated, out=np.zeros(R.shape[1]), where=rated > 0
        )
        distance = naive.METRICS[metric](user, center)
        distance = fallback if distance is None else distance
        expected += distance if metric == "cosine" else distance**2
    objective = kmeans_objective(R, labels, metric, leave_one_out=leave_one_out)
    assert objective == pytest.approx(expected)


def test_kmeans_objective_refuses_bad_labels(blurred) -> None:
    with pytest.raises(ConfigError, match="one per user"):
        kmeans_objective(blurred, np.zeros(3, dtype=int))
    with pytest.raises(ConfigError, match=">= 0"):
        kmeans_objective(blurred, -np.ones(blurred.shape[0], dtype=int))


# -- the sampled form -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def groups() -> tuple[sp.csr_matrix, np.ndarray]:
    return planted(150)  # 600 users in 4 planted taste groups


@pytest.mark.parametrize("metric", METRICS)
def test_sampled_form_is_as_good_as_the_full_form_on_planted_groups(groups, metric: str) -> None:
    R, truth = groups
    full = masked_kmeans(R, 4, metric, n_init=2, seed=0, sample_size=None)
    sampled = masked_kmeans(R, 4, metric, n_init=2, seed=0, sample_size=120)
    assert len(sampled.sample) == 120 and np.all(np.diff(sampled.sample) > 0)
    assert adjusted_rand_score(truth, sampled.labels) >= 0.95
    full_objective = kmeans_objective(R, full.labels, metric)
    assert kmeans_objective(R, sampled.labels, metric) <= full_objective * 1.01


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_sampled_form_is_reproducible_from_a_seed(blurred, metric: str) -> None:
    first = masked_kmeans(blurred, 4, metric, seed=7, sample_size=50)
    second = masked_kmeans(blurred, 4, metric, seed=np.random.default_rng(7), sample_size=50)
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.sample, second.sample)
    assert first.objective == second.objective
    assert (first.centers != second.centers).nnz == 0
    other = masked_kmeans(blurred, 4, metric, seed=8, sample_size=50)
    assert not np.array_equal(first.sample, other.sample)


def test_sampled_form_finds_two_obvious_groups_from_a_small_sample() -> None:
    """Six users, two tastes over disjoint movies; a sample of two users (one of each, or
    not) still ends with the two groups after the steps on all users."""
    R = sp.csr_matrix(
        np.array(
            [
                [9.0, 8, 9, 1, 0, 0],
                [8, 9, 0, 0, 1, 0],
                [9, 9, 8, 0, 0, 2],
                [1, 0, 0, 9, 8, 9],
                [0, 2, 0, 8, 9, 8],
                [0, 0, 1, 9, 9, 9],
            ]
        )
    )
    for seed in range(5):
        result = masked_kmeans(R, 2, "euclidean", seed=seed, sample_size=3)
        assert adjusted_rand_score([0, 0, 0, 1, 1, 1], result.labels) == 1.0


def test_at_most_sample_size_users_is_the_full_form(blurred) -> None:
    full = masked_kmeans(blurred, 3, "cosine", seed=2, sample_size=None)
    same = masked_kmeans(blurred, 3, "cosine", seed=2, sample_size=blurred.shape[0])
    np.testing.assert_array_equal(same.labels, full.labels)
    assert same.objective == full.objective and same.sample is None


def test_bad_sample_size_and_products_name_the_setting(blurred) -> None:
    with pytest.raises(ConfigError, match="sample_size=2 is fewer than n_clusters=3"):
        masked_kmeans(blurred, 3, sample_size=2)
    with pytest.raises(ConfigError, match="sample_size"):
        masked_kmeans(blurred, 3, sample_size=0)
    with pytest.raises(ConfigError, match="products"):
        _masked_kmeans(blurred, 3, products="dense")


def test_the_entry_point_the_sweep_and_the_estimator_pass_the_sample_size(groups) -> None:
    R, _ = groups
    assert cluster_users(R, 4, "euclidean", kmeans_sample_size=100).sample.size == 100
    assert cluster_users(R, 4, "euclidean", kmeans_sample_size=None).sample is None
    sweep = sweep_n_clusters(R, "cosine", [2, 3], kmeans_sample_size=100)
    assert all(p.clustering.sample.size == 100 for p in sweep.points)
    model = MaskedKMeans(4, "euclidean", sample_size=100).fit(R)
    np.testing.assert_array_equal(
        model.labels_, masked_kmeans(R, 4, "euclidean", sample_size=100).labels
    )


def test_tables_over_the_budget_fall_back_to_the_engine_products(blurred, monkeypatch) -> None:
    import clusterrec.clustering.kmeans as kmeans

    expected = masked_kmeans(blurred, 3, "cosine", seed=1, sample_size=None)
    monkeypatch.setattr(kmeans, "_TABLE_BUDGET", 0)
    monkeypatch.setattr(kmeans, "_update_centers", _counted(kmeans._update_centers))
    result = masked_kmeans(blurred, 3, "cosine", seed=1, sample_size=None)
    assert kmeans._update_centers.calls > 0
    np.testing.assert_array_equal(result.labels, expected.labels)
    assert result.objective == expected.objective


def _counted(function):
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        return function(*args, **kwargs)

    wrapper.calls = 0
    return wrapper
