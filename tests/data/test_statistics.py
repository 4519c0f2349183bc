"""Per-user statistics and the description of a ratings set, against hand-computed values."""

from __future__ import annotations

import pytest

from clusterrec.data.ratings import Ratings
from clusterrec.data.statistics import describe_ratings, user_statistics

DAY = 86_400


def test_user_statistics_against_hand_computed_values() -> None:
    ratings = Ratings.from_records(
        ["a", "a", "a", "b"], ["x", "y", "z", "x"], [2, 4, 9, 5], [0, 10 * DAY, 3 * DAY, 7]
    )
    stats = user_statistics(ratings).set_index("user")
    assert stats.loc["a", "n_ratings"] == 3 and stats.loc["b", "n_ratings"] == 1
    assert stats.loc["a", "mean_rating"] == pytest.approx(5.0)
    assert stats.loc["a", "span_days"] == pytest.approx(10.0)
    assert stats.loc["b", "span_days"] == 0.0


def test_statistics_without_times_are_nan_not_zero() -> None:
    ratings = Ratings.from_records(["a", "b"], ["x", "x"], [1, 2])
    assert user_statistics(ratings)["span_days"].isna().all()
    assert "span_days_per_user" not in describe_ratings(ratings)


def test_describe_counts_and_distribution() -> None:
    ratings = Ratings.from_records(["a", "a", "b"], ["x", "y", "x"], [1, 5, 5], [0, DAY, 2 * DAY])
    summary = describe_ratings(ratings)
    assert (summary["ratings"], summary["users"], summary["items"]) == (3, 2, 2)
    assert summary["density"] == pytest.approx(0.75)
    assert summary["rating_counts"] == {"1": 1, "5": 2}
    assert summary["first_rating"] == "1970-01-01" and summary["last_rating"] == "1970-01-03"
