"""Error and ranking metrics: RMSE, MAE; at a cut-off k precision, recall, NDCG, MAP, MRR and
hit rate (per user, from the hits), and catalogue coverage, novelty and intra-list diversity
(over the lists). Formulas: docs/evaluation.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clusterrec.data.ratings import RatingScale
from clusterrec.errors import ConfigError, DataError

__all__ = [
    "RELEVANCE_SHARE",
    "TopNScores",
    "default_relevance_threshold",
    "list_measures",
    "mae",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "rmse",
    "scores_from_hits",
    "top_n_scores",
]

#: Share of the scale's top at or above which a held-out rating counts as relevant.
RELEVANCE_SHARE = 0.8


# -- error metrics --------------------------------------------------------------------------------


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error."""
    y_true, y_pred = _paired(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    y_true, y_pred = _paired(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def _paired(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if len(y_true) != len(y_pred):
        raise ConfigError(f"{len(y_true)} true ratings but {len(y_pred)} predictions")
    if len(y_true) == 0:
        raise DataError("no ratings to score")
    return y_true, y_pred


# -- top-N metrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopNScores:
    """Precision, recall, NDCG, MAP, MRR and hit rate at ``k``, averaged over the ``n_users``
    evaluated users; catalogue coverage, novelty and intra-list diversity of the lists (NaN
    where they were not measured: :func:`list_measures` needs the catalogue).

    Users without a relevant item are left out of the averages (their recall and NDCG are
    undefined); the metrics are NaN when no user is left.
    """

    k: int
    precision: float
    recall: float
    ndcg: float
    n_users: int
    map: float = float("nan")
    mrr: float = float("nan")
    hit_rate: float = float("nan")
    coverage: float = float("nan")
    novelty: float = float("nan")
    diversity: float = float("nan")


def top_n_scores(
    ranking: np.ndarray | Sequence[Sequence[int]],
    relevant: Sequence[object],
    k: int = 10,
) -> TopNScores:
    """Binary-relevance precision, recall and NDCG at ``k`` of per-user rankings.

    Args:
        ranking: per user, item ids best first; a 2-D integer array (pad short rows with -1)
            or a sequence of sequences.
        relevant: per user (same order), the relevant items (any collection of item ids).
        k: cut-off.

    Precision@k = hits in the top k / k; recall@k = hits / number of relevant items;
    NDCG@k = DCG / ideal DCG with gains 1 / log2(rank + 1), rank counted from 1.
    """
    hits, n_relevant = _hits(ranking, relevant, k)
    return scores_from_hits(hits, n_relevant, k)


def precision_at_k(
    ranking: np.ndarray | Sequence[Sequence[int]], relevant: Sequence[object], k: int = 10
) -> float:
    """Mean over users with a relevant item of (relevant items in the top k) / k."""
    return top_n_scores(ranking, relevant, k).precision


def recall_at_k(
    ranking: np.ndarray | Sequence[Sequence[int]], relevant: Sequence[object], k: int = 10
) -> float:
    """Mean over users with a relevant item of (relevant items in the top k) / (relevant)."""
    return top_n_scores(ranking, relevant, k).recall


def ndcg_at_k(
    ranking: np.ndarray | Sequence[Sequence[int]], relevant: Sequence[object], k: int = 10
) -> float:
    """Mean over users with a relevant item of DCG@k / ideal DCG@k (binary relevance)."""
    return top_n_scores(ranking, relevant, k).ndcg


def scores_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> TopNScores:
    """Top-N scores from a users x k boolean hit matrix and each user's number of relevant items.

    The vectorised core of :func:`top_n_scores`; rows with ``n_relevant == 0`` are left out.
    """
    _check_k(k)
    hits = np.asarray(hits, dtype=bool)[:, :k]
    n_relevant = np.asarray(n_relevant, dtype=np.int64)
    evaluated = n_relevant > 0
    n_users = int(evaluated.sum())
    if n_users == 0:
        return TopNScores(k, float("nan"), float("nan"), float("nan"), 0)
    hits, n_relevant = hits[evaluated], n_relevant[evaluated]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    n_hits = hits.sum(axis=1)
    dcg = (hits * discounts[: hits.shape[1]]).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    ranks = np.arange(1, hits.shape[1] + 1)
    precision_at_rank = np.cumsum(hits, axis=1) / ranks
    average_precision = (precision_at_rank * hits).sum(axis=1) / np.minimum(n_relevant, k)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)
    return TopNScores(
        k=k,
        precision=float(np.mean(n_hits / k)),
        recall=float(np.mean(n_hits / n_relevant)),
        ndcg=float(np.mean(dcg / ideal)),
        n_users=n_users,
        map=float(np.mean(average_precision)),
        mrr=float(np.mean(1.0 / first)),
        hit_rate=float(np.mean(n_hits > 0)),
    )


def list_measures(
    ranking: np.ndarray, rated: object, k: int | None = None
) -> tuple[float, float, float]:
    """(catalogue coverage, novelty, intra-list diversity) of the top-k lists ``ranking``.

    Args:
        ranking: users x k item codes (columns of ``rated``), best first, -1 padded.
        rated: the training data as a users x items sparse matrix (nonzero: rated); its
            columns are the catalogue.
        k: cut-off (default: every column of ``ranking``).

    Coverage = distinct items in the lists / items in the catalogue. Novelty = the mean, over
    every recommended slot, of the item's popularity rank in training (1: the most rated item;
    items tied share the best rank). Diversity = the mean, over lists of two or more items,
    of the mean over pairs of 1 - cosine similarity of the two items' rater vectors (binary,
    training). Each is a sum over lists or slots, so computing the lists in any batches gives
    the same values.
    """
    import scipy.sparse as sp

    top = np.asarray(ranking, dtype=np.int64)
    if k is not None:
        _check_k(k)
        top = top[:, :k]
    binary = sp.csr_matrix(rated, copy=True)
    binary.data[:] = 1.0
    binary = binary.astype(np.float64)
    n_items = binary.shape[1]
    chosen = top[top >= 0]
    if len(chosen) == 0 or n_items == 0:
        return float("nan"), float("nan"), float("nan")
    coverage = len(np.unique(chosen)) / n_items
    popularity = np.asarray(binary.sum(axis=0)).ravel()
    order = np.sort(popularity)[::-1]
    rank = 1 + np.searchsorted(-order, -popularity, side="left")  # ties share the best rank
    novelty = float(np.mean(rank[chosen]))
    vectors = sp.csr_matrix(binary.T)
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    vectors = sp.csr_matrix(sp.diags(1.0 / norms) @ vectors)
    diversities = []
    for row in top:
        items = row[row >= 0]
        m = len(items)
        if m < 2:
            continue
        block = vectors[items]
        similarity = (block @ block.T).toarray()
        pairs = (similarity.sum() - np.trace(similarity)) / 2
        diversities.append(1.0 - pairs / (m * (m - 1) / 2))
    diversity = float(np.mean(diversities)) if diversities else float("nan")
    return float(coverage), novelty, diversity


def _hits(
    ranking: np.ndarray | Sequence[Sequence[int]], relevant: Sequence[object], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(users x k hit matrix, number of relevant items per user) for :func:`top_n_scores`."""
    _check_k(k)
    top = _padded(ranking, k)
    relevant_sets = [np.unique(np.asarray(list(r), dtype=np.int64)) for r in relevant]
    if len(relevant_sets) != len(top):
        raise ConfigError(f"{len(top)} rankings but {len(relevant_sets)} relevant-item sets")
    n_relevant = np.array([len(r) for r in relevant_sets], dtype=np.int64)
    rows = np.repeat(np.arange(len(top)), n_relevant)
    relevant_pairs = _pair_keys(rows, np.concatenate([np.zeros(0, np.int64), *relevant_sets]))
    ranked_pairs = _pair_keys(np.repeat(np.arange(len(top)), k), top.ravel())
    hits = np.isin(ranked_pairs, relevant_pairs) & (top.ravel() >= 0)
    return hits.reshape(len(top), k), n_relevant


def _padded(ranking: np.ndarray | Sequence[Sequence[int]], k: int) -> np.ndarray:
    """The first k entries of each ranking as a users x k int64 array padded with -1."""
    if isinstance(ranking, np.ndarray) and ranking.ndim == 2:
        top = ranking[:, :k].astype(np.int64)
    else:
        rows = [np.asarray(r, dtype=np.int64)[:k] for r in ranking]
        top = np.full((len(rows), k), -1, dtype=np.int64)
        for row, items in enumerate(rows):
            top[row, : len(items)] = items
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])), constant_values=-1)
    return top


def _pair_keys(rows: np.ndarray, items: np.ndarray) -> np.ndarray:
    """One int64 key per (row, item) pair; items are shifted so that -1 stays distinct."""
    return rows.astype(np.int64) * (2**32) + (items.astype(np.int64) + 1)


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k must be an integer >= 1; got {k!r}")


def default_relevance_threshold(scale: RatingScale) -> float:
    """80% of the scale's top: 4 on 1..5, 8 on 1..10."""
    return RELEVANCE_SHARE * scale.high
