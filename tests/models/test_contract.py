"""The contract every recommender keeps (implicit's shared recommender test, for clusterrec).

Every model :func:`~clusterrec.models.registry.comparison_models` builds is fitted on small
random data and checked for the same surface: ``fit`` returns self; unknown ids get finite
predictions flagged as fallbacks; users and items pair up by position; predictions lie within
the rating scale (1..5, 1..10, half stars); ``recommend`` leaves out rated items, best first;
``save`` then ``load`` predicts bit for bit the same; the same seed gives the same numbers;
empty ratings and an unfitted model are clear errors. A new model joins the registry and
passes this file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import random_ratings

from clusterrec.data.ratings import Ratings, RatingScale
from clusterrec.errors import ConfigError, DataError
from clusterrec.models.baselines import BiasBaseline, GlobalMean
from clusterrec.models.recommender import Predictions, Recommender
from clusterrec.models.registry import MODEL_NAMES, comparison_models

FACTORIES = comparison_models(MODEL_NAMES, n_clusters=2, seed=0)

#: Rating scales and the values drawn on them.
SCALES = {
    "1..5": (RatingScale(1, 5, 1), np.arange(1, 6)),
    "1..10": (RatingScale(1, 10, 1), np.arange(1, 11)),
    "half stars": (RatingScale(0.5, 5, 0.5), np.arange(1, 11) / 2),
}


@pytest.fixture(scope="module", params=MODEL_NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def fitted(name: str, taste_ratings: Ratings) -> Recommender:
    return FACTORIES[name]().fit(taste_ratings)


def every_pair(ratings: Ratings) -> tuple[np.ndarray, np.ndarray]:
    """(users, items): every training user with every training item, plus an unknown user
    and an unknown item."""
    users = np.append(ratings.user_labels, "no-such-user")
    items = np.append(ratings.item_labels, "no-such-item")
    return np.repeat(users, len(items)), np.tile(items, len(users))


def assert_identical(left: Predictions, right: Predictions) -> None:
    np.testing.assert_array_equal(left.rating, right.rating, strict=True)
    np.testing.assert_array_equal(left.fallback, right.fallback, strict=True)


def assert_same_values(left: Predictions, right: Predictions) -> None:
    """The same predictions from calls of other batch shapes: a network's float32 arithmetic
    may then differ in the last bit (1e-6 relative); the fallback flags not at all."""
    np.testing.assert_allclose(left.rating, right.rating, rtol=1e-6)
    np.testing.assert_array_equal(left.fallback, right.fallback, strict=True)


def rated_by(ratings: Ratings, user: str) -> set[str]:
    mine = ratings.user_labels[ratings.user] == user
    return set(ratings.item_labels[ratings.item[mine]])


# -- fit and predict ------------------------------------------------------------------------------


def test_fit_returns_self_and_the_same_seed_gives_the_same_numbers(
    name: str, fitted: Recommender, taste_ratings: Ratings
) -> None:
    again = FACTORIES[name]()
    assert again.fit(taste_ratings) is again
    users, items = every_pair(taste_ratings)
    assert_identical(again.predict(users, items), fitted.predict(users, items))
    pd.testing.assert_frame_equal(again.recommend("u3", 5), fitted.recommend("u3", 5))


def test_unknown_users_and_items_get_finite_fallbacks(fitted: Recommender) -> None:
    result = fitted.predict(["u0", "no-such-user", "no-such-user"], ["nothing", "i0", "nothing"])
    assert np.isfinite(result.rating).all()
    assert result.fallback.tolist() == [True, True, True]


def test_users_and_items_pair_up_by_position(fitted: Recommender, taste_ratings: Ratings) -> None:
    users, items = every_pair(taste_ratings)
    forward = fitted.predict(users, items)
    assert len(forward) == len(users) and forward.rating.dtype == np.float32
    assert forward.fallback.dtype == bool
    backward = fitted.predict(users[::-1], items[::-1])
    assert_same_values(backward, Predictions(forward.rating[::-1], forward.fallback[::-1]))
    alone = fitted.predict(users[5], items[5])
    assert_same_values(alone, Predictions(forward.rating[5:6], forward.fallback[5:6]))
    with pytest.raises(ConfigError, match="pair up"):
        fitted.predict(["u0", "u1"], ["i0"])


@pytest.mark.parametrize("scale_name", list(SCALES))
def test_predictions_lie_within_the_rating_scale(name: str, scale_name: str) -> None:
    scale, levels = SCALES[scale_name]
    ratings = random_ratings(30, 24, 0.3, seed=12, every_user=3, levels=levels, scale=scale)
    model = FACTORIES[name]().fit(ratings)
    assert model.scale_ == scale
    users, items = every_pair(ratings)
    rating = model.predict(users, items).rating
    assert np.isfinite(rating).all()
    assert rating.min() >= scale.low and rating.max() <= scale.high, (rating.min(), rating.max())
    recommended = model.recommend("u0", 5)["predicted_rating"]
    assert recommended.between(scale.low, scale.high).all()


# -- recommend ------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["u0", "u7", "u29"])
def test_recommend_leaves_out_rated_items_best_first(
    fitted: Recommender, taste_ratings: Ratings, user: str
) -> None:
    top = fitted.recommend(user, n=5)
    assert list(top.columns) == ["item", "predicted_rating", "fallback"]
    assert len(top) == 5 and top["item"].is_unique
    assert not set(top["item"]) & rated_by(taste_ratings, user)
    assert top["predicted_rating"].is_monotonic_decreasing
    direct = fitted.predict([user] * len(top), top["item"])
    listed = Predictions(top["predicted_rating"].to_numpy(), top["fallback"].to_numpy())
    assert_same_values(listed, direct)
    with pytest.raises(DataError, match="not in the training data"):
        fitted.recommend("no-such-user", 5)


# -- save and load --------------------------------------------------------------------------------


def test_save_then_load_predicts_bit_for_bit_the_same(
    fitted: Recommender, taste_ratings: Ratings, tmp_path: Path
) -> None:
    folder = fitted.save(tmp_path / "model")
    loaded = type(fitted).load(folder)
    assert type(loaded) is type(fitted)
    users, items = every_pair(taste_ratings)
    assert_identical(loaded.predict(users, items), fitted.predict(users, items))
    for user in ("u0", "u11"):
        pd.testing.assert_frame_equal(loaded.recommend(user, 6), fitted.recommend(user, 6))
    assert list(loaded.user_index_) == list(fitted.user_index_)
    assert list(loaded.item_index_) == list(fitted.item_index_)
    assert loaded.scale_ == fitted.scale_


def test_a_damaged_or_foreign_folder_is_a_data_error_naming_it(
    fitted: Recommender, taste_ratings: Ratings, tmp_path: Path
) -> None:
    model_class = type(fitted)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no model.json") as raised:
        model_class.load(empty)
    assert str(empty) in str(raised.value)

    other = BiasBaseline if model_class is GlobalMean else GlobalMean
    foreign = other().fit(taste_ratings).save(tmp_path / "foreign")
    with pytest.raises(DataError) as raised:
        model_class.load(foreign)
    assert str(foreign) in str(raised.value)

    folder = fitted.save(tmp_path / "model")
    meta_path = folder / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({**meta, "format_version": 999}), encoding="utf-8")
    with pytest.raises(DataError, match="version") as raised:
        model_class.load(folder)
    assert str(folder) in str(raised.value)

    meta_path.write_text('{"format": ', encoding="utf-8")
    with pytest.raises(DataError) as raised:
        model_class.load(folder)
    assert str(folder) in str(raised.value)

    folder = fitted.save(tmp_path / "truncated")
    arrays = folder / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[: arrays.stat().st_size // 2])
    with pytest.raises(DataError) as raised:
        model_class.load(folder)
    assert str(folder) in str(raised.value)


# -- errors ---------------------------------------------------------------------------------------


def test_empty_ratings_and_an_unfitted_model_are_clear_errors(
    name: str, taste_ratings: Ratings, tmp_path: Path
) -> None:
    empty = taste_ratings.take(np.zeros(len(taste_ratings), dtype=bool))
    with pytest.raises(DataError, match="empty"):
        FACTORIES[name]().fit(empty)
    unfitted = FACTORIES[name]()
    for call in (
        lambda: unfitted.predict(["u0"], ["i0"]),
        lambda: unfitted.recommend("u0", 3),
        lambda: unfitted.save(tmp_path / "unfitted"),
    ):
        with pytest.raises(ConfigError, match="not fitted"):
            call()
