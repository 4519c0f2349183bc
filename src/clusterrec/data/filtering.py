"""Keeping the users with Rmin <= |phi(u)| <= Rmax ratings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError

__all__ = [
    "FilterReport",
    "filter_users",
]


@dataclass(frozen=True)
class FilterReport:
    """Counts before and after filtering users by their number of ratings."""

    min_ratings: int
    max_ratings: int | None
    ratings_before: int
    users_before: int
    items_before: int
    ratings_after: int
    users_after: int
    items_after: int
    users_below: int
    users_above: int

    @property
    def users_outside_range(self) -> int:
        return self.users_below + self.users_above

    def as_dict(self) -> dict:
        return {
            "min_ratings": self.min_ratings,
            "max_ratings": self.max_ratings,
            "before": {
                "ratings": self.ratings_before,
                "users": self.users_before,
                "items": self.items_before,
            },
            "after": {
                "ratings": self.ratings_after,
                "users": self.users_after,
                "items": self.items_after,
            },
            "users_below": self.users_below,
            "users_above": self.users_above,
        }


def filter_users(
    ratings: Ratings, min_ratings: int = 1, max_ratings: int | None = None
) -> tuple[Ratings, FilterReport]:
    """Keep users with ``min_ratings <= |phi(u)| <= max_ratings`` (both inclusive).

    Kept users and the items they rated are re-indexed to 0..n-1 and 0..m-1 (relative order
    kept); items no kept user rated are dropped. Raises `DataError` when no user is left.
    """
    _check_bounds(min_ratings, max_ratings)
    counts = ratings.counts_per_user()
    present = counts > 0
    below = present & (counts < min_ratings)
    above = present & (counts > max_ratings) if max_ratings is not None else np.zeros_like(present)
    kept_users = present & ~below & ~above
    if not kept_users.any():
        bounds = f"{min_ratings}..{max_ratings if max_ratings is not None else 'inf'}"
        raise DataError(
            f"no user has {bounds} ratings (users have {counts[present].min()} to "
            f"{counts[present].max()}); widen --min-ratings/--max-ratings"
        )
    kept = ratings.take(kept_users[ratings.user]).compact()
    report = FilterReport(
        min_ratings=min_ratings,
        max_ratings=max_ratings,
        ratings_before=len(ratings),
        users_before=int(present.sum()),
        items_before=int((ratings.counts_per_item() > 0).sum()),
        ratings_after=len(kept),
        users_after=kept.n_users,
        items_after=kept.n_items,
        users_below=int(below.sum()),
        users_above=int(above.sum()),
    )
    return kept, report


def _check_bounds(min_ratings: int, max_ratings: int | None) -> None:
    if int(min_ratings) != min_ratings or min_ratings < 1:
        raise ConfigError(f"min_ratings must be a whole number >= 1, not {min_ratings!r}")
    if max_ratings is not None and (int(max_ratings) != max_ratings or max_ratings < min_ratings):
        raise ConfigError(
            f"max_ratings must be a whole number >= min_ratings ({min_ratings}), "
            f"not {max_ratings!r}"
        )
