"""Saving and loading `Ratings` as .npz (no pickle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clusterrec.data.io import load_ratings, save_ratings
from clusterrec.data.ratings import Ratings


def test_ratings_round_trip_through_npz(tmp_path: Path) -> None:
    ratings = Ratings.from_records(["a", "a", "b"], ["x", "y", "x"], [3, 5, 1], [10, 20, 30])
    loaded = load_ratings(save_ratings(tmp_path / "r.npz", ratings))
    assert list(loaded.user_labels) == ["a", "b"] and list(loaded.item_labels) == ["x", "y"]
    np.testing.assert_array_equal(loaded.rating, ratings.rating)
    np.testing.assert_array_equal(loaded.time, ratings.time)
    assert loaded.scale == ratings.scale
