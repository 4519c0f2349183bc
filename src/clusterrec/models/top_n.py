"""Top-N recommendations for many users at once, batched and memory-bounded.

:func:`recommend_all` scores a batch of users against every item with one
``predict_codes`` call (a batch x items block of scores, never users x items), leaves out
each user's training items, and keeps the ``n`` best per user with the tie rule of
:meth:`Recommender.recommend <clusterrec.models.recommender.Recommender.recommend>`: a
higher predicted rating first, then the smaller item code. The result for a user equals
``model.recommend(user, n)`` (checked for every model of the registry by
``tests/models/test_top_n.py``).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from clusterrec.errors import ConfigError, DataError
from clusterrec.models.recommender import Recommender

__all__ = [
    "DEFAULT_PAIR_BUDGET",
    "recommend_all",
]

logger = logging.getLogger("clusterrec")

#: (user, item) pairs scored in one batch when ``batch_users`` is not given: with the
#: default network's inputs (about 70 float32 per pair) one batch needs some 100 MB.
DEFAULT_PAIR_BUDGET = 400_000

#: The columns of :func:`recommend_all`'s table.
COLUMNS = ("user", "rank", "item", "predicted_rating", "fallback")


def recommend_all(
    model: Recommender,
    n: int = 10,
    *,
    users: object = None,
    exclude_rated: bool = True,
    batch_users: int | None = None,
) -> pd.DataFrame:
    """The ``n`` items with the highest predicted rating for each of ``users``.

    Args:
        model: any fitted `Recommender`.
        n: recommendations per user (fewer when a user has fewer unrated items).
        users: original user ids (default: every training user, in training order); an id
            the model never saw is a `DataError`.
        exclude_rated: leave out the items each user rated in training.
        batch_users: users scored together; default: as many as keep a batch at
            :data:`DEFAULT_PAIR_BUDGET` (user, item) pairs. Memory grows with
            ``batch_users x items``, the result does not depend on it.

    Returns a DataFrame with columns user, rank (1 = best), item, predicted_rating, fallback
    (True: the model's fallback, no evidence), users in the order given, best first.
    """
    model._check_fitted()
    if int(n) != n or n < 1:
        raise ConfigError(f"n must be a whole number >= 1, not {n!r}")
    n = int(n)
    n_items = len(model.item_index_)
    if users is None:
        codes = np.arange(len(model.user_index_), dtype=np.int64)
    else:
        codes = model.user_codes(users)
        unknown = np.flatnonzero(codes < 0)
        if len(unknown):
            given = np.atleast_1d(np.asarray(users, dtype=object))
            shown = ", ".join(repr(str(x)) for x in given[unknown[:5]])
            raise DataError(
                f"{len(unknown)} users are not in the training data (such as {shown}); "
                "cannot recommend for them"
            )
    if batch_users is None:
        batch_users = max(1, DEFAULT_PAIR_BUDGET // max(n_items, 1))
    elif int(batch_users) != batch_users or batch_users < 1:
        raise ConfigError(f"batch_users must be a whole number >= 1, not {batch_users!r}")
    batch_users = int(batch_users)
    started = time.perf_counter()
    parts = [
        _top_of_batch(model, codes[start : start + batch_users], n, exclude_rated)
        for start in range(0, len(codes), batch_users)
    ]
    if not parts:
        parts = [_top_of_batch(model, codes, n, exclude_rated)]
    user_rows, ranks, chosen, rating, fallback = (
        np.concatenate(column) for column in zip(*parts, strict=True)
    )
    table = pd.DataFrame(
        {
            "user": np.asarray(model.user_index_[user_rows], dtype=str),
            "rank": ranks,
            "item": np.asarray(model.item_index_[chosen], dtype=str),
            "predicted_rating": rating,
            "fallback": fallback,
        }
    )
    logger.info(
        "top-%d for %d users in %.1f s (%d per batch)",
        n,
        len(codes),
        time.perf_counter() - started,
        batch_users,
    )
    return table


def _top_of_batch(
    model: Recommender, codes: np.ndarray, n: int, exclude_rated: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user code, rank, item code, predicted rating, fallback) of each batch user's top ``n``,
    best first; ties: the smaller item code."""
    n_items = len(model.item_index_)
    if len(codes) == 0 or n_items == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0, np.float32), np.zeros(0, bool)
    scores = model.predict_codes(np.repeat(codes, n_items), np.tile(np.arange(n_items), len(codes)))
    rating = scores.rating.reshape(len(codes), n_items)
    fallback = scores.fallback.reshape(len(codes), n_items)
    keep = np.ones((len(codes), n_items), dtype=bool)
    if exclude_rated:
        for row, code in enumerate(codes):
            keep[row, model._rated_items(int(code))] = False
    # a stable sort of the negated scores keeps equal scores in item-code order; the rated
    # items go last (+inf) and are cut below
    key = np.where(keep, -rating.astype(np.float64), np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :n]
    taken = np.take_along_axis(keep, order, axis=1)
    rows = np.broadcast_to(np.arange(len(codes))[:, None], order.shape)[taken]
    ranks = np.broadcast_to(np.arange(1, order.shape[1] + 1), order.shape)[taken]
    items = order[taken]
    return (
        codes[rows],
        ranks.astype(np.int64),
        items.astype(np.int64),
        rating[rows, items],
        fallback[rows, items],
    )
