"""Saving and loading `Ratings` as .npz: codes, ratings, times, labels and scale (no pickle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clusterrec._files import read_npz, write_npz
from clusterrec.data.ratings import Ratings, RatingScale

__all__ = [
    "load_ratings",
    "save_ratings",
]


def save_ratings(path: Path, ratings: Ratings) -> Path:
    """A `Ratings` as .npz: codes, ratings, times, labels and scale (no pickle)."""
    step = np.nan if ratings.scale.step is None else ratings.scale.step
    arrays = {
        "user": ratings.user,
        "item": ratings.item,
        "rating": ratings.rating,
        "user_labels": np.asarray(ratings.user_labels, dtype=str),
        "item_labels": np.asarray(ratings.item_labels, dtype=str),
        "scale": np.array([ratings.scale.low, ratings.scale.high, step], dtype=np.float64),
    }
    if ratings.time is not None:
        arrays["time"] = ratings.time
    return write_npz(path, **arrays)


def load_ratings(path: Path) -> Ratings:
    """The `Ratings` :func:`save_ratings` wrote."""
    arrays = read_npz(path)
    low, high, step = arrays["scale"].tolist()
    return Ratings(
        user=arrays["user"],
        item=arrays["item"],
        rating=arrays["rating"],
        time=arrays.get("time"),
        user_labels=arrays["user_labels"].astype(object),
        item_labels=arrays["item_labels"].astype(object),
        scale=RatingScale(low, high, None if np.isnan(step) else step),
    )
