"""What every recommender in clusterrec shares: id maps, predictions with visible fallbacks,
top-N recommendations.

A recommender is fitted on `Ratings` and predicts for original ids. Internally it works on
integer codes of its training vocabulary; ids it never saw get code -1, and a prediction it
cannot make from evidence is flagged as a fallback rather than hidden in an average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clusterrec.data.ratings import Ratings, RatingScale
from clusterrec.errors import ConfigError, DataError


@dataclass(frozen=True)
class Predictions:
    """Predicted ratings, clipped to the scale, and which ones used the fallback.

    ``fallback[j]`` is True when prediction ``j`` had no evidence for the model's main path
    (unknown user or item, or no neighbour rated the item) and came from the fallback.
    """

    rating: np.ndarray
    fallback: np.ndarray

    def __len__(self) -> int:
        return len(self.rating)

    @property
    def fallback_share(self) -> float:
        return float(self.fallback.mean()) if len(self.fallback) else 0.0


class Recommender:
    """Base class: ``fit(ratings)`` then ``predict(users, items)`` and ``recommend(user)``.

    Subclasses implement ``_fit(ratings)`` on training codes and
    ``_predict_codes(users, items)`` for code arrays where -1 means "not in training"; they
    return a `Predictions` (unclipped is fine: clipping happens here).
    """

    #: Short name used in evaluation tables.
    name = "recommender"

    def fit(self, ratings: Ratings) -> Recommender:
        """Learn from ``ratings``; returns self."""
        if len(ratings) == 0:
            raise DataError("cannot fit on an empty set of ratings")
        ratings = ratings.compact()
        self._remember_vocabulary(ratings)
        self._fit(ratings)
        return self

    def _remember_vocabulary(self, ratings: Ratings) -> None:
        """The id maps, scale and global mean of the (compacted) training ratings."""
        self.user_index_ = pd.Index(ratings.user_labels)
        self.item_index_ = pd.Index(ratings.item_labels)
        self.scale_ = ratings.scale
        self.global_mean_ = float(ratings.rating.mean(dtype=np.float64))

    def predict(self, users: object, items: object) -> Predictions:
        """Predicted ratings of ``items`` by ``users`` (original ids, pairwise)."""
        self._check_fitted()
        user_codes = self.user_codes(users)
        item_codes = self.item_codes(items)
        if len(user_codes) != len(item_codes):
            raise ConfigError(
                f"users and items must pair up: {len(user_codes)} users, {len(item_codes)} items"
            )
        return self.predict_codes(user_codes, item_codes)

    def predict_codes(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        """Predictions for training codes (-1: unknown), clipped to the rating scale."""
        raw = self._predict_codes(np.asarray(users, np.int64), np.asarray(items, np.int64))
        return Predictions(clip_to_scale(raw.rating, self.scale_), raw.fallback)

    def recommend(
        self,
        user: object,
        n: int = 10,
        *,
        exclude_rated: bool = True,
        rated: Ratings | None = None,
    ) -> pd.DataFrame:
        """The ``n`` items with the highest predicted rating for ``user``.

        Items the user rated in training are left out when ``exclude_rated``; ``rated``
        (optional) adds ratings known besides the training data. Returns a DataFrame with
        columns item, predicted_rating, fallback, best first (ties: smaller code first).
        """
        self._check_fitted()
        (code,) = self.user_codes([user])
        if code < 0:
            raise DataError(f"user {user!r} is not in the training data; cannot recommend")
        items = np.arange(len(self.item_index_))
        scores = self.predict_codes(np.full(len(items), code), items)
        keep = np.ones(len(items), dtype=bool)
        if exclude_rated:
            keep[self._rated_items(code)] = False
            if rated is not None:
                mine = rated.user_labels[rated.user] == str(user)
                known = self.item_codes(rated.item_labels[rated.item[mine]])
                keep[known[known >= 0]] = False
        candidates = np.flatnonzero(keep)
        order = np.lexsort((candidates, -scores.rating[candidates]))[:n]
        chosen = candidates[order]
        return pd.DataFrame(
            {
                "item": self.item_index_[chosen].astype(str),
                "predicted_rating": scores.rating[chosen],
                "fallback": scores.fallback[chosen],
            }
        )

    def user_codes(self, labels: object) -> np.ndarray:
        """Training codes of original user ids (-1 for unknown ids)."""
        return self.user_index_.get_indexer(_as_labels(labels)).astype(np.int64)

    def item_codes(self, labels: object) -> np.ndarray:
        """Training codes of original item ids (-1 for unknown ids)."""
        return self.item_index_.get_indexer(_as_labels(labels)).astype(np.int64)

    # -- for subclasses -------------------------------------------------------------------------

    def _fit(self, ratings: Ratings) -> None:
        raise NotImplementedError

    def _predict_codes(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        raise NotImplementedError

    def _rated_items(self, user: int) -> np.ndarray:
        """Item codes the user rated in training (for excluding them from recommendations)."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "user_index_"):
            raise ConfigError(f"{type(self).__name__} is not fitted yet; call fit(ratings) first")


def clip_to_scale(values: np.ndarray, scale: RatingScale) -> np.ndarray:
    """Predictions clipped to the rating scale's bounds, as float32."""
    return np.clip(np.asarray(values, dtype=np.float32), scale.low, scale.high)


def _as_labels(labels: object) -> np.ndarray:
    """Original ids as an object array of str (ids are compared as text everywhere)."""
    array = np.atleast_1d(np.asarray(labels, dtype=object))
    return np.asarray([str(x) for x in array], dtype=object)
