"""The evaluation protocols of the field, as train/test splits of ratings, and one evaluation
over a split that returns the same result type as :func:`cross_validate`.

* ``temporal``: one global time cut; every rating before it trains, every rating at or after it
  is tested (the cut is the time that leaves ``test_share`` of the ratings after it). Nothing
  after the cut reaches training: not a rating, not a neighbour, not a bias.
* ``leave-last``: each user's last ``n`` ratings by time (ties: the later record) are tested,
  the rest trains; users with ``n`` or fewer ratings keep them all in training.
* ``users-holdout``: a seeded ``test_share`` of the users is held out; of each held-out user's
  ratings a seeded ``history_share`` is given to training as their history, the rest tested.
  The other users train on all their ratings.

A split is a boolean ``test`` mask over the records (the rest trains) and its name, so every
table names its protocol. :func:`evaluate_split` fits every model fresh on the training side,
scores the test side (RMSE, MAE, fallback share) and ranks (top-N metrics), exactly as one fold
of :func:`~clusterrec.evaluation.cross_validation.cross_validate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clusterrec._progress import ProgressArg, Steps
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.cross_validation import (
    CrossValidationResult,
    _evaluate_fold,
    ranking_sample,
)
from clusterrec.evaluation.metrics import _check_k, default_relevance_threshold
from clusterrec.models.recommender import Recommender

__all__ = [
    "PROTOCOLS",
    "Split",
    "evaluate_split",
    "leave_last_out_split",
    "make_split",
    "temporal_split",
    "users_holdout_split",
]

#: Protocol names accepted by :func:`make_split` (and ``clusterrec evaluate --protocol``).
PROTOCOLS = ("temporal", "leave-last", "users-holdout")


@dataclass(frozen=True)
class Split:
    """Which records are tested (``test``, one bool per record; the rest trains), the protocol's
    name and one sentence describing it with its parameters."""

    name: str
    test: np.ndarray
    description: str
    leaky: bool = False

    def parts(self, ratings: Ratings) -> tuple[Ratings, Ratings]:
        """(train, test) of ``ratings``, sharing its vocabularies."""
        if len(self.test) != len(ratings):
            raise DataError(f"the split has {len(self.test):,} records, ratings {len(ratings):,}")
        return ratings.take(~self.test), ratings.take(self.test)


def temporal_split(ratings: Ratings, test_share: float = 0.2) -> Split:
    """Global temporal split: the ratings at or after the cut are tested, those before train.

    The cut is the time of the first rating of the last ``test_share`` of ratings in time
    order; ratings at exactly the cut time all go to the test side, so no training rating is
    as late as a test rating.
    """
    times = _times(ratings, "temporal")
    _check_share(test_share, "test_share")
    order = np.sort(times)
    cut = int(order[min(len(order) - 1, int(np.floor(len(order) * (1 - test_share))))])
    test = times >= cut
    if test.all() or not test.any():
        raise DataError(f"the temporal cut at {cut} leaves no training or no test rating")
    when = pd.Timestamp(cut, unit="s").strftime("%Y-%m-%d %H:%M:%S")
    return Split(
        "temporal",
        test,
        f"temporal: one global cut at {when} UTC (the last {test_share:.0%} of ratings in time "
        f"order, {int(test.sum()):,} ratings, are tested); nothing at or after the cut trains",
    )


def leave_last_out_split(ratings: Ratings, n: int = 1) -> Split:
    """Each user's last ``n`` ratings by time are tested (ties by time: the later record);
    users with ``n`` or fewer ratings keep every rating in training."""
    times = _times(ratings, "leave-last")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"n (ratings left out per user) must be an integer >= 1; got {n!r}")
    position = np.arange(len(ratings))
    order = np.lexsort((position, times, ratings.user))  # by user, then time, then record
    counts = np.bincount(ratings.user, minlength=ratings.n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank_from_end = counts[ratings.user[order]] - (
        np.arange(len(order)) - starts[ratings.user[order]]
    )
    test = np.zeros(len(ratings), dtype=bool)
    test[order] = (rank_from_end <= n) & (counts[ratings.user[order]] > n)
    if not test.any():
        raise DataError(f"no user has more than {n} ratings; nothing to leave out")
    users = int(np.count_nonzero(counts > n))
    return Split(
        "leave-last",
        test,
        f"leave-last-{n}-out: each user's last {n} rating(s) by time are tested ({users:,} "
        "users); the rest trains, other users' later ratings included",
    )


def users_holdout_split(
    ratings: Ratings, test_share: float = 0.2, history_share: float = 0.5, seed: int = 0
) -> Split:
    """A seeded ``test_share`` of users held out; each gives a seeded ``history_share`` of
    their ratings (at least one) to training as history and is tested on the rest (at
    least one; users with a single rating are never held out)."""
    _check_share(test_share, "test_share")
    _check_share(history_share, "history_share")
    rng = np.random.default_rng(seed)
    counts = np.bincount(ratings.user, minlength=ratings.n_users)
    eligible = np.flatnonzero(counts >= 2)
    n_test = max(1, int(round(test_share * len(eligible)))) if len(eligible) else 0
    if n_test == 0:
        raise DataError("no user has two ratings; nobody can be held out")
    held = np.zeros(ratings.n_users, dtype=bool)
    held[rng.choice(eligible, n_test, replace=False)] = True
    # a random rank of each record within its user; the first `history` ranks train
    noise = rng.random(len(ratings))
    order = np.lexsort((noise, ratings.user))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(ratings), dtype=np.int64)
    rank[order] = np.arange(len(order)) - starts[ratings.user[order]]
    history = np.clip(np.round(history_share * counts), 1, counts - 1)
    test = held[ratings.user] & (rank >= history[ratings.user])
    return Split(
        "users-holdout",
        test,
        f"users-holdout: {n_test:,} users ({test_share:.0%}, seed {seed}) held out, each giving "
        f"{history_share:.0%} of their ratings (seeded, at least one) as history to training "
        f"and tested on the rest ({int(test.sum()):,} ratings)",
    )


def make_split(
    ratings: Ratings,
    protocol: str,
    *,
    test_share: float = 0.2,
    n: int = 1,
    history_share: float = 0.5,
    seed: int = 0,
) -> Split:
    """The split of a named protocol (:data:`PROTOCOLS`)."""
    if protocol == "temporal":
        return temporal_split(ratings, test_share)
    if protocol == "leave-last":
        return leave_last_out_split(ratings, n)
    if protocol == "users-holdout":
        return users_holdout_split(ratings, test_share, history_share, seed)
    raise ConfigError(f"unknown protocol {protocol!r}; accepted: {', '.join(PROTOCOLS)}")


def evaluate_split(
    ratings: Ratings,
    models: Mapping[str, Callable[[], Recommender]],
    split: Split,
    top_n: int = 10,
    relevance_threshold: float | None = None,
    progress: ProgressArg = False,
    rank_users: int = 0,
    seed: int = 0,
) -> CrossValidationResult:
    """Every model fitted fresh on ``split``'s training side, scored on its test side.

    The result has one "fold" (fold 0) per model; its ``protocol`` sentence and every table
    start with the split's name (and say LEAKY when the split is). ``rank_users``: rank a
    seeded sample of at most this many users (0: all) for the top-N metrics.
    """
    if not models:
        raise ConfigError("no models to evaluate")
    _check_k(top_n)
    train, test = split.parts(ratings)
    if relevance_threshold is None:
        relevance_threshold = default_relevance_threshold(ratings.scale)
    ranked = ranking_sample(test, relevance_threshold, rank_users, seed=[seed, 0])
    rows = []
    with Steps(progress, len(models), unit="fit") as step:
        for name, factory in models.items():
            step(f"{split.name}: {name}")
            row = _evaluate_fold(factory, train, test, ranked, top_n, relevance_threshold)
            rows.append({"fold": 0, "model": name, **row})
    return CrossValidationResult(
        folds=pd.DataFrame(rows),
        n_folds=1,
        seed=seed,
        top_n=top_n,
        relevance_threshold=float(relevance_threshold),
        assignment_source=split.name,
        metadata={
            "rank_users": rank_users,
            "protocol": split.name,
            "description": split.description,
            "leaky": split.leaky,
        },
    )


def _times(ratings: Ratings, protocol: str) -> np.ndarray:
    if ratings.time is None:
        raise DataError(
            f"the {protocol} protocol needs rating times, and these ratings have none; use "
            "kfold or users-holdout"
        )
    return ratings.time


def _check_share(value: float, name: str) -> None:
    if not 0 < value < 1:
        raise ConfigError(f"{name} must be between 0 and 1, not {value!r}")
