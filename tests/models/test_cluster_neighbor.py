"""The per-cluster neural recommender: rows, neighbours, presets, persistence, honesty."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import helpers
import numpy as np
import pytest
import scipy.sparse as sp
from torch import nn

from clusterrec.data.readers import read_ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.cross_validation import cross_validate
from clusterrec.evaluation.metrics import mae
from clusterrec.evaluation.users_protocol import evaluate_user_split
from clusterrec.models.baselines import GlobalMean
from clusterrec.models.cluster_neighbor import (
    ClusterNeighborRecommender,
    split_users_within_clusters,
)
from clusterrec.models.inputs import RatingLookup, neighbor_ratings, rated_pairs
from clusterrec.models.neighbors import neighbors_in_clusters
from clusterrec.models.networks import build_network
from clusterrec.models.presets import PRESETS

FAST = {"n_clusters": 2, "seed": 0}


#: random_ratings(): 60 users x 40 items, 1..5 with two planted taste groups, every user
#: rates the first 3 items.
random_ratings = partial(helpers.random_ratings, common_items=3, taste_groups=2)


def small_model(preset: str = "default", **params) -> ClusterNeighborRecommender:
    config = PRESETS[preset]
    from dataclasses import replace

    quick = replace(config, epochs=min(config.epochs, 5))
    return ClusterNeighborRecommender(**{**FAST, **params}, preset=preset, config=quick)


# -- training rows --------------------------------------------------------------------------------


def test_training_rows_match_a_naive_construction() -> None:
    R = sp.csr_matrix(
        np.array(
            [
                [5, 0, 3, 0],
                [4, 2, 0, 0],
                [0, 0, 1, 2],
                [1, 5, 5, 0],
            ],
            dtype=np.float32,
        )
    )
    neighbors = np.array([[1, 3], [0, -1], [3, 0], [2, 1]])
    users, items, targets = rated_pairs(R, np.array([0, 2, 3]))
    features = neighbor_ratings(RatingLookup(R), neighbors, users, items)
    dense = R.toarray()
    expected_rows = []
    for u in (0, 2, 3):
        for i in range(4):
            if dense[u, i] > 0:
                row = [dense[v, i] if v >= 0 else 0.0 for v in neighbors[u]]
                expected_rows.append((u, i, dense[u, i], row))
    assert list(zip(users, items, targets, features.tolist(), strict=True)) == expected_rows


def test_rating_lookup_against_the_dense_matrix() -> None:
    rng = np.random.default_rng(3)
    dense = np.where(rng.random((30, 25)) < 0.2, rng.integers(1, 6, (30, 25)), 0)
    lookup = RatingLookup(sp.csr_matrix(dense.astype(np.float32)))
    users = rng.integers(-1, 30, 500)
    items = rng.integers(-1, 25, 500)
    expected = np.where((users >= 0) & (items >= 0), dense[users, items], 0)
    assert np.array_equal(lookup(users, items), expected.astype(np.float32))


# -- neighbours -----------------------------------------------------------------------------------


def test_neighbours_stay_inside_the_cluster_and_among_candidates() -> None:
    R = random_ratings().matrix()
    labels = np.arange(R.shape[0]) % 3
    candidates = np.arange(R.shape[0]) % 4 != 0
    idx, dist = neighbors_in_clusters(R, labels, 5, candidates=candidates)
    n = R.shape[0]
    assert not (idx == np.arange(n)[:, None]).any()
    real = idx >= 0
    assert (labels[idx[real]] == np.repeat(labels, 5).reshape(n, 5)[real]).all()
    assert candidates[idx[real]].all()
    assert np.isinf(dist[~real]).all() and (np.diff(dist, axis=1) >= 0).all()


@pytest.mark.realdata
def test_no_user_is_their_own_neighbour_on_movielens(ml100k_dir: Path) -> None:
    ratings = read_ratings(ml100k_dir / "u.data")
    model = ClusterNeighborRecommender(n_clusters=5, preset="notebook", seed=0)
    model._remember_vocabulary(ratings.compact())
    R = ratings.compact().matrix()
    from clusterrec.models.cluster_neighbor import jaccard_clusters

    labels = jaccard_clusters(R, 5, seed=0)
    idx, _ = neighbors_in_clusters(R, labels, 6)
    assert not (idx == np.arange(R.shape[0])[:, None]).any()
    assert (idx >= 0).all()  # every ML-100K cluster has more than 6 users
    assert (labels[idx] == labels[:, None]).all()


# -- presets and parameters -----------------------------------------------------------------------


def test_notebook_preset_builds_the_original_layers() -> None:
    config = PRESETS["notebook"]
    network = build_network(config.n_neighbors, config.hidden)
    sizes = [(m.in_features, m.out_features) for m in network if isinstance(m, nn.Linear)]
    assert sizes == [(6, 12), (12, 24), (24, 48), (48, 1)]
    assert sum(isinstance(m, nn.ReLU) for m in network) == 3
    assert (config.l2, config.learning_rate, config.epochs, config.batch_size) == (
        0.01,
        1e-3,
        64,
        128,
    )
    assert (config.inputs, config.target) == ("ratings", "rating")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_clusters": 500}, "exceeds"),
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"preset": "huge"}, "unknown preset"),
    ],
)
def test_bad_parameters_are_config_errors(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ClusterNeighborRecommender(**{**FAST, **params}).fit(random_ratings())


# -- predictions ----------------------------------------------------------------------------------


def test_fallback_is_the_bias_baseline_and_flagged() -> None:
    ratings = random_ratings()
    model = small_model("notebook").fit(ratings)
    users = np.repeat(model.user_index_[:5].to_numpy(), 3)
    items = np.tile(["i0", "nope", "i7"], 5)
    predicted = model.predict(np.append(users, "stranger"), np.append(items, "i1"))
    unknown_item = items == "nope"
    assert predicted.fallback[:-1][unknown_item].all()
    assert predicted.fallback[-1]
    codes_u, codes_i = model.user_codes(users), model.item_codes(items)
    baseline = np.clip(model._baseline(codes_u, codes_i), 1, 5)
    flagged = predicted.fallback[:-1]
    assert np.allclose(predicted.rating[:-1][flagged], baseline[flagged])
    assert ((predicted.rating >= 1) & (predicted.rating <= 5)).all()


def test_same_seed_same_predictions_and_recommendations() -> None:
    ratings = random_ratings()
    first = small_model().fit(ratings)
    second = small_model().fit(ratings)
    users, items = ratings.user_labels[ratings.user], ratings.item_labels[ratings.item]
    assert np.array_equal(first.predict(users, items).rating, second.predict(users, items).rating)
    assert first.recommend("u3").equals(second.recommend("u3"))


def test_recommend_excludes_rated_items_and_ranks_by_prediction() -> None:
    ratings = random_ratings()
    model = small_model().fit(ratings)
    table = model.recommend("u0", n=5)
    rated = set(ratings.item_labels[ratings.item[ratings.user_labels[ratings.user] == "u0"]])
    assert len(table) == 5 and not rated & set(table["item"])
    assert (np.diff(table["predicted_rating"]) <= 0).all()
    with pytest.raises(DataError, match="not in the training data"):
        model.recommend("stranger")


# -- persistence ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["notebook", "default"])
def test_save_load_gives_identical_predictions(tmp_path: Path, preset: str) -> None:
    ratings = random_ratings()
    model = small_model(preset).fit(ratings)
    model.save(tmp_path / "m")
    loaded = ClusterNeighborRecommender.load(tmp_path / "m")
    users = np.append(ratings.user_labels[ratings.user], ["stranger", "u1"])
    items = np.append(ratings.item_labels[ratings.item], ["i1", "unknown"])
    before, after = model.predict(users, items), loaded.predict(users, items)
    assert np.array_equal(before.rating, after.rating)
    assert np.array_equal(before.fallback, after.fallback)
    assert loaded.recommend("u2").equals(model.recommend("u2"))


def test_load_refuses_other_versions_and_damage(tmp_path: Path) -> None:
    folder = small_model("notebook").fit(random_ratings()).save(tmp_path / "m")
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(DataError, match="format version 99"):
        ClusterNeighborRecommender.load(folder)
    (folder / "model.json").write_text(json.dumps(meta))
    (folder / "network_1.pt").write_bytes(b"not a tensor file")
    with pytest.raises(DataError, match="damaged model folder"):
        ClusterNeighborRecommender.load(folder)
    with pytest.raises(DataError, match="no model.json"):
        ClusterNeighborRecommender.load(tmp_path / "nothing")


# -- honest evaluation ----------------------------------------------------------------------------


def test_users_split_holds_out_users_inside_every_cluster() -> None:
    labels = np.repeat([0, 1, 2], [10, 5, 1])
    held = split_users_within_clusters(labels, 0.2, seed=0)
    assert [held[labels == c].sum() for c in range(3)] == [2, 1, 0]


def test_users_protocol_never_uses_a_held_out_users_ratings() -> None:
    ratings = random_ratings()
    model = small_model()
    result = evaluate_user_split(model, ratings, 0.25)
    held = model.held_out_users_
    assert not held[model.neighbors_[model.neighbors_ >= 0]].any()
    assert result.overall["test_users"] == held.sum()
    # Changing every held-out rating changes none of the training users' predictions.
    changed = ratings.take(np.ones(len(ratings), bool))
    is_held = np.isin(ratings.user_labels[ratings.user], model.user_index_[held])
    changed.rating[is_held] = 6 - changed.rating[is_held]
    other = small_model()
    other.fit_user_split(changed, 0.25)
    train_users = model.user_index_[~held]
    mine = np.isin(ratings.user_labels[ratings.user], train_users)
    users, items = ratings.user_labels[ratings.user][mine], ratings.item_labels[ratings.item][mine]
    assert np.array_equal(model.predict(users, items).rating, other.predict(users, items).rating)


def test_kfold_never_lets_a_planted_test_rating_into_training() -> None:
    ratings = random_ratings()
    folds = np.arange(len(ratings)) % 3
    planted = 7  # a record of fold 1
    assert folds[planted] == 1
    predictions = []
    for value in (1.0, 5.0):
        variant = ratings.take(np.ones(len(ratings), bool))
        variant.rating[planted] = value
        train = variant.take(folds != 1)
        model = small_model().fit(train)
        user, item = (
            variant.user_labels[variant.user[planted]],
            variant.item_labels[variant.item[planted]],
        )
        code = model.user_codes([user])[0]
        assert model.item_codes([item])[0] not in model._rated_items(code)
        test = variant.take(folds == 1)
        predictions.append(
            model.predict(test.user_labels[test.user], test.item_labels[test.item]).rating
        )
    assert np.array_equal(predictions[0], predictions[1])


@pytest.mark.realdata
def test_default_model_beats_the_global_mean_by_15_percent_on_movielens(ml100k_dir: Path) -> None:
    ratings = read_ratings(ml100k_dir / "u.data")
    result = cross_validate(
        ratings,
        {"clusterrec": lambda: ClusterNeighborRecommender(seed=0), "mean": GlobalMean},
        folds=5,
        seed=0,
        top_n=10,
    )
    summary = result.summary()
    assert summary["clusterrec"]["mae"] <= 0.85 * summary["mean"]["mae"]
    assert mae(np.array([1.0]), np.array([1.0])) == 0.0


# -- a clustering given from outside --------------------------------------------------------------


def test_given_labels_are_the_model_s_clusters() -> None:
    ratings = random_ratings()
    labels = np.arange(ratings.n_users) % 2  # not what Jaccard k-medoids would find
    model = small_model().fit(ratings, labels=labels)
    np.testing.assert_array_equal(model.labels_, labels)
    assert not np.array_equal(small_model().fit(ratings).labels_, labels)
    split = small_model()
    held = split.fit_user_split(ratings, 0.25, labels=labels)
    np.testing.assert_array_equal(split.labels_, labels)
    for cluster in (0, 1):
        assert held[labels == cluster].any() and not held[labels == cluster].all()
    result = evaluate_user_split(small_model(), ratings, 0.25, labels=labels)
    assert result.clusters["users"].tolist() == np.bincount(labels).tolist()


def test_given_labels_follow_the_ratings_user_order_when_users_drop_out() -> None:
    ratings = random_ratings()
    # a user without ratings in the vocabulary: compact() drops it, its label goes with it
    from clusterrec.data.ratings import Ratings

    padded = Ratings.from_records(
        ratings.user_labels[ratings.user], ratings.item_labels[ratings.item], ratings.rating
    )
    padded = padded.__class__(
        **{
            **padded.__dict__,
            "user_labels": np.append(padded.user_labels, "nobody"),
        }
    )
    labels = np.append(np.arange(ratings.n_users) % 2, 1)
    model = small_model().fit(padded, labels=labels)
    assert "nobody" not in set(model.user_index_)
    np.testing.assert_array_equal(model.labels_, labels[:-1])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros(59, dtype=int), "one cluster per user of the ratings"),
        (np.full(60, 2), r"whole numbers 0\.\.1"),
        (np.full(60, -1), r"whole numbers 0\.\.1"),
        (np.full(60, 0.5), r"whole numbers 0\.\.1"),
        (np.zeros((60, 1), dtype=int), "one cluster per user of the ratings"),
    ],
)
def test_bad_given_labels_are_config_errors(labels: np.ndarray, message: str) -> None:
    ratings = random_ratings()
    with pytest.raises(ConfigError, match=message):
        small_model().fit(ratings, labels=labels)
    with pytest.raises(ConfigError, match=message):
        small_model().fit_user_split(ratings, 0.2, labels=labels)


def test_progress_is_told_each_cluster() -> None:
    steps: list[str] = []
    small_model(progress=steps.append).fit(random_ratings())
    assert steps == ["training cluster 1/2", "training cluster 2/2"]


def test_max_rows_bounds_each_cluster_s_training_rows_and_every_user_is_still_predicted(
    tmp_path: Path,
) -> None:
    ratings = helpers.random_ratings(60, 40, 0.5, seed=8, cover=True)
    fast = dict(PRESETS["default"].as_dict(), epochs=2, hidden=(4,))
    fast["hidden"] = tuple(fast["hidden"])
    config = PRESETS["default"].__class__(**fast)
    capped = ClusterNeighborRecommender(2, seed=0, config=config, max_rows=50).fit(ratings)
    full = ClusterNeighborRecommender(2, seed=0, config=config).fit(ratings)
    assert all(s.rows == 50 for s in capped.summaries_)  # every cluster has more than 50
    assert all(s.rows > 50 for s in full.summaries_)
    users = np.repeat(np.arange(60), 2)
    items = np.tile([0, 1], 60)
    assert np.isfinite(capped.predict_codes(users, items).rating).all()
    again = ClusterNeighborRecommender(2, seed=0, config=config, max_rows=50).fit(ratings)
    np.testing.assert_array_equal(
        again.predict_codes(users, items).rating, capped.predict_codes(users, items).rating
    )
    loaded = ClusterNeighborRecommender.load(capped.save(tmp_path / "m"))
    assert loaded.max_rows == 50
    with pytest.raises(ConfigError, match="max_rows"):
        ClusterNeighborRecommender(2, max_rows=0).fit(ratings)


def test_predictions_in_blocks_equal_predictions_at_once(monkeypatch) -> None:
    from clusterrec.models import cluster_neighbor

    ratings = helpers.random_ratings(40, 30, 0.4, seed=9, cover=True)
    model = ClusterNeighborRecommender(2, seed=0, preset="notebook").fit(ratings)
    users = np.repeat(np.arange(40), 30)
    items = np.tile(np.arange(30), 40)
    whole = model.predict_codes(users, items)
    monkeypatch.setattr(cluster_neighbor, "_PREDICT_BLOCK", 7)
    blocked = model.predict_codes(users, items)
    np.testing.assert_allclose(blocked.rating, whole.rating, rtol=1e-6)  # float32 matmul order
    np.testing.assert_array_equal(blocked.fallback, whole.fallback)
