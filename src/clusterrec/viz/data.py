"""Figures, drawn with matplotlib's object API (no pyplot, no display needed) and saved as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from clusterrec._atomic import atomic_write
from clusterrec.data.ratings import Ratings
from clusterrec.data.statistics import user_time_spans

__all__ = [
    "rating_span_histogram",
    "ratings_per_user_histogram",
    "save_data_histograms",
    "save_figure",
]


def save_figure(figure: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``figure`` as PNG atomically and return the path."""
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=dpi, bbox_inches="tight")
    return path


def ratings_per_user_histogram(ratings: Ratings, bins: int = 40) -> Figure:
    """Histogram of |phi(u)|, the number of ratings of each user."""
    counts = ratings.counts_per_user()
    counts = counts[counts > 0]
    figure = Figure(figsize=(7, 4.2))
    axes = figure.subplots()
    axes.hist(counts, bins=bins, color="#3b6ea8", edgecolor="white")
    axes.set_title(f"Number of ratings per user ({len(counts):,} users)")
    axes.set_xlabel("ratings by the user, |phi(u)|")
    axes.set_ylabel("number of users")
    _mark_median(axes, counts, "median {:.0f} ratings")
    return figure


def rating_span_histogram(ratings: Ratings, bins: int = 40) -> Figure:
    """Histogram of each user's rating time span: days between first and last rating."""
    spans = user_time_spans(ratings)
    spans = spans[~np.isnan(spans)]
    figure = Figure(figsize=(7, 4.2))
    axes = figure.subplots()
    if len(spans) == 0:
        axes.text(0.5, 0.5, "the data has no rating times", ha="center", va="center")
        axes.set_axis_off()
        return figure
    axes.hist(spans, bins=bins, color="#c2693a", edgecolor="white")
    axes.set_title(f"Time span of each user's ratings ({len(spans):,} users)")
    axes.set_xlabel("days between the user's first and last rating")
    axes.set_ylabel("number of users")
    _mark_median(axes, spans, "median {:.0f} days")
    return figure


def _mark_median(axes: object, values: np.ndarray, label: str) -> None:
    median = float(np.median(values))
    axes.axvline(median, color="black", linestyle="--", linewidth=1, label=label.format(median))
    axes.legend(frameon=False)


def save_data_histograms(ratings: Ratings, folder: str | Path) -> dict[str, Path]:
    """The assignment's two histograms as PNG files in ``folder``; returns their paths."""
    folder = Path(folder)
    return {
        "ratings_per_user": save_figure(
            ratings_per_user_histogram(ratings), folder / "ratings_per_user.png"
        ),
        "rating_span": save_figure(rating_span_histogram(ratings), folder / "rating_span_days.png"),
    }
