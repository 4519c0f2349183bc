"""Per-user statistics and the data set's description (counts, rating distribution, spans)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clusterrec.data.ratings import Ratings

__all__ = [
    "SECONDS_PER_DAY",
    "describe_ratings",
    "named_quantiles",
    "user_statistics",
    "user_time_spans",
]

SECONDS_PER_DAY = 86_400


def user_statistics(ratings: Ratings) -> pd.DataFrame:
    """One row per user: original id, number of ratings |phi(u)|, mean rating, time span.

    ``span_days`` is the time between the user's first and last rating, in days (NaN when the
    data has no times).
    """
    n = ratings.n_users
    counts = ratings.counts_per_user()
    sums = np.bincount(ratings.user, weights=ratings.rating, minlength=n)
    frame = pd.DataFrame(
        {
            "user": ratings.user_labels,
            "n_ratings": counts,
            "mean_rating": np.divide(sums, counts, out=np.full(n, np.nan), where=counts > 0),
        }
    )
    frame["span_days"] = user_time_spans(ratings)
    return frame


def user_time_spans(ratings: Ratings) -> np.ndarray:
    """Days between each user's first and last rating; NaN without times."""
    n = ratings.n_users
    if ratings.time is None:
        return np.full(n, np.nan)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, ratings.user, ratings.time)
    np.maximum.at(last, ratings.user, ratings.time)
    spans = (last - first) / SECONDS_PER_DAY
    spans[ratings.counts_per_user() == 0] = np.nan
    return spans


def describe_ratings(ratings: Ratings) -> dict:
    """Counts, density, rating distribution and per-user quantiles, as plain JSON-able values."""
    counts = ratings.counts_per_user()
    counts = counts[counts > 0]
    values, frequency = np.unique(ratings.rating, return_counts=True)
    summary = {
        "ratings": len(ratings),
        "users": int(len(counts)),
        "items": int((ratings.counts_per_item() > 0).sum()),
        "density": len(ratings) / max(1, len(counts) * int((ratings.counts_per_item() > 0).sum())),
        "scale": str(ratings.scale),
        "mean_rating": float(ratings.rating.mean()) if len(ratings) else None,
        "rating_counts": {f"{v:g}": int(c) for v, c in zip(values, frequency, strict=True)},
        "ratings_per_user": _summary(counts),
    }
    if ratings.time is not None and len(ratings):
        spans = user_time_spans(ratings)
        summary["span_days_per_user"] = _summary(spans[~np.isnan(spans)])
        summary["first_rating"] = _iso_date(ratings.time.min())
        summary["last_rating"] = _iso_date(ratings.time.max())
    return summary


#: The quantiles :func:`describe_ratings` reports per user, by name.
_SUMMARY_QUANTILES = {"min": 0.0, "q25": 0.25, "median": 0.5, "q75": 0.75, "max": 1.0}


def named_quantiles(values: np.ndarray, levels: Mapping[str, float]) -> dict[str, float | None]:
    """``{name: quantile of values at level}`` as floats; every value None when ``values`` is
    empty."""
    if len(values) == 0:
        return dict.fromkeys(levels)
    q = np.quantile(values, list(levels.values()))
    return {name: float(x) for name, x in zip(levels, q, strict=True)}


def _summary(values: np.ndarray) -> dict:
    """Min, quartiles, max (plain numbers) and mean; empty without values."""
    if len(values) == 0:
        return {}
    summary = {k: _plain(v) for k, v in named_quantiles(values, _SUMMARY_QUANTILES).items()}
    summary["mean"] = round(float(np.mean(values)), 3)
    return summary


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 3)


def _iso_date(seconds: int) -> str:
    return str(np.datetime64(int(seconds), "s").astype("datetime64[D]"))
