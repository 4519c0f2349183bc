"""Measured evidence about the metrics and the clusterings they give."""

from __future__ import annotations

import numpy as np
import pytest

from clusterrec.data.ratings import Ratings
from clusterrec.evaluation.evidence import activity_by_cluster


def test_eta_squared_is_one_when_clusters_are_activity() -> None:
    users = ["a", "b", "c", "c", "c", "d", "d", "d"]
    items = ["1", "1", "1", "2", "3", "1", "2", "3"]
    ratings = Ratings.from_records(users, items, [5] * 8)
    by_activity = {2: np.array([0, 0, 1, 1])}
    across = {2: np.array([0, 1, 0, 1])}
    frame = activity_by_cluster(ratings, {"x": by_activity, "y": across})
    assert frame["eta_squared"].tolist() == pytest.approx([1.0, 0.0])
