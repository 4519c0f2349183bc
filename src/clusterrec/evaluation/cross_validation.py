"""K-fold cross-validation of several models on the same folds, with top-N ranking.

Protocol of :func:`cross_validate`: the ratings are split into ``folds`` random, balanced folds
(or by a given assignment); for each fold every model is built fresh and fitted on the other
folds' ratings only, so nothing of a held-out rating reaches training. It then predicts the
held-out ratings (RMSE, MAE, share of fallback predictions) and ranks, for every user with
held-out ratings, all items the user did not rate in training (precision, recall, NDCG, MAP,
MRR and hit rate at ``top_n`` against the user's held-out ratings at or above a relevance
threshold; catalogue coverage, novelty and intra-list diversity of the lists).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from clusterrec._progress import ProgressArg, Steps
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.metrics import (
    TopNScores,
    _check_k,
    _pair_keys,
    default_relevance_threshold,
    list_measures,
    mae,
    rmse,
    scores_from_hits,
)
from clusterrec.evaluation.splits import _check_folds, kfold_assignments
from clusterrec.models.recommender import Recommender

__all__ = [
    "TOP_N_MEASURES",
    "CrossValidationResult",
    "cross_validate",
    "evaluate_top_n",
    "ranking_sample",
]

logger = logging.getLogger("clusterrec")


#: Scores (users x items) predicted at once while ranking.
_RANKING_BATCH_ELEMENTS = 2_000_000
#: Metrics of each (fold, model) row that the summary averages, in table order.
_ERROR_COLUMNS = ("rmse", "mae", "fallback_share")
_TIME_COLUMNS = ("fit_seconds", "predict_seconds", "rank_seconds")
#: The top-N measures of each (fold, model) row, ``<name>_at_<n>``, in table order.
TOP_N_MEASURES = (
    "precision",
    "recall",
    "ndcg",
    "map",
    "mrr",
    "hit_rate",
    "coverage",
    "novelty",
    "diversity",
)


# -- cross-validation -----------------------------------------------------------------------------


@dataclass
class CrossValidationResult:
    """Per-fold scores of each model, their summary, and the protocol that produced them.

    ``folds`` has one row per (fold, model) with rmse, mae, fallback_share, fit_seconds,
    predict_seconds (the held-out ratings), rank_seconds (top-N ranking), the top-N metrics
    ``precision_at_{n}``, ``recall_at_{n}``, ``ndcg_at_{n}``, and the counts n_train, n_test,
    n_ranked_users. :meth:`summary` averages them over folds.
    """

    folds: pd.DataFrame
    n_folds: int
    seed: int | None
    top_n: int
    relevance_threshold: float
    assignment_source: str
    metadata: dict = field(default_factory=dict)

    @property
    def metric_columns(self) -> tuple[str, ...]:
        """Columns averaged by :meth:`summary`, in table order."""
        n = self.top_n
        top = tuple(f"{name}_at_{n}" for name in TOP_N_MEASURES)
        return _ERROR_COLUMNS + tuple(c for c in top if c in self.folds) + _TIME_COLUMNS

    def summary(self) -> dict[str, dict[str, float]]:
        """Per model: the mean of every metric over folds and ``<metric>_std`` (ddof=1).

        Folds whose top-N metrics are NaN (no user with a relevant held-out item) are left
        out of those metrics' mean and std.
        """
        out: dict[str, dict[str, float]] = {}
        for model, rows in self.folds.groupby("model", sort=False):
            scores: dict[str, float] = {}
            for column in self.metric_columns:
                values = rows[column].to_numpy(dtype=np.float64)
                values = values[~np.isnan(values)]  # a fold without ranked users has NaN top-N
                scores[column] = float(np.mean(values)) if len(values) else float("nan")
                scores[f"{column}_std"] = _std(values)
            scores["n_ranked_users"] = float(rows["n_ranked_users"].mean())
            out[str(model)] = scores
        return out

    def to_frame(self) -> pd.DataFrame:
        """The summary as a DataFrame: one row per model, mean and std columns."""
        frame = pd.DataFrame.from_dict(self.summary(), orient="index")
        frame.index.name = "model"
        return frame

    def _repr_html_(self) -> str:
        """The summary table under its protocol sentence (how Jupyter shows the result); with
        one split, without the standard deviations (undefined)."""
        from clusterrec._html import frame_html

        frame = self.to_frame()
        if self.n_folds == 1:
            frame = frame.drop(columns=[c for c in frame.columns if c.endswith("_std")])
        return frame_html(frame, f"Protocol: {self.protocol}")

    @property
    def protocol(self) -> str:
        """One sentence naming how the numbers were obtained."""
        if "protocol" in self.metadata:  # one split (clusterrec.evaluation.protocols)
            how = self.metadata["description"]
            if self.metadata.get("leaky"):
                how = "LEAKY, not an estimate of accuracy: " + how
            fitted = "the training side"
            per = ""
        else:
            how = f"{self.n_folds}-fold cross-validation over ratings, "
            how += f"seed {self.seed}" if self.assignment_source == "random" else "given folds"
            fitted, per = "the training folds", " per fold"
        rank_users = self.metadata.get("rank_users", 0)
        who = f"for a seeded sample of at most {rank_users} users{per}, " if rank_users else ""
        rank_items = self.metadata.get("rank_items", 0)
        among = (
            f" among the {rank_items:,} items with the most training ratings (the catalogue "
            "is larger)"
            if self.metadata.get("items_bounded")
            else ""
        )
        spread = (
            " Standard deviations are over folds (ddof=1)." if self.n_folds > 1 else " One split."
        )
        return (
            f"{how}; every model fitted on {fitted} only. Top-{self.top_n}: {who}"
            f"every item{among} a user did not rate in training is ranked by predicted rating "
            "(ties: the earlier item first); a held-out rating "
            f">= {self.relevance_threshold:g} is relevant; users without a relevant held-out "
            "item are left out." + spread
        )

    def to_markdown(self, digits: int = 4) -> str:
        """A Markdown table of mean ± std per model, preceded by the protocol."""
        summary = self.summary()
        header = ["model", *self.metric_columns]
        lines = [
            f"Protocol: {self.protocol}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        ]
        for model, scores in summary.items():
            cells = [
                f"{scores[c]:.{digits}f} ± {scores[c + '_std']:.{digits}f}"
                if self.n_folds > 1
                else f"{scores[c]:.{digits}f}"
                for c in self.metric_columns
            ]
            lines.append("| " + " | ".join([model, *cells]) + " |")
        return "\n".join(lines) + "\n"


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def cross_validate(
    ratings: Ratings,
    models: Mapping[str, Callable[[], Recommender]],
    folds: int = 5,
    seed: int = 0,
    assignments: np.ndarray | None = None,
    top_n: int = 10,
    relevance_threshold: float | None = None,
    progress: ProgressArg = False,
    rank_users: int = 0,
    rank_items: int = 0,
) -> CrossValidationResult:
    """K-fold cross-validation of several models on the same folds (see the module docstring).

    Args:
        ratings: all ratings; records are assigned to folds.
        models: name -> factory returning a new, unfitted model (called once per fold).
        folds: number of folds.
        seed: seed of the random fold assignment (ignored when ``assignments`` is given).
        assignments: a fold number per record of ``ratings`` (e.g. from
            :func:`load_split_file`); default: :func:`kfold_assignments`.
        top_n: cut-off of the ranking metrics.
        relevance_threshold: held-out ratings at or above it are relevant; default 80% of
            the scale's top (:func:`default_relevance_threshold`).
        progress: False (silent), True (a tqdm bar over folds x models) or a callable /
            ``step(text)`` object told ``"fold f/k: model"`` before each fit (see
            :mod:`clusterrec._progress`).
        rank_users: rank a seeded sample of at most this many users with a relevant held-out
            rating per fold (0: all); ranking every item costs a model's full prediction.
        rank_items: with more items than this in a training fold, rank only the ``rank_items``
            items with the most training ratings (0: every item; the protocol says which).
    """
    if not models:
        raise ConfigError("no models to evaluate")
    _check_k(top_n)
    fold_of, source = _fold_assignments(ratings, folds, seed, assignments)
    if relevance_threshold is None:
        relevance_threshold = default_relevance_threshold(ratings.scale)
    rows = []
    items_bounded = False
    with Steps(progress, folds * len(models), unit="fit") as step:
        for fold in range(folds):
            test_mask = fold_of == fold
            train, test = ratings.take(~test_mask), ratings.take(test_mask)
            items_bounded |= bool(rank_items) and np.unique(train.item).size > rank_items
            ranked = ranking_sample(test, relevance_threshold, rank_users, seed=[seed, fold])
            for name, factory in models.items():
                step(f"fold {fold + 1}/{folds}: {name}")
                row = _evaluate_fold(
                    factory, train, test, ranked, top_n, relevance_threshold, rank_items
                )
                rows.append({"fold": fold, "model": name, **row})
                logger.info(
                    "cross_validate: fold %d %s rmse %.4f mae %.4f fit %.2f s",
                    fold,
                    name,
                    row["rmse"],
                    row["mae"],
                    row["fit_seconds"],
                )
    return CrossValidationResult(
        folds=pd.DataFrame(rows),
        n_folds=folds,
        seed=seed if assignments is None else None,
        top_n=top_n,
        relevance_threshold=float(relevance_threshold),
        assignment_source=source,
        metadata={
            "rank_users": rank_users,
            "rank_items": rank_items,
            "items_bounded": items_bounded,
        },
    )


def _fold_assignments(
    ratings: Ratings, folds: int, seed: int, assignments: np.ndarray | None
) -> tuple[np.ndarray, str]:
    """The fold of every record and where it came from ("random" or "given assignments")."""
    _check_folds(folds)
    if assignments is None:
        return kfold_assignments(len(ratings), folds, seed), "random"
    assignments = np.asarray(assignments)
    if assignments.ndim != 1:
        raise DataError(f"fold numbers must be a 1-D array, got shape {assignments.shape}")
    if len(assignments) != len(ratings):
        raise DataError(
            f"{len(assignments):,} fold numbers for {len(ratings):,} ratings"
            + _dropped_note(ratings)
        )
    if not np.issubdtype(assignments.dtype, np.integer):
        raise DataError(f"fold numbers must be integers, got dtype {assignments.dtype}")
    outside = (assignments < 0) | (assignments >= folds)
    if outside.any() or (np.bincount(assignments, minlength=folds) == 0).any():
        raise DataError(f"fold numbers must cover 0..{folds - 1}, each with at least one record")
    return assignments.astype(np.int64), "given assignments"


def _dropped_note(ratings: Ratings) -> str:
    """Why a per-file-record assignment may not match the ratings, when the reader said so."""
    source = ratings.source
    if source is None or not (source.bad_records or source.duplicates):
        return ""
    return (
        f"; reading {source.path} dropped {source.bad_records:,} bad records and "
        f"{source.duplicates:,} duplicates, so give one fold number per kept record "
        "(see assignments_for_kept_records)"
    )


def ranking_sample(test: Ratings, threshold: float, size: int, *, seed: object) -> Ratings:
    """The held-out ratings of a seeded sample of at most ``size`` users with a relevant
    held-out rating (all of ``test`` when ``size`` is 0)."""
    if not size:
        return test
    candidates = np.unique(test.user[test.rating >= threshold])
    if len(candidates) > size:
        candidates = np.sort(np.random.default_rng(seed).choice(candidates, size, replace=False))
    return test.take(np.isin(test.user, candidates))


def _evaluate_fold(
    factory: Callable[[], Recommender],
    train: Ratings,
    test: Ratings,
    ranked: Ratings,
    top_n: int,
    relevance_threshold: float,
    rank_items: int = 0,
) -> dict[str, float]:
    """Fit a fresh model on ``train``; score its predictions on ``test`` and its rankings
    for the users of ``ranked``."""
    model = factory()
    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started

    started = time.perf_counter()
    predictions = model.predict(test.user_labels[test.user], test.item_labels[test.item])
    predict_seconds = time.perf_counter() - started

    started = time.perf_counter()
    ranking = evaluate_top_n(model, train, ranked, top_n, relevance_threshold, rank_items)
    rank_seconds = time.perf_counter() - started
    return {
        "rmse": rmse(test.rating, predictions.rating),
        "mae": mae(test.rating, predictions.rating),
        "fallback_share": predictions.fallback_share,
        **{f"{name}_at_{top_n}": getattr(ranking, name) for name in TOP_N_MEASURES},
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "rank_seconds": rank_seconds,
        "n_train": len(train),
        "n_test": len(test),
        "n_ranked_users": ranking.n_users,
    }


def evaluate_top_n(
    model: Recommender,
    train: Ratings,
    test: Ratings,
    top_n: int = 10,
    relevance_threshold: float | None = None,
    max_items: int = 0,
) -> TopNScores:
    """Top-N scores of a model fitted on ``train``, for the users with held-out ratings.

    ``max_items``: when the model knows more items, only the ``max_items`` with the most
    training ratings are candidates (ties: the smaller code); 0: every item.

    ``train`` and ``test`` share vocabularies (as ``ratings.take`` gives them). Each user
    with a relevant held-out rating who is known to the model gets every training item they
    did not rate in training ranked by predicted rating (ties: smaller item code first).
    Relevant are the held-out ratings >= ``relevance_threshold`` (default: 80% of the
    scale's top), including items the model never saw and so cannot recommend. Users the
    model does not know cannot be ranked and are left out.
    """
    _check_k(top_n)
    if relevance_threshold is None:
        relevance_threshold = default_relevance_threshold(train.scale)
    user_map = model.user_codes(train.user_labels)
    item_map = model.item_codes(train.item_labels)
    relevant = test.take(test.rating >= relevance_threshold)
    users = np.unique(relevant.user)
    users = users[user_map[users] >= 0]
    relevant_matrix = _relevant_items(relevant, users)
    rated = _binary_matrix(
        user_map[train.user], item_map[train.item], (len(model.user_index_), len(model.item_index_))
    )
    ranked = _top_items(model, user_map[users], rated, top_n, _most_rated(rated, max_items))
    hits = _ranked_hits(ranked, relevant_matrix, _inverse_item_map(item_map, model))
    scores = scores_from_hits(hits, np.diff(relevant_matrix.indptr), top_n)
    coverage, novelty, diversity = list_measures(ranked, rated, top_n)
    return dataclasses.replace(scores, coverage=coverage, novelty=novelty, diversity=diversity)


def _relevant_items(relevant: Ratings, users: np.ndarray) -> sp.csr_matrix:
    """0/1 matrix: row j holds the relevant items (shared codes) of ``users[j]``."""
    row_of = np.full(relevant.n_users, -1, dtype=np.int64)
    row_of[users] = np.arange(len(users))
    rows = row_of[relevant.user]
    keep = rows >= 0
    return _binary_matrix(rows[keep], relevant.item[keep], (len(users), relevant.n_items))


def _most_rated(rated: sp.csr_matrix, max_items: int) -> np.ndarray | None:
    """The ``max_items`` item codes with the most training ratings, in code order (ties: the
    smaller code); None when every item is a candidate."""
    if not max_items or rated.shape[1] <= max_items:
        return None
    counts = np.bincount(rated.indices, minlength=rated.shape[1])
    order = np.argsort(-counts, kind="stable")[:max_items]
    return np.sort(order)


def _top_items(
    model: Recommender,
    user_codes: np.ndarray,
    rated: sp.csr_matrix,
    top_n: int,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """users x top_n model item codes, best first, ``rated`` items excluded, -1 padded.

    Scores come from ``model.predict_codes`` for a batch of users at a time; ties go to the
    smaller item code (a stable sort), as in `Recommender.recommend`. ``candidates``: the
    item codes ranked (sorted; None: every item).
    """
    items = np.arange(rated.shape[1]) if candidates is None else np.asarray(candidates)
    n_items = len(items)
    batch = max(1, _RANKING_BATCH_ELEMENTS // max(n_items, 1))
    take = min(top_n, n_items)
    out = np.full((len(user_codes), top_n), -1, dtype=np.int64)
    for start in range(0, len(user_codes), batch):
        users = user_codes[start : start + batch]
        scores = model.predict_codes(np.repeat(users, n_items), np.tile(items, len(users)))
        matrix = scores.rating.astype(np.float64).reshape(len(users), n_items)
        excluded = rated[users][:, items].tocoo()
        matrix[excluded.row, excluded.col] = -np.inf
        order = np.argsort(-matrix, axis=1, kind="stable")[:, :take]
        allowed = np.take_along_axis(matrix, order, axis=1) > -np.inf
        out[start : start + len(users), :take] = np.where(allowed, items[order], -1)
    return out


def _inverse_item_map(item_map: np.ndarray, model: Recommender) -> np.ndarray:
    """Model item code -> code in the shared vocabulary of train and test."""
    inverse = np.full(len(model.item_index_), -1, dtype=np.int64)
    known = item_map >= 0
    inverse[item_map[known]] = np.flatnonzero(known)
    return inverse


def _ranked_hits(
    ranked: np.ndarray, relevant: sp.csr_matrix, model_to_shared: np.ndarray
) -> np.ndarray:
    """Boolean users x top_n: is each ranked item among the user's relevant items?"""
    shared = np.where(ranked >= 0, model_to_shared[np.maximum(ranked, 0)], -1)
    rows = np.repeat(np.arange(len(ranked)), ranked.shape[1])
    relevant = relevant.tocoo()
    relevant_keys = _pair_keys(relevant.row, relevant.col)
    hits = np.isin(_pair_keys(rows, shared.ravel()), relevant_keys) & (shared.ravel() >= 0)
    return hits.reshape(ranked.shape)


def _binary_matrix(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    data = np.ones(len(rows), dtype=np.int8)
    matrix = sp.csr_matrix((data, (rows, columns)), shape=shape)
    matrix.sum_duplicates()
    return matrix
