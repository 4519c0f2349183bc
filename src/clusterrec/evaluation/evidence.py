"""Measured evidence for judging the metrics: how each distance and its clusters behave."""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clusterrec.clustering._common import DEFAULT_EVIDENCE_PAIRS, _as_csr
from clusterrec.clustering.sweep import silhouette
from clusterrec.data.ratings import Ratings
from clusterrec.data.statistics import named_quantiles
from clusterrec.distances.engine import CO_RATED_METRICS, DEFAULT_MIN_OVERLAP
from clusterrec.distances.pairwise import co_rated_counts, largest_distance

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "activity_by_cluster",
    "activity_summary",
    "jaccard_weaknesses",
    "metric_evidence",
    "size_balance",
    "sparse_user_evidence",
]


# -- evidence for judging the metrics -------------------------------------------------------------


def size_balance(labels: np.ndarray, n_clusters: int) -> dict[str, float | None]:
    """Smallest and largest cluster, their ratio (None with an empty cluster) and the size
    entropy / log L (1 = equal sizes)."""
    sizes = np.bincount(labels, minlength=n_clusters)
    shares = sizes[sizes > 0] / sizes.sum()
    entropy = (
        float(-(shares * np.log(shares)).sum() / math.log(n_clusters)) if n_clusters > 1 else 1.0
    )
    smallest, largest = int(sizes.min()), int(sizes.max())
    return {
        "size_min": smallest,
        "size_max": largest,
        "largest_to_smallest": largest / smallest if smallest else None,
        "size_entropy": entropy,
    }


def _pair_sample(n: int, max_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs u < v: all of them, or ``max_pairs`` drawn uniformly when there are more."""
    if n * (n - 1) // 2 <= max_pairs:
        return np.triu_indices(n, 1)
    rng = np.random.default_rng([seed, n])
    u, v = rng.integers(n, size=(2, int(max_pairs * 1.1) + 16))
    keep = u != v
    u, v = np.minimum(u, v)[keep][:max_pairs], np.maximum(u, v)[keep][:max_pairs]
    return u, v


def metric_evidence(
    R: RatingsLike,
    labels: Mapping[str, np.ndarray],
    distances: Mapping[str, np.ndarray],
    *,
    algorithms: Mapping[str, str] | None = None,
    users: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    max_pairs: int = DEFAULT_EVIDENCE_PAIRS,
    seed: int = 0,
) -> dict:
    """Measured evidence for judging the metrics: one row per metric and the agreements.

    ``labels[metric]``: a clustering of all n users; ``distances[metric]``: the metric's matrix
    over ``users`` (None: all). Per metric: share of pairs with no co-rated movie and share
    undefined or at the metric's largest value, quantiles of the defined distances, cluster-size
    balance, silhouette, Spearman correlation of distance with the number of co-rated movies
    over defined pairs, and the adjusted Rand index against ``truth`` when given. Agreement:
    the adjusted Rand index of every pair of metrics' clusterings.
    """
    from sklearn.metrics import adjusted_rand_score

    matrix = _as_csr(R)
    subset = matrix if users is None else matrix[users]
    counts = co_rated_counts(subset, memory_budget=None)
    u, v = _pair_sample(subset.shape[0], max_pairs, seed)
    overlap = counts[u, v]
    del counts
    rows = []
    for metric, D in distances.items():
        all_labels = np.asarray(labels[metric])
        sub_labels = all_labels if users is None else all_labels[users]
        values = D[u, v].astype(np.float64)
        if metric in CO_RATED_METRICS:
            defined = overlap >= min_overlap
        else:
            defined = np.ones(len(values), dtype=bool)
        n_clusters = int(all_labels.max()) + 1
        row = {
            "metric": metric,
            "algorithm": (algorithms or {}).get(metric),
            "n_clusters": n_clusters,
            "users": int(subset.shape[0]),
            "pairs": int(len(u)),
            "no_co_rated_share": float(np.mean(overlap == 0)),
            "undefined_share": float(np.mean(~defined)),
            "at_max_share": float(np.mean(values >= largest_distance(R, metric) * (1 - 1e-6))),
            **_quantiles(values[defined]),
            "silhouette": silhouette(D, sub_labels),
            **size_balance(all_labels, n_clusters),
            "spearman_co_rated": _spearman(values[defined], overlap[defined]),
        }
        if truth is not None:
            row["ari_vs_truth"] = float(adjusted_rand_score(truth, all_labels))
        rows.append(row)
    agreement = [
        {"metric_a": a, "metric_b": b, "ari": float(adjusted_rand_score(labels[a], labels[b]))}
        for a, b in combinations(list(distances), 2)
    ]
    return {"metrics": rows, "agreement": agreement}


#: The quantiles of the defined distances the evidence table reports, by name.
_DISTANCE_QUANTILES = {"q05": 0.05, "q25": 0.25, "median": 0.5, "q75": 0.75, "q95": 0.95}


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    """The distance quantiles and the relative interquartile range (None when undefined)."""
    result = named_quantiles(values, _DISTANCE_QUANTILES)
    median = result["median"]
    relative = (
        (result["q75"] - result["q25"]) / median if median is not None and median > 0 else None
    )
    return result | {"relative_iqr": relative}


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation; None when it is undefined (fewer than 3 values, or either
    side constant)."""
    from scipy.stats import spearmanr

    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def jaccard_weaknesses(
    ratings: Ratings,
    distances: Mapping[str, np.ndarray],
    users: np.ndarray | None,
    min_pairs_overlap: int = 5,
) -> dict:
    """Measured: how Jaccard ignores rating values and how it treats sparse users.

    * ``tracks_disagreement``: per metric, the Spearman correlation over pairs with at least
      ``min_pairs_overlap`` co-rated movies of the distance with the root mean square rating
      difference over those movies (near 0 for Jaccard: it says nothing about agreement).
    * ``nearest_neighbour``: per metric, each user's nearest other user: the median number of
      co-rated movies and the median RMS rating difference over them.
    * ``sparse_users``: Spearman correlation of a user's number of ratings with their
      Jaccard distance to their nearest neighbour; that distance in the lowest and highest
      activity quartiles; and the largest Jaccard similarity a pair of users can reach,
      ``min(n_u, n_v) / max(n_u, n_v)``, for the least and most active users.
    """
    from clusterrec.distances.pairwise import co_rated_counts, pairwise_distances

    R = ratings.matrix()
    subset = R if users is None else R[users]
    counts = co_rated_counts(subset, memory_budget=None)
    # the plain root mean square difference over co-rated movies: no shrinkage
    rms = pairwise_distances(
        subset, "euclidean_rms", min_overlap=1, shrinkage=0.0, memory_budget=None
    )
    upper = np.triu(counts >= min_pairs_overlap, 1)
    return {
        "pairs": int(upper.sum()),
        "min_pairs_overlap": min_pairs_overlap,
        "tracks_disagreement": {m: _spearman(D[upper], rms[upper]) for m, D in distances.items()},
        "nearest_neighbour": [
            _nearest_neighbour_agreement(metric, D, counts, rms) for metric, D in distances.items()
        ],
        "sparse_users": sparse_user_evidence(distances["jaccard"], np.diff(subset.indptr)),
    }


def _nearest_neighbour_agreement(
    metric: str, D: np.ndarray, counts: np.ndarray, rms: np.ndarray
) -> dict:
    """Each user's nearest other user under ``D``: median co-rated movies and RMS difference."""
    nn = _nearest_other(D)
    rows = np.arange(len(nn))
    shared = counts[rows, nn]
    return {
        "metric": metric,
        "median_co_rated": float(np.median(shared)),
        "median_rms_difference": float(np.median(rms[rows, nn][shared > 0]))
        if (shared > 0).any()
        else None,
        "share_without_co_rated": float(np.mean(shared == 0)),
    }


def sparse_user_evidence(jaccard: np.ndarray, n_rated: np.ndarray) -> dict:
    """How the Jaccard distance treats users with few ratings: their distance to the nearest
    neighbour by activity quartile, its Spearman correlation with activity, and the largest
    similarity the least and the most active user can reach, min(n_u, n_v) / max(n_u, n_v)."""
    nn = _nearest_other(jaccard)
    nn_distance = jaccard[np.arange(len(nn)), nn]
    low, high = np.quantile(n_rated, [0.25, 0.75])
    return {
        "spearman_ratings_vs_nn_distance": _spearman(n_rated, nn_distance),
        "nn_distance_lowest_quartile": float(np.median(nn_distance[n_rated <= low])),
        "nn_distance_highest_quartile": float(np.median(nn_distance[n_rated >= high])),
        "ratings_lowest_quartile": float(low),
        "ratings_highest_quartile": float(high),
        "fewest_ratings": int(n_rated.min()),
        "most_ratings": int(n_rated.max()),
        "largest_similarity_fewest_vs_most": float(n_rated.min() / max(n_rated.max(), 1)),
    }


def _nearest_other(D: np.ndarray) -> np.ndarray:
    """Each row's nearest other column (the diagonal excluded; ties: the smaller index)."""
    work = np.array(D, dtype=np.float64, copy=True)
    np.fill_diagonal(work, np.inf)
    return np.argmin(work, axis=1)


def activity_by_cluster(
    ratings: Ratings, labels: Mapping[str, Mapping[int, np.ndarray]]
) -> pd.DataFrame:
    """Per metric and L (``labels[metric][L]``, a label per user): the share of the variance of
    log(number of ratings) that the clusters explain (eta squared; 0: clusters ignore
    activity, 1: clusters are activity)."""
    activity = np.log(ratings.counts_per_user().astype(np.float64))
    total = float(((activity - activity.mean()) ** 2).sum())
    rows = []
    for metric, by_L in labels.items():
        for L, assigned in sorted(by_L.items()):
            sizes = np.bincount(assigned, minlength=L)
            means = np.bincount(assigned, weights=activity, minlength=L) / np.maximum(sizes, 1)
            between = float((sizes * (means - activity.mean()) ** 2).sum())
            rows.append({"metric": metric, "L": L, "eta_squared": between / total if total else 0})
    return pd.DataFrame(rows)


def activity_summary(frame: pd.DataFrame) -> list[dict]:
    """Per metric: the smallest and largest eta squared over the L range."""
    summary = frame.groupby("metric", sort=False)["eta_squared"].agg(["min", "max", "mean"])
    return [{"metric": m, **{k: float(v) for k, v in row.items()}} for m, row in summary.iterrows()]
