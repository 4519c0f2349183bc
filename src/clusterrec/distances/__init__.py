"""User-user distances over co-rated items: masked Euclidean, masked cosine and Jaccard.

With ``lambda`` the 0/1 "rated" mask and sums over items ``k``:

* ``euclidean(u, v) = sqrt(sum_k (R_u(k) - R_v(k))^2 lambda_u(k) lambda_v(k))``
* ``euclidean_rms(u, v)`` = ``euclidean(u, v) / sqrt(c(u, v))``, the root mean square
  difference over the ``c(u, v)`` co-rated items
* ``cosine(u, v) = 1 - sum R_u R_v lambda_u lambda_v / (sqrt(sum R_u^2 lambda_u lambda_v)
  sqrt(sum R_v^2 lambda_u lambda_v))`` (the norms too are over co-rated items only)
* ``jaccard(u, v) = 1 - |phi(u) & phi(v)| / |phi(u) | phi(v)|``

Nothing loops over pairs. With ``S = R∘R`` and ``M`` the mask, every quantity is a sparse
product: ``dot = R·Rᵀ``, the co-rated counts ``C = M·Mᵀ``, ``A = S·Mᵀ`` (the sum of u's
squares over the items v rated; A and C come from one complex product), and then
``euclidean² = A + Aᵀ − 2·dot``, ``cosine = 1 − dot / sqrt(A ∘ Aᵀ)`` and
``jaccard = 1 − C / (n_u + n_v − C)``. The products are taken in row blocks (float64
arithmetic, float32 results), only for the blocks on and right of the diagonal: the dense
matrix mirrors them, the k-nearest search offers each pair to both of its users and keeps
k per user, so its memory stays at one block and never reaches n x n. Popular items (rated
by more than a fifth of the users) go through a dense BLAS product, the long tail through
sparse products, and items rated by a single user are left out (no pair shares them): the
result is the same, only faster. The same engine (:mod:`clusterrec.distances.engine`: one policy,
one set of sums and formulas, one blocking) gives the users x centroids distances of k-means and
k-medoids and the Pearson similarities of the user-kNN baseline.

**Pairs without evidence.** A pair with no co-rated item has no Euclidean or cosine
distance. Such a pair gets the value chosen by ``undefined``: ``"max"`` (default), the largest
value the metric can take on the data (see :func:`largest_distance`), or a fixed number. So a
pair with nothing in common never reads as identical, and no distance is ever NaN or negative.
Pairs with fewer than ``min_overlap`` co-rated items are treated the same way, and ``shrinkage``
(``beta``) pulls the distance of a pair with ``c`` co-rated items toward that value::

    d' = c / (c + beta) * d + beta / (c + beta) * undefined_value

because one or two co-rated items make a distance of 0 cheap (one co-rated item always gives
a cosine distance of 0). **The default is** ``shrinkage=0`` with ``min_overlap=1``: the
formulas as the assignment states them. :data:`MEASURED_SHRINKAGE` (``beta = 2``) was chosen by
measurement on 20,000 generated users (heavy-tailed popularity over 68,084 movies, 150..300
ratings each; ``benchmarks/bench_distances.py``, ``docs/distances.md``): without protection
50 % (cosine) and 29 % (Euclidean) of users had all 6 nearest neighbours at distance 0, found
among users sharing 3 movies with them on average; with ``beta = 2`` no user had, neighbours
share 17..24 movies, and the (RMS) Euclidean neighbours rate most like the user of all
candidates tried. A ``min_overlap`` alone needed 10 co-rated movies to do as much and found
neighbours who rate less like the user. The run uses it (``[distances] shrinkage = 2.0`` of the
run configuration, which ``clusterrec cluster`` shares) for the distance matrices, the
silhouettes and the user-medoid distances; pass ``shrinkage=MEASURED_SHRINKAGE`` to get the
same distances. Jaccard needs neither: it is itself a measure of overlap, and a pair with
nothing in common already gets its largest value, 1; it is undefined only for two users who
both have no rating.

A user with no rating is allowed: every Euclidean and cosine distance to them is undefined.
The diagonal is always 0 and the matrices are exactly symmetric.
"""

from clusterrec.distances.engine import (
    CO_RATED_METRICS,
    DEFAULT_MEMORY_BUDGET,
    DEFAULT_MIN_OVERLAP,
    DEFAULT_SHRINKAGE,
    MEASURED_SHRINKAGE,
    METRICS,
    UNDEFINED_POLICIES,
    as_rating_matrix,
    dense_bytes,
)
from clusterrec.distances.neighbors import nearest_neighbors
from clusterrec.distances.pairwise import co_rated_counts, largest_distance, pairwise_distances

__all__ = [
    "CO_RATED_METRICS",
    "DEFAULT_MEMORY_BUDGET",
    "DEFAULT_MIN_OVERLAP",
    "DEFAULT_SHRINKAGE",
    "MEASURED_SHRINKAGE",
    "METRICS",
    "UNDEFINED_POLICIES",
    "as_rating_matrix",
    "co_rated_counts",
    "dense_bytes",
    "largest_distance",
    "nearest_neighbors",
    "pairwise_distances",
]
