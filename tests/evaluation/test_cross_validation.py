"""Metrics against hand-computed values, splits, split files, cross-validation and leakage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clusterrec.data.ratings import Ratings, RatingScale
from clusterrec.data.readers import read_ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.cross_validation import cross_validate, evaluate_top_n
from clusterrec.evaluation.metrics import (
    default_relevance_threshold,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
    top_n_scores,
)
from clusterrec.evaluation.splits import (
    assignments_for_kept_records,
    kfold_assignments,
    load_split_file,
)
from clusterrec.models.baselines import BiasBaseline, GlobalMean, UserKNN

MODELS = {"mean": GlobalMean, "bias": BiasBaseline, "userknn": UserKNN}


def random_ratings(n_users: int, n_items: int, density: float, seed: int) -> Ratings:
    """Random 1..5 ratings where every user has at least two ratings."""
    rng = np.random.default_rng(seed)
    rated = rng.random((n_users, n_items)) < density
    for column in (0, 1):
        rated[np.arange(n_users), (np.arange(n_users) + column) % n_items] = True
    users, items = np.nonzero(rated)
    values = rng.integers(1, 6, len(users))
    return Ratings.from_records([f"u{u}" for u in users], [f"i{i}" for i in items], values)


# -- metrics --------------------------------------------------------------------------------------


def test_error_metrics_match_hand_computed_values():
    y, y_hat = [1, 2, 3], [2, 2, 5]
    assert mae(y, y_hat) == pytest.approx(1.0)
    assert rmse(y, y_hat) == pytest.approx(math.sqrt(5 / 3))
    with pytest.raises(ConfigError):
        rmse([1, 2], [1])
    with pytest.raises(DataError):
        mae([], [])


def test_top_n_metrics_on_a_tiny_ranking():
    ranking = [[10, 20, 30, 40], [7, 8], [1, 2, 3]]
    relevant = [{20, 40, 99}, {8}, set()]  # the third user has nothing relevant: left out
    scores = top_n_scores(ranking, relevant, k=3)
    assert scores.n_users == 2
    # user 1: hits at rank 2 only; 3 relevant items. user 2: hit at rank 2 of a 2-item list.
    p1, p2 = 1 / 3, 1 / 3
    r1, r2 = 1 / 3, 1.0
    ndcg1 = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    ndcg2 = (1 / math.log2(3)) / 1.0
    assert scores.precision == pytest.approx((p1 + p2) / 2)
    assert scores.recall == pytest.approx((r1 + r2) / 2)
    assert scores.ndcg == pytest.approx((ndcg1 + ndcg2) / 2)
    assert precision_at_k(ranking, relevant, 3) == pytest.approx(scores.precision)
    assert recall_at_k(ranking, relevant, 3) == pytest.approx(scores.recall)
    assert ndcg_at_k(ranking, relevant, 3) == pytest.approx(scores.ndcg)


def test_a_perfect_ranking_scores_one_and_no_relevant_user_gives_nan():
    assert ndcg_at_k(np.array([[3, 1, 2]]), [[1, 2, 3]], k=3) == pytest.approx(1.0)
    assert recall_at_k([[5, 6]], [[6, 5]], k=2) == pytest.approx(1.0)
    empty = top_n_scores([[1, 2]], [[]], k=2)
    assert empty.n_users == 0 and math.isnan(empty.ndcg)
    with pytest.raises(ConfigError):
        top_n_scores([[1]], [[1], [2]], k=1)


def test_default_relevance_threshold_is_80_percent_of_the_top():
    assert default_relevance_threshold(RatingScale(1, 5, 1)) == pytest.approx(4)
    assert default_relevance_threshold(RatingScale(1, 10, 1)) == pytest.approx(8)


# -- splits ---------------------------------------------------------------------------------------


def test_kfold_assignments_are_balanced_deterministic_and_a_partition():
    folds = kfold_assignments(103, folds=5, seed=7)
    assert folds.shape == (103,) and set(folds) == set(range(5))
    counts = np.bincount(folds)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 103
    np.testing.assert_array_equal(folds, kfold_assignments(103, folds=5, seed=7))
    assert not np.array_equal(folds, kfold_assignments(103, folds=5, seed=8))
    with pytest.raises(ConfigError):
        kfold_assignments(10, folds=1)
    with pytest.raises(DataError):
        kfold_assignments(3, folds=5)


def test_load_split_file_round_trip(tmp_path):
    path = tmp_path / "folds.npy"
    np.save(path, np.array([0, 1, 2, 0, 1, 2], dtype=np.int32))
    np.testing.assert_array_equal(load_split_file(path, 6, 3), [0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([0, 1, 0]), "3 fold numbers for 4 records"),
        (np.array([0.0, 1.0, 0.0, 1.0]), "must be integers"),
        (np.array([0, 1, 2, 1]), "fold number 2"),
        (np.array([0, -1, 0, 1]), "fold number -1"),
        (np.array([0, 0, 0, 0]), "fold 1 has no record"),
        (np.array([[0, 1], [0, 1]]), "1-D"),
    ],
)
def test_load_split_file_rejects_bad_files_naming_them(tmp_path, array, message):
    path = tmp_path / "folds.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=message) as raised:
        load_split_file(path, 4, 2)
    assert str(path) in str(raised.value)


def test_load_split_file_refuses_object_arrays_archives_and_missing_files(tmp_path):
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([0, 1, "x", None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="object array"):
        load_split_file(objects, 4, 2)
    archive = tmp_path / "folds.npz"
    np.savez(archive, folds=np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match="npz"):
        load_split_file(archive, 4, 2)
    garbage = tmp_path / "garbage.npy"
    garbage.write_text("not numpy")
    with pytest.raises(DataError, match="garbage.npy"):
        load_split_file(garbage, 4, 2)
    with pytest.raises(DataError, match="no such"):
        load_split_file(tmp_path / "absent.npy", 4, 2)


def test_assignments_for_kept_records_selects_the_kept_file_records():
    file_folds = np.array([0, 1, 2, 0, 1])
    np.testing.assert_array_equal(assignments_for_kept_records(file_folds, [0, 2, 4]), [0, 2, 1])
    mask = np.array([True, False, True, True, False])
    np.testing.assert_array_equal(assignments_for_kept_records(file_folds, mask), [0, 2, 0])
    with pytest.raises(DataError):
        assignments_for_kept_records(file_folds, [5])


# -- cross-validation -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_ratings() -> Ratings:
    return random_ratings(40, 30, 0.3, seed=5)


def test_cross_validate_reports_every_fold_and_a_summary(small_ratings):
    result = cross_validate(small_ratings, MODELS, folds=3, seed=1, progress=True)
    assert len(result.folds) == 9
    assert set(result.folds["model"]) == set(MODELS)
    assert (result.folds["n_train"] + result.folds["n_test"] == len(small_ratings)).all()
    summary = result.summary()
    for name in MODELS:
        scores = summary[name]
        for key in ("rmse", "rmse_std", "mae", "mae_std", "fit_seconds", "predict_seconds"):
            assert np.isfinite(scores[key])
        for key in ("fallback_share", "precision_at_10", "recall_at_10", "ndcg_at_10"):
            assert 0 <= scores[key] <= 1
        per_fold = result.folds.loc[result.folds["model"] == name, "rmse"]
        assert scores["rmse_std"] == pytest.approx(np.std(per_fold, ddof=1))
    assert list(result.to_frame().index) == list(MODELS)
    table = result.to_markdown()
    assert "3-fold cross-validation over ratings, seed 1" in table
    assert "every model fitted on the training folds only" in table
    again = cross_validate(small_ratings, MODELS, folds=3, seed=1)
    columns = ["rmse", "mae", "fallback_share", "ndcg_at_10"]
    assert again.folds[columns].equals(result.folds[columns])  # deterministic


def test_cross_validate_can_rank_a_sample_of_users_and_says_so(small_ratings):
    steps = []
    full = cross_validate(small_ratings, MODELS, folds=3, seed=1)
    sample = cross_validate(
        small_ratings, MODELS, folds=3, seed=1, rank_users=4, on_step=steps.append
    )
    assert (sample.folds["n_ranked_users"] <= 4).all()
    assert (full.folds["n_ranked_users"] > 4).all()
    assert sample.folds["rmse"].equals(full.folds["rmse"])  # errors still over every rating
    assert "a seeded sample of at most 4 users per fold" in sample.protocol
    assert steps[:2] == [f"fold 1/3: {name}" for name in list(MODELS)[:2]]


def test_cross_validate_checks_given_assignments(small_ratings):
    n = len(small_ratings)
    with pytest.raises(DataError, match="fold numbers"):
        cross_validate(small_ratings, MODELS, folds=2, assignments=np.zeros(n - 1, int))
    with pytest.raises(DataError, match="cover"):
        cross_validate(small_ratings, MODELS, folds=2, assignments=np.zeros(n, int))
    with pytest.raises(ConfigError):
        cross_validate(small_ratings, {}, folds=2)


def test_no_held_out_rating_reaches_a_model_trained_without_its_fold(small_ratings):
    """Plant one rating in fold 0: the fold-0 models never see it, the others do."""
    planted = 17
    user = small_ratings.user_labels[small_ratings.user[planted]]
    item = small_ratings.item_labels[small_ratings.item[planted]]
    assignments = kfold_assignments(len(small_ratings), folds=3, seed=2)
    assignments[planted] = 0
    fitted: dict[str, list] = {name: [] for name in MODELS}

    def recording(name):
        def factory():
            fitted[name].append(MODELS[name]())
            return fitted[name][-1]

        return factory

    cross_validate(small_ratings, {n: recording(n) for n in MODELS}, 3, assignments=assignments)
    for name, models in fitted.items():
        assert len(models) == 3, name  # a fresh instance per fold
        for fold, model in enumerate(models):
            (code,) = model.user_codes([user])
            rated = set(model.item_index_[model._rated_items(int(code))]) if code >= 0 else set()
            assert (item in rated) == (fold != 0), (name, fold)
    reference = BiasBaseline().fit(small_ratings.take(assignments != 0))
    np.testing.assert_array_equal(fitted["bias"][0].item_bias_, reference.item_bias_)
    knn_reference = UserKNN().fit(small_ratings.take(assignments != 0))
    np.testing.assert_array_equal(fitted["userknn"][0].similarity_, knn_reference.similarity_)


def test_top_n_evaluation_matches_recommend_user_by_user(small_ratings):
    assignments = kfold_assignments(len(small_ratings), folds=4, seed=3)
    train = small_ratings.take(assignments != 0)
    test = small_ratings.take(assignments == 0)
    model = UserKNN(n_neighbors=5).fit(train)
    scores = evaluate_top_n(model, train, test, top_n=5, relevance_threshold=4)
    rankings, relevant = [], []
    for code in np.unique(test.user):
        label = test.user_labels[code]
        mine = (test.user == code) & (test.rating >= 4)
        if not mine.any() or model.user_codes([label])[0] < 0:
            continue
        rankings.append(list(model.recommend(label, n=5)["item"]))
        relevant.append(set(test.item_labels[test.item[mine]]))
    label_ids = {label: j for j, label in enumerate(small_ratings.item_labels)}
    naive = top_n_scores(
        [[label_ids[x] for x in r] for r in rankings],
        [{label_ids[x] for x in r} for r in relevant],
        k=5,
    )
    assert scores.n_users == naive.n_users > 0
    assert scores.precision == pytest.approx(naive.precision)
    assert scores.recall == pytest.approx(naive.recall)
    assert scores.ndcg == pytest.approx(naive.ndcg)


# -- real data ------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_movielens_100k_five_fold_rmse_matches_the_published_figures(ml100k_dir):
    """Surprise's published 5-fold RMSE on ML-100K: BaselineOnly 0.944, KNNWithMeans 0.951."""
    ratings = read_ratings(ml100k_dir / "u.data")
    models = {"bias": BiasBaseline, "userknn": UserKNN}
    summary = cross_validate(ratings, models, folds=5, seed=0).summary()
    assert summary["bias"]["rmse"] == pytest.approx(0.944, abs=0.02)
    assert summary["userknn"]["rmse"] == pytest.approx(0.951, abs=0.02)
    for scores in summary.values():
        assert scores["fallback_share"] < 0.01
        assert scores["n_ranked_users"] > 800
