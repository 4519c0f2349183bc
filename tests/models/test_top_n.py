"""Top-N for every user at once (`recommend_all`): the same lists as `recommend` user by user
for every model of the registry, whatever the batch size; rated items left out; ties to the
smaller item code; clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.models.baselines import GlobalMean
from clusterrec.models.recommender import Recommender
from clusterrec.models.registry import MODEL_NAMES, comparison_models
from clusterrec.models.top_n import recommend_all

FACTORIES = comparison_models(MODEL_NAMES, n_clusters=2, seed=0)


@pytest.fixture(scope="module", params=MODEL_NAMES)
def fitted(request: pytest.FixtureRequest, taste_ratings: Ratings) -> Recommender:
    return FACTORIES[request.param]().fit(taste_ratings)


def assert_same_list(one: pd.DataFrame, all_rows: pd.DataFrame) -> None:
    """The rows of one user in `recommend_all` equal `recommend`'s, up to the order of items
    whose scores differ only in the last bits of float32 (a network scores a batch of another
    shape with last-bit differences)."""
    assert len(all_rows) == len(one)
    assert all_rows["rank"].tolist() == list(range(1, len(one) + 1))
    np.testing.assert_allclose(
        all_rows["predicted_rating"].to_numpy(), one["predicted_rating"].to_numpy(), rtol=1e-5
    )
    if all_rows["item"].tolist() != one["item"].tolist():
        scores = dict(zip(one["item"], one["predicted_rating"], strict=True))
        for left, right in zip(one["item"], all_rows["item"], strict=True):
            if left != right:
                assert right in scores and abs(scores[left] - scores[right]) < 1e-5


@pytest.mark.parametrize("batch_users", [1, 7, None])
def test_recommend_all_equals_recommend_user_by_user(
    fitted: Recommender, taste_ratings: Ratings, batch_users: int | None
) -> None:
    table = recommend_all(fitted, 5, batch_users=batch_users)
    assert list(table.columns) == ["user", "rank", "item", "predicted_rating", "fallback"]
    assert table["user"].drop_duplicates().tolist() == list(fitted.user_index_.astype(str))
    for user in fitted.user_index_:
        assert_same_list(fitted.recommend(user, 5), table[table["user"] == str(user)])


def test_recommend_all_leaves_out_rated_items_unless_asked(
    fitted: Recommender, taste_ratings: Ratings
) -> None:
    table = fitted.recommend_all(30)
    frame = taste_ratings.to_frame()
    seen = set(zip(frame["user"].astype(str), frame["item"].astype(str), strict=True))
    assert not any(pair in seen for pair in zip(table["user"], table["item"], strict=True))
    counts = table.groupby("user").size()
    n_items = len(fitted.item_index_)
    rated = frame.groupby(frame["user"].astype(str)).size()
    assert (counts == (n_items - rated.reindex(counts.index))).all()  # every unrated item
    everything = fitted.recommend_all(3, exclude_rated=False, users=fitted.user_index_[:4])
    assert len(everything) == 12
    assert everything["user"].drop_duplicates().tolist() == list(fitted.user_index_[:4])


def test_ties_go_to_the_smaller_item_code(taste_ratings: Ratings) -> None:
    model = GlobalMean().fit(taste_ratings)  # every item the same score
    table = recommend_all(model, 4, exclude_rated=False, batch_users=3)
    first = table[table["user"] == str(model.user_index_[0])]
    assert first["item"].tolist() == list(model.item_index_[:4].astype(str))


def test_recommend_all_errors(taste_ratings: Ratings) -> None:
    model = GlobalMean().fit(taste_ratings)
    with pytest.raises(DataError, match="not in the training data"):
        recommend_all(model, users=["no-such-user"])
    with pytest.raises(ConfigError, match="n must be"):
        recommend_all(model, 0)
    with pytest.raises(ConfigError, match="batch_users"):
        recommend_all(model, batch_users=0)
    with pytest.raises(ConfigError, match="not fitted"):
        recommend_all(GlobalMean())
    assert len(recommend_all(model, users=[])) == 0
