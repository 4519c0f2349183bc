"""Filtering users by their number of ratings, with the report of what was dropped."""

from __future__ import annotations

import numpy as np
import pytest

from clusterrec.data.filtering import filter_users
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError

DAY = 86_400


def ratings_with_counts(counts: dict[str, int]) -> Ratings:
    """User ``u`` rates items i0..i{n-1}, one a day, all rated 3."""
    users, items, times = [], [], []
    for user, n in counts.items():
        users += [user] * n
        items += [f"i{k}" for k in range(n)]
        times += [k * DAY for k in range(n)]
    return Ratings.from_records(users, items, np.full(len(users), 3.0), times)


def test_bounds_are_inclusive() -> None:
    ratings = ratings_with_counts({"a": 2, "b": 3, "c": 4, "d": 5, "e": 6})
    kept, report = filter_users(ratings, min_ratings=3, max_ratings=5)
    assert list(kept.user_labels) == ["b", "c", "d"]
    assert (report.users_below, report.users_above) == (1, 1)
    assert (report.ratings_before, report.ratings_after) == (20, 12)
    assert (report.users_before, report.users_after) == (5, 3)


def test_reindexes_users_and_drops_items_no_kept_user_rated() -> None:
    ratings = ratings_with_counts({"light": 1, "heavy": 8, "mid": 4})
    kept, report = filter_users(ratings, min_ratings=2, max_ratings=4)
    assert list(kept.user_labels) == ["mid"]
    assert kept.user.max() == 0 and kept.item.max() == kept.n_items - 1
    assert sorted(kept.item_labels) == ["i0", "i1", "i2", "i3"]
    assert (report.items_before, report.items_after) == (8, 4)
    assert kept.matrix().shape == (1, 4)


def test_no_upper_bound() -> None:
    kept, report = filter_users(ratings_with_counts({"a": 1, "b": 50}), min_ratings=2)
    assert list(kept.user_labels) == ["b"] and report.users_above == 0


def test_filter_that_leaves_nobody_is_a_clear_error() -> None:
    with pytest.raises(DataError, match=r"no user has 10\.\.20 ratings \(users have 1 to 3\)"):
        filter_users(ratings_with_counts({"a": 1, "b": 3}), 10, 20)


@pytest.mark.parametrize(("low", "high"), [(0, None), (5, 4), (2.5, None)])
def test_bad_bounds(low: float, high: int | None) -> None:
    with pytest.raises(ConfigError):
        filter_users(ratings_with_counts({"a": 3}), low, high)
