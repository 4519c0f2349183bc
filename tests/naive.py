"""Naive reference implementations: the formulas of DESIGN.md written literally, loop by loop.

Slow on purpose and free of the library's code, so a vectorised path can be checked against
them on small inputs. Shared by the tests of every stage that needs a reference.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp


def dense_rows(R) -> np.ndarray:
    """R as a dense float64 array (0 = not rated); only for the small test matrices."""
    if hasattr(R, "matrix") and callable(R.matrix):
        R = R.matrix()
    return sp.csr_matrix(R).toarray().astype(np.float64) if sp.issparse(R) else np.asarray(R)


def co_rated(a: np.ndarray, b: np.ndarray) -> list[int]:
    """Items both rows rated: lambda_u(k) * lambda_v(k) == 1."""
    return [k for k in range(len(a)) if a[k] != 0 and b[k] != 0]


def euclidean(a: np.ndarray, b: np.ndarray) -> float | None:
    """sqrt(sum_k (R_u(k) - R_v(k))^2 lambda_u(k) lambda_v(k)); None without co-rated items."""
    items = co_rated(a, b)
    if not items:
        return None
    total = 0.0
    for k in items:
        total += (a[k] - b[k]) ** 2
    return math.sqrt(total)


def euclidean_rms(a: np.ndarray, b: np.ndarray) -> float | None:
    """The Euclidean distance over co-rated items divided by sqrt(their number)."""
    items = co_rated(a, b)
    if not items:
        return None
    return euclidean(a, b) / math.sqrt(len(items))


def cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    """1 - sum R_u R_v / (sqrt(sum R_u^2) sqrt(sum R_v^2)), every sum over co-rated items."""
    items = co_rated(a, b)
    if not items:
        return None
    dot = norm_a = norm_b = 0.0
    for k in items:
        dot += a[k] * b[k]
        norm_a += a[k] * a[k]
        norm_b += b[k] * b[k]
    return 1.0 - dot / (math.sqrt(norm_a) * math.sqrt(norm_b))


def jaccard(a: np.ndarray, b: np.ndarray) -> float | None:
    """1 - |phi(u) & phi(v)| / |phi(u) | phi(v)|; None when both users rated nothing."""
    rated_a = {k for k in range(len(a)) if a[k] != 0}
    rated_b = {k for k in range(len(b)) if b[k] != 0}
    union = rated_a | rated_b
    if not union:
        return None
    return 1.0 - len(rated_a & rated_b) / len(union)


METRICS = {
    "euclidean": euclidean,
    "euclidean_rms": euclidean_rms,
    "cosine": cosine,
    "jaccard": jaccard,
}


def largest_value(rows: np.ndarray, metric: str, spread: float | None = None) -> float:
    """The documented "max" value: the largest distance the metric can take on this data."""
    ratings = [x for row in rows for x in row if x != 0]
    if spread is None:
        spread = max(ratings) - min(ratings) if ratings else 0.0
    if spread <= 0:
        spread = 1.0
    most_ratings = max((sum(1 for x in row if x != 0) for row in rows), default=0)
    if metric == "euclidean":
        return spread * math.sqrt(max(most_ratings, 1))
    if metric == "euclidean_rms":
        return spread
    if metric == "cosine":
        return 1.0 if not ratings or min(ratings) > 0 else 2.0
    return 1.0


def pairwise_distances(
    R,
    metric: str,
    *,
    min_overlap: int = 1,
    shrinkage: float = 0.0,
    undefined: float | None = None,
    spread: float | None = None,
) -> np.ndarray:
    """The n x n float64 distance matrix, pair by pair, with the policy for undefined pairs.

    ``undefined=None`` means the metric's largest value on the data.
    """
    rows = dense_rows(R)
    n = len(rows)
    fallback = largest_value(rows, metric, spread) if undefined is None else undefined
    out = np.zeros((n, n))
    for u in range(n):
        for v in range(n):
            if u == v:
                continue
            d = METRICS[metric](rows[u], rows[v])
            if metric != "jaccard":
                overlap = len(co_rated(rows[u], rows[v]))
                if d is not None and overlap < min_overlap:
                    d = None
                if d is not None and shrinkage > 0:
                    d = (overlap * d + shrinkage * fallback) / (overlap + shrinkage)
            out[u, v] = fallback if d is None else d
    return out


def co_rated_counts(R) -> np.ndarray:
    """|phi(u) & phi(v)| for every pair, the diagonal holding each user's number of ratings."""
    rows = dense_rows(R)
    n = len(rows)
    out = np.zeros((n, n), dtype=np.int64)
    for u in range(n):
        for v in range(n):
            out[u, v] = len(co_rated(rows[u], rows[v]))
    return out


def nearest_neighbors(
    distances: np.ndarray, k: int, groups=None, allowed=None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest other rows of a dense distance matrix, by sorting whole rows.

    Candidates are the other members of the row's group (and, with ``allowed``, only the
    columns where it is True); order is (distance, index); rows with fewer than k candidates
    are padded with index -1 and distance +inf.
    """
    n = len(distances)
    labels = [0] * n if groups is None else list(groups)
    allowed = [True] * n if allowed is None else list(allowed)
    indices = np.full((n, k), -1, dtype=np.int64)
    values = np.full((n, k), np.inf, dtype=np.float32)
    for u in range(n):
        candidates = [
            (distances[u, v], v)
            for v in range(n)
            if v != u and labels[v] == labels[u] and allowed[v]
        ]
        for j, (d, v) in enumerate(sorted(candidates)[:k]):
            indices[u, j] = v
            values[u, j] = d
    return indices, values
