"""The default model: no test rating reaches training, neighbour features of training pairs
are out of fold, the clusters it is given are the ones it uses, its parts can be switched off.

(The contract every recommender keeps, save/load and scale clipping included, is in
test_contract.py.)"""

from __future__ import annotations

from functools import partial

import helpers
import numpy as np
import pytest

from clusterrec.errors import ConfigError
from clusterrec.evaluation.splits import kfold_assignments
from clusterrec.models import neighbour_features
from clusterrec.models.cluster_hybrid import PART_NAMES, ClusterHybridRecommender
from clusterrec.models.neighbour_features import (
    NeighbourIndex,
    feature_parts,
    out_of_fold_features,
)

random_ratings = partial(helpers.random_ratings, common_items=3, taste_groups=2)
#: Small and quick: the measured defaults, fewer epochs and one seed.
QUICK = {"epochs": 4, "n_seeds": 1, "n_snapshots": 1}


def quick_model(**kwargs) -> ClusterHybridRecommender:
    return ClusterHybridRecommender(n_clusters=2, seed=0, settings=QUICK, **kwargs)


def test_noise_in_the_test_fold_changes_nothing_the_model_learned() -> None:
    ratings = random_ratings(50, 30, 0.35, seed=4)
    fold = kfold_assignments(len(ratings), 5, seed=1)
    rng = np.random.default_rng(9)
    noisy_values = ratings.rating.copy()
    noisy_values[fold == 0] = rng.integers(1, 6, int((fold == 0).sum()))
    noisy = type(ratings)(
        ratings.user, ratings.item, noisy_values, ratings.time, ratings.user_labels,
        ratings.item_labels, ratings.scale,
    )  # fmt: skip
    train_pairs = (ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    predictions = []
    for data in (ratings, noisy):
        model = quick_model().fit(data.take(fold != 0))
        predictions.append(model.predict(*train_pairs).rating)
    np.testing.assert_array_equal(predictions[0], predictions[1])


def test_implicit_feedback_is_exactly_the_training_pairs() -> None:
    ratings = random_ratings(40, 25, 0.3, seed=2)
    fold = kfold_assignments(len(ratings), 4, seed=0)
    train = ratings.take(fold != 0)
    model = quick_model().fit(train)
    users, items, _ = model.core_.train
    seen = set(zip(model.user_index_[users], model.item_index_[items], strict=True))
    expected = set(zip(train.user_labels[train.user], train.item_labels[train.item], strict=True))
    assert seen == expected


def _oof(users, items, values, n_users, n_items, labels, part):
    features, _ = out_of_fold_features(
        users, items, values, n_users, n_items, labels, part,
        k_user=5, k_item=5, shrink=100.0, user_mode="raters", unit=1.0,
    )  # fmt: skip
    return features


def test_training_features_of_a_part_never_see_that_part_s_ratings() -> None:
    ratings = random_ratings(40, 30, 0.4, seed=3)
    users, items = ratings.user.astype(np.int64), ratings.item.astype(np.int64)
    values = ratings.rating.astype(np.float64)
    labels = np.arange(ratings.n_users) % 2
    part = feature_parts(len(values), 5, seed=0)
    shape = (users, items)
    before = _oof(*shape, values, ratings.n_users, ratings.n_items, labels, part)
    changed = values.copy()
    mine = part == 2
    changed[mine] = 6 - changed[mine]  # every rating of part 2 flipped on the scale
    after = _oof(*shape, changed, ratings.n_users, ratings.n_items, labels, part)
    np.testing.assert_array_equal(before[mine], after[mine])
    # ... while features built in sample (an index on every rating) would move with them
    inside = NeighbourIndex.build(
        users, items, values, ratings.n_users, ratings.n_items, labels,
        shrink=100.0, user_mode="raters", k_user=5,
    )  # fmt: skip
    inside_changed = NeighbourIndex.build(
        users, items, changed, ratings.n_users, ratings.n_items, labels,
        shrink=100.0, user_mode="raters", k_user=5,
    )  # fmt: skip
    assert not np.array_equal(
        inside.features(users[mine], items[mine], 5, 5),
        inside_changed.features(users[mine], items[mine], 5, 5),
    )


def test_given_clusters_are_the_ones_used() -> None:
    ratings = random_ratings(30, 20, 0.4, seed=5)
    labels = np.arange(ratings.n_users) % 3
    model = ClusterHybridRecommender(n_clusters=3, seed=0, settings=QUICK)
    model.fit(ratings, labels=labels)
    np.testing.assert_array_equal(model.labels_, labels)
    with pytest.raises(ConfigError, match="labels must"):
        ClusterHybridRecommender(n_clusters=2, settings=QUICK).fit(ratings, labels=labels)


@pytest.mark.parametrize("part", PART_NAMES)
def test_each_part_can_be_switched_off(part: str) -> None:
    ratings = random_ratings(30, 20, 0.4, seed=6)
    model = quick_model(without=(part,)).fit(ratings)
    assert not getattr(model.core_.parts, part)
    predicted = model.predict(ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    assert np.isfinite(predicted.rating).all()


def test_unknown_parts_and_settings_are_config_errors() -> None:
    ratings = random_ratings(20, 15, 0.4, seed=7)
    with pytest.raises(ConfigError, match="parts that can be switched off"):
        quick_model(without=("magic",)).fit(ratings)
    with pytest.raises(ConfigError, match="unknown settings"):
        ClusterHybridRecommender(settings={"n_factorz": 3}).fit(ratings)


@pytest.mark.parametrize(
    "settings",
    [{"n_seeds": 0}, {"n_neighbors": 0}, {"epochs": 0}, {"n_factors": "x"},
     {"user_mode": "bogus"}, {"n_feature_folds": 1}, {"lr": 0.0}, {"max_similar": 0},
     {"max_similar": 19}],
)  # fmt: skip
def test_settings_out_of_range_are_config_errors_not_nan(settings: dict) -> None:
    ratings = random_ratings(20, 15, 0.4, seed=8)
    with pytest.raises(ConfigError, match="setting"):
        ClusterHybridRecommender(n_clusters=2, settings=settings).fit(ratings)


def test_without_clusters_ignores_given_labels_neighbours_come_from_everyone() -> None:
    ratings = random_ratings(30, 20, 0.4, seed=5)
    labels = np.arange(ratings.n_users) % 2
    model = quick_model(without=("clusters",)).fit(ratings, labels=labels)
    assert (model.core_.labels == 0).all()


def _today_user_similarity(binary, labels, max_similar):
    """The similarity as it was built before the bounded form: the whole sparse product."""
    dense = neighbour_features.jaccard_similarity(binary, labels).toarray()
    return neighbour_features._Similarity(dense=dense)


def _today_item_similarity(resid_ui, resid_iu, shrink, max_similar):
    dense = neighbour_features.pearson_baseline_similarity(resid_ui, resid_iu, shrink).toarray()
    return neighbour_features._Similarity(dense=dense)


def test_small_data_predicts_exactly_as_with_the_whole_sparse_products(monkeypatch) -> None:
    """Below the dense limit the similarities are built in row blocks, never pruned: the
    predictions are those of the former whole-product form, bit for bit."""
    ratings = random_ratings(40, 30, 0.4, seed=11)
    pairs = (ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    now = quick_model().fit(ratings).predict(*pairs).rating
    monkeypatch.setattr(neighbour_features, "user_similarity", _today_user_similarity)
    monkeypatch.setattr(neighbour_features, "item_similarity", _today_item_similarity)
    before = quick_model().fit(ratings).predict(*pairs).rating
    np.testing.assert_array_equal(now, before)


def test_the_bounded_form_fits_and_keeps_at_most_max_similar_per_row(monkeypatch) -> None:
    monkeypatch.setattr(neighbour_features, "DENSE_SIMILARITY_LIMIT", 0)  # always pruned
    ratings = random_ratings(40, 30, 0.4, seed=12)
    model = ClusterHybridRecommender(
        n_clusters=2, seed=0, settings={**QUICK, "max_similar": 20, "n_neighbors": 5}
    ).fit(ratings)
    for index in model.core_._prediction_indices():
        for sim in (index.user_sim, index.item_sim):
            assert sim.dense is None and np.diff(sim.pruned.indptr).max() <= 20
    predicted = model.predict(ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    assert np.isfinite(predicted.rating).all()
