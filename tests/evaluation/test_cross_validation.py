"""Cross-validation over ratings: every fold reported, determinism, no leakage, top-N."""

from __future__ import annotations

from functools import partial

import helpers
import numpy as np
import pytest

from clusterrec.data.ratings import Ratings
from clusterrec.data.readers import read_ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.cross_validation import cross_validate, evaluate_top_n
from clusterrec.evaluation.metrics import top_n_scores
from clusterrec.evaluation.splits import kfold_assignments
from clusterrec.models.baselines import BiasBaseline, GlobalMean, UserKNN

MODELS = {"mean": GlobalMean, "bias": BiasBaseline, "userknn": UserKNN}

#: random_ratings(n_users, n_items, density, seed): 1..5, every user with at least 2 ratings.
random_ratings = partial(helpers.random_ratings, every_user=2)


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
        small_ratings, MODELS, folds=3, seed=1, rank_users=4, progress=steps.append
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


def test_top_n_measures_do_not_depend_on_the_ranking_batch(small_ratings, monkeypatch):
    """Every top-N measure (MAP, MRR, hit rate, coverage, novelty, diversity included) is the
    same whether the users are ranked all at once or a few at a time."""
    from clusterrec.evaluation import cross_validation as cv
    from clusterrec.evaluation.metrics import TopNScores
    from clusterrec.models.baselines import BiasBaseline

    fold_of = cv.kfold_assignments(len(small_ratings), 3, seed=0)
    train, test = small_ratings.take(fold_of != 0), small_ratings.take(fold_of == 0)
    model = BiasBaseline().fit(train)
    whole = cv.evaluate_top_n(model, train, test, top_n=5)
    monkeypatch.setattr(cv, "_RANKING_BATCH_ELEMENTS", 1)  # one user per batch
    batched = cv.evaluate_top_n(model, train, test, top_n=5)
    assert whole == batched and isinstance(whole, TopNScores)
    names = ("map", "mrr", "hit_rate", "coverage", "novelty", "diversity")
    assert all(np.isfinite(getattr(whole, name)) for name in names)
    assert set(cv.TOP_N_MEASURES) >= set(names)


def test_ranking_among_the_most_rated_items_matches_a_naive_filtered_ranking(small_ratings):
    """max_items: only the items with the most training ratings are ranked (ties: smaller
    code); the lists equal the bias model's order over those items by hand; the protocol of
    cross_validate says so."""
    from clusterrec.evaluation import cross_validation as cv

    fold_of = cv.kfold_assignments(len(small_ratings), 3, seed=0)
    train = small_ratings.take(fold_of != 0)
    model = BiasBaseline().fit(train)
    counts = np.bincount(model.item_codes(train.item_labels[train.item]), minlength=30)
    allowed = set(np.argsort(-counts, kind="stable")[:8].tolist())
    rated = cv._binary_matrix(
        model.user_codes(train.user_labels[train.user]),
        model.item_codes(train.item_labels[train.item]),
        (len(model.user_index_), len(model.item_index_)),
    )
    users = np.arange(len(model.user_index_))
    ranked = cv._top_items(model, users, rated, 3, cv._most_rated(rated, 8))
    for user, row in zip(users, ranked, strict=True):
        seen = set(rated[user].indices.tolist())
        options = sorted(allowed - seen)
        score = model.predict_codes(np.full(len(options), user), np.array(options)).rating
        expected = [options[j] for j in np.argsort(-score, kind="stable")[:3]]
        assert [c for c in row if c >= 0] == expected
    result = cross_validate(small_ratings, {"bias": BiasBaseline}, folds=3, rank_items=8)
    assert "among the 8 items with the most training ratings" in result.protocol
    assert "among the" not in cross_validate(small_ratings, {"bias": BiasBaseline}).protocol
