"""Ratings data: the `Ratings` table, readers, validation, filtering, statistics, synthetic data."""

from clusterrec.data.ratings import KNOWN_SCALES, Ratings, RatingScale, detect_scale

__all__ = ["KNOWN_SCALES", "Ratings", "RatingScale", "detect_scale"]
