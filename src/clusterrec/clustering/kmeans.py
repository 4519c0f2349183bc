"""Masked k-means: k-means of users under a masked metric, sparse throughout.

**Masked k-means** (``euclidean``, ``euclidean_rms``, ``cosine``) works on the sparse ratings.
A centroid's rating of a movie is the mean over the cluster members who rated it; its mask is
the movies at least one member rated. A user's distance to a centroid is the metric over the
movies both cover. With ``S = R∘R``, ``M`` the users' 0/1 mask, ``C`` the centroid values and
``Mc`` their mask (both sparse, L x m), every quantity is a sparse product::

    co-rated squared distance = S·Mcᵀ + M·(C∘C)ᵀ − 2·R·Cᵀ
    cosine = 1 − R·Cᵀ / sqrt((S·Mcᵀ) ∘ (M·(C∘C)ᵀ))        overlap = M·Mcᵀ

**Leave-one-out assignment** (default). Most movies are rated by one or two members of a
cluster, so a user's own ratings make up much of their own centroid: measured against it, every
user looks closest to the cluster they are already in, and k-means stops at once wherever it
starts (from a random partition, at the first step). So a user's distance to their *own*
cluster is taken to the mean of the other members (``(sum − R_u) / (count − 1)`` over the
movies another member rated, O(nnz) from the update's sums); to other clusters it is the usual
one. On the seed-size generated data with four planted taste groups this raised the adjusted
Rand index of cosine k-means from about 0.1 to 1.0 (``leave_one_out=False`` gives the plain
rule). At a fixed point every user is nearer to the rest of their cluster than to any other
centroid.

The objective is the sum over users of the squared distance to their centroid for the
Euclidean metrics (k-means inertia) and of the cosine distance for cosine (spherical k-means),
with the leave-one-out distance to the own centroid.

Seeding is k-means++ under the same metric: the next seed is a user drawn with probability
proportional to their cost to the nearest seed so far. Each restart runs until the labels stop
changing (at most a share ``tol`` of users moving), a few users cycle between two clusters,
the movement stops falling, or after ``max_iter`` assignments; the restart with the lowest
objective (and no empty cluster, where possible) wins. Unlike plain k-means the objective is
not guaranteed to fall at every step: centroid masks change as members move (the first update,
from single seed users to centroids covering many movies, raises the Euclidean objective
sharply), and with leave-one-out assignment a few users can cycle between two clusters. An
empty cluster is re-seeded with the costlier half of the largest cluster (not with a single
user: a centroid covering few movies looks near to everyone under a masked metric, and on the
seed-size data single-user re-seeds made whole runs collapse into a few clusters).

**Two forms.** The *full* form runs every restart on all users. Above
``sample_size`` users (:data:`~clusterrec.clustering._common.DEFAULT_KMEANS_SAMPLE_SIZE`,
3,000) the default is the *sampled* form: the ``n_init`` restarts run on a seeded sample of
that many users (at most 20 steps each, :data:`_SAMPLE_MAX_ITER`), the best one's centroids
take the other users by plain distance, and at most five assignment and update steps
(:data:`_REFINE_STEPS`) run from there on all users with the rule above. Measured at 24,702 users
(``benchmarks/results/kmeans_scaling.md``): far fewer passes over all users for an objective
within about 1 % of the full form's; ``sample_size=None`` gives the full form at any size.

**Products.** Centroids are held as dense item-major tables (sums and counts, m x L), so a
step's products are sparse x dense (``R @ means``: O(nnz·L), no index work) and the update is
one ``bincount``: the same sums in the same order as the distances engine's sparse x sparse
products, so the same labels to the last bit, at about a third of the time per step. Memory:
about 40·m·L bytes during a step (48 MB for L=5 over 240,000 movies); beyond 512 MiB the
engine's sparse products are used instead.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from clusterrec.clustering._common import (
    _PATIENCE,
    DEFAULT_KMEANS_SAMPLE_SIZE,
    DEFAULT_MAX_ITER,
    DEFAULT_N_INIT,
    DEFAULT_TOL,
    _as_csr,
    _build_policy,
    _Centers,
    _check_count,
    _check_kmeans_metric,
    _check_n_clusters,
    _Members,
    _UserRows,
)
from clusterrec.clustering.centroids import (
    _assign_nearest,
    _center_distances,
    _costs,
    _own_center_distances,
)
from clusterrec.clustering.result import Clustering, _ClusterEstimator
from clusterrec.distances.engine import DEFAULT_MIN_OVERLAP, _BlockSums, _distances, _Policy
from clusterrec.distances.pairwise import largest_distance
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    from clusterrec.distances.engine import RatingsLike

__all__ = [
    "MaskedKMeans",
    "kmeans_objective",
    "masked_kmeans",
]

logger = logging.getLogger("clusterrec")


# -- masked k-means -------------------------------------------------------------------------------


def masked_kmeans(
    R: RatingsLike,
    n_clusters: int,
    metric: str = "euclidean",
    *,
    n_init: int = DEFAULT_N_INIT,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    undefined: str | float = "max",
    leave_one_out: bool = True,
    sample_size: int | None = DEFAULT_KMEANS_SAMPLE_SIZE,
    seed: int | np.random.Generator | None = 0,
) -> Clustering:
    """k-means of the users of ``R`` under a masked metric, sparse throughout.

    ``n_init`` k-means++ restarts; the lowest objective wins. Same ``seed``, same result.
    ``leave_one_out``: a user's distance to their own cluster is to the mean of the *other*
    members (see the module docstring, with centroids, the objective and users sharing no
    movie with any centroid). ``sample_size``: with more users than this, the restarts run on
    a seeded sample of that many users and only the best is refined on all users (the
    *sampled* form, ``sample`` of the result); ``None``, or at most that many users: every
    restart on all users (the *full* form).
    """
    return _masked_kmeans(
        R,
        n_clusters,
        metric,
        n_init=n_init,
        max_iter=max_iter,
        tol=tol,
        min_overlap=min_overlap,
        undefined=undefined,
        leave_one_out=leave_one_out,
        sample_size=sample_size,
        seed=seed,
    )


def _masked_kmeans(
    R: RatingsLike,
    n_clusters: int,
    metric: str = "euclidean",
    *,
    n_init: int = DEFAULT_N_INIT,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    undefined: str | float = "max",
    leave_one_out: bool = True,
    sample_size: int | None = DEFAULT_KMEANS_SAMPLE_SIZE,
    seed: int | np.random.Generator | None = 0,
    products: str = "tables",
) -> Clustering:
    """:func:`masked_kmeans` with a choice of ``products``: ``"tables"`` (dense centroid
    tables, the default) or ``"engine"`` (the distances engine's sparse x sparse products and
    a sort-based update: the code before the tables, same numbers, kept as the reference and
    for the benchmark's side-by-side timing)."""
    _check_kmeans_metric(metric)
    if products not in _PRODUCTS:
        raise ConfigError(f"products must be one of {', '.join(_PRODUCTS)}; got {products!r}")
    matrix, policy = _build_policy(R, metric, min_overlap, undefined)
    rows = _UserRows.build(matrix)
    n_clusters = _check_n_clusters(n_clusters, rows.n_users)
    n_init = _check_count(n_init, "n_init")
    max_iter = _check_count(max_iter, "max_iter")
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not tol >= 0:
        raise ConfigError(f"tol must be a number >= 0; got {tol!r}")
    if sample_size is not None:
        sample_size = _check_count(sample_size, "sample_size")
        if sample_size < n_clusters:
            raise ConfigError(
                f"sample_size={sample_size} is fewer than n_clusters={n_clusters}; give a "
                "larger sample_size, or None to run every restart on all users"
            )
    if products == "tables" and _TABLE_BYTES * matrix.shape[1] * n_clusters > _TABLE_BUDGET:
        logger.debug("masked_kmeans: centroid tables over the budget; sparse products instead")
        products = "engine"
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    options = _RunOptions(n_clusters, policy, max_iter, float(tol), leave_one_out, products)
    if sample_size is None or rows.n_users <= sample_size:
        best = _best_restart(rows, options, rng, n_init)
    else:
        best = _sampled_kmeans(rows, options, rng, n_init, sample_size)
    logger.info(
        "masked_kmeans: %s users%s, %s, L=%d, objective %.6g, %.2f s",
        f"{rows.n_users:,}",
        "" if best.sample is None else f" (restarts on {len(best.sample):,})",
        metric,
        n_clusters,
        best.objective,
        time.perf_counter() - started,
    )
    return best


#: Most assignment steps on all users after the sample's restarts (the sampled form).
_REFINE_STEPS = 5
#: Most assignment steps of each restart on the sample (the sampled form): the later steps
#: are mostly users cycling; at 24,702 users 20 gave objectives within 0.2 % of no cap.
_SAMPLE_MAX_ITER = 20
#: How a step computes its products (see :func:`_masked_kmeans`).
_PRODUCTS = ("tables", "engine")
#: Bytes per movie and centroid the tables take during a step, and the most they may take:
#: beyond it (L x m over 13M, e.g. L=56 over 240,000 movies) the engine's sparse products.
_TABLE_BYTES = 40
_TABLE_BUDGET = 512 * 1024**2


@dataclass(frozen=True)
class _RunOptions:
    """What every restart of one call shares."""

    n_clusters: int
    policy: _Policy
    max_iter: int
    tol: float
    leave_one_out: bool
    products: str


def _best_restart(
    rows: _UserRows, options: _RunOptions, rng: np.random.Generator, n_init: int
) -> Clustering:
    """``n_init`` restarts on ``rows``; the best by :func:`_restart_rank`."""
    return min(_restarts(rows, options, rng, n_init), key=_restart_rank)


def _restarts(
    rows: _UserRows, options: _RunOptions, rng: np.random.Generator, n_init: int
) -> list[Clustering]:
    """``n_init`` restarts on ``rows``, each from its own k-means++ seeds, in order."""
    runs = []
    for restart in range(n_init):
        centers = _seed_centers(rows, options.n_clusters, options.policy, rng, options.products)
        runs.append(_iterate(rows, centers, options))
        logger.debug(
            "k-means restart %d: objective %.6g after %d iterations",
            restart,
            runs[-1].objective,
            runs[-1].n_iter,
        )
    return runs


def _sampled_kmeans(
    rows: _UserRows,
    options: _RunOptions,
    rng: np.random.Generator,
    n_init: int,
    sample_size: int,
) -> Clustering:
    """The sampled form: restarts on ``sample_size`` users, the best refined on all users.

    The best restart's centroids (means over the sample) take the other users by plain
    distance (those users are not members); the sample's users keep their labels (a
    leave-one-out fixed point on the sample). Then assignment and update steps run on all
    users as in a restart, at most :data:`_REFINE_STEPS` of them. (Choosing the restart by
    the cost of the held-out users instead, one pass over all users per restart, gave the
    same or worse objectives at 24,702 users.)
    """
    sample = np.sort(rng.choice(rows.n_users, size=sample_size, replace=False))
    chosen = rows.values[sample]
    shared = _compact_items(chosen, min_raters=2 if options.leave_one_out else 1)
    on_sample = _best_restart(
        _UserRows.build(shared),
        replace(options, max_iter=min(options.max_iter, _SAMPLE_MAX_ITER)),
        rng,
        n_init,
    )
    start = _update(_UserRows.build(chosen), on_sample.labels, options.n_clusters, options)
    labels, costs, _ = _assign(rows, start, options.policy, leave_one_out=False)
    labels[sample] = on_sample.labels
    labels = _reseed_empty(labels, costs, options.n_clusters)
    refine = replace(options, max_iter=min(options.max_iter, _REFINE_STEPS))
    refined = _iterate(rows, _update(rows, labels, options.n_clusters, options), refine)
    logger.debug(
        "k-means on a sample of %d users: objective %.6g on the sample; %d steps on all users",
        sample_size,
        on_sample.objective,
        refined.n_iter,
    )
    return replace(refined, sample=sample)


def _compact_items(matrix: sp.csr_matrix, min_raters: int = 1) -> sp.csr_matrix:
    """The columns of ``matrix`` with at least ``min_raters`` ratings, in order.

    Distances stay the same: a movie no user rated is covered by no centroid, and with
    leave-one-out assignment a movie one user rated enters no distance of anyone (it is
    covered only by that user's own cluster, where the user is left out), so the sample's
    restarts drop it (``min_raters=2``); only which centroid takes a user who shares no movie
    with any can differ (the widest).
    """
    raters = np.bincount(matrix.indices, minlength=matrix.shape[1])
    kept = raters >= min_raters
    codes = np.cumsum(kept) - 1
    entry_kept = kept[matrix.indices]
    indptr = np.concatenate([[0], np.cumsum(entry_kept)])[matrix.indptr]
    return sp.csr_matrix(
        (matrix.data[entry_kept], codes[matrix.indices[entry_kept]].astype(np.int32), indptr),
        shape=(matrix.shape[0], int(kept.sum())),
    )


def _iterate(rows: _UserRows, centers: _Centers | _Tables, options: _RunOptions) -> Clustering:
    """Assignment and update steps from ``centers``; the last iterate.

    Stops when at most ``tol`` of the users changed cluster, when the labels repeat those of
    two assignments before (a few users cycling between two clusters, which leave-one-out
    assignment allows), when the number of users moving has not reached a new low in
    :data:`_PATIENCE` assignments, or after ``max_iter`` assignments (``converged=False``).
    Movement, not the objective, decides: under a masked metric, objectives of states whose
    centroids cover different movies are not comparable.
    """
    n_clusters, policy = options.n_clusters, options.policy
    recent: list[np.ndarray] = []
    fewest_moved, since_fewest = math.inf, 0
    converged = False
    for iteration in range(1, options.max_iter + 1):
        labels, costs, uncovered = _assign(rows, centers, policy, options.leave_one_out)
        if recent:
            moved = int(np.count_nonzero(labels != recent[-1]))
            cycling = len(recent) == 2 and np.array_equal(labels, recent[0])
            if moved < fewest_moved:
                fewest_moved, since_fewest = moved, 0
            else:
                since_fewest += 1
            converged = moved <= options.tol * rows.n_users or cycling or since_fewest >= _PATIENCE
            logger.debug("k-means step %d: %d moved, objective %.6g", iteration, moved, costs.sum())
        if converged or iteration == options.max_iter:
            break
        recent = [*recent[-1:], labels]
        centers = _update(rows, _reseed_empty(labels, costs, n_clusters), n_clusters, options)
    return Clustering(
        labels,
        float(costs.sum()),
        iteration,
        n_clusters,
        policy.metric,
        "kmeans",
        converged=converged,
        n_uncovered=int(uncovered.sum()),
        centers=_center_values(centers),
    )


def _restart_rank(run: Clustering) -> tuple[int, float]:
    """Restarts compare by empty clusters first (fewer is better), then by objective."""
    return int(np.count_nonzero(run.sizes == 0)), run.objective


def _assign(
    rows: _UserRows, centers: _Centers | _Tables, policy: _Policy, leave_one_out: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, each user's cost to their center, uncovered users).

    With ``leave_one_out`` and centroids that are cluster means, a user's distance to their
    own cluster is to the mean of the other members.
    """
    distances, overlap = _distances_to(rows, centers, policy)
    own = _member_labels(centers)
    if leave_one_out and own is not None:
        users = np.arange(rows.n_users)
        distances[users, own], overlap[users, own] = _own_distances(rows, centers, policy)
    labels, uncovered = _assign_nearest(distances, overlap, centers.coverage, policy.min_overlap)
    costs = _costs(distances[np.arange(len(labels)), labels], policy.metric)
    return labels, costs, uncovered


def kmeans_objective(
    R: RatingsLike,
    labels: np.ndarray,
    metric: str = "euclidean",
    *,
    min_overlap: int = DEFAULT_MIN_OVERLAP,
    undefined: str | float = "max",
    leave_one_out: bool = True,
) -> float:
    """The k-means objective of ``labels`` on ``R``: each user's cost to the mean of their
    cluster (squared distance for the Euclidean metrics, distance for cosine), with the
    leave-one-out distance to the own cluster unless ``leave_one_out=False``.

    One function for any labels, so two clusterings (the full and the sampled form, two
    seeds) compare on the same footing; a result's ``objective`` is the cost at its last
    assignment, against the centroids of the labels before it.
    """
    _check_kmeans_metric(metric)
    matrix, policy = _build_policy(R, metric, min_overlap, undefined)
    rows = _UserRows.build(matrix)
    labels = np.asarray(labels)
    if labels.shape != (rows.n_users,) or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"labels must be {rows.n_users:,} integers, one per user of R")
    if labels.size and labels.min() < 0:
        raise ConfigError("labels must be >= 0")
    n_clusters = int(labels.max(initial=0)) + 1
    tables = _Tables.of_labels(rows, labels.astype(np.int64), n_clusters)
    if leave_one_out:
        own = _own_distances(rows, tables, policy)[0]
    else:
        own = _table_distances(rows, tables, policy)[0][np.arange(rows.n_users), labels]
    return float(_costs(own, metric).sum())


def _seed_centers(
    rows: _UserRows, n_clusters: int, policy: _Policy, rng: np.random.Generator, products: str
) -> _Centers | _Tables:
    """k-means++ under the masked metric: users drawn with probability ∝ cost to the nearest."""
    of_users = _Tables.of_users if products == "tables" else _Centers.of_users

    def cost_to(user: int) -> np.ndarray:
        distances = _distances_to(rows, of_users(rows, [user]), policy)[0][:, 0]
        return _costs(distances, policy.metric)

    n = rows.n_users
    chosen = [int(rng.integers(n))]
    closest = cost_to(chosen[0])
    closest[chosen[0]] = 0.0
    for _ in range(1, n_clusters):
        total = closest.sum()
        if total > 0:
            candidate = int(rng.choice(n, p=closest / total))
        else:
            candidate = int(rng.choice(np.setdiff1d(np.arange(n), chosen)))
        chosen.append(candidate)
        np.minimum(closest, cost_to(candidate), out=closest)
        closest[chosen] = 0.0
    return of_users(rows, chosen)


def _reseed_empty(labels: np.ndarray, costs: np.ndarray, n_clusters: int) -> np.ndarray:
    """Labels where each empty cluster took the costlier half of the largest cluster.

    Not a single user: a centroid built from one user covers few movies, and under a masked
    metric a centroid covering few movies looks near to everyone (few co-rated terms).
    """
    sizes = np.bincount(labels, minlength=n_clusters)
    empty = np.flatnonzero(sizes == 0)
    if empty.size == 0:
        return labels
    labels = labels.copy()
    for cluster in empty:
        largest = int(np.argmax(sizes))
        members = np.flatnonzero(labels == largest)
        costliest = members[np.argsort(-costs[members], kind="stable")][: len(members) // 2]
        labels[costliest] = cluster
        sizes[largest] -= len(costliest)
        sizes[cluster] = len(costliest)
    logger.debug("k-means: re-seeded %d empty clusters", empty.size)
    return labels


def _update(
    rows: _UserRows, labels: np.ndarray, n_clusters: int, options: _RunOptions
) -> _Centers | _Tables:
    """The cluster means of ``labels``, in the form ``options.products`` computes with."""
    if options.products == "tables":
        return _Tables.of_labels(rows, labels, n_clusters)
    return _update_centers(rows, labels, n_clusters)


def _update_centers(rows: _UserRows, labels: np.ndarray, n_clusters: int) -> _Centers:
    """Centroid (a, k) = mean rating of movie k over the members of a who rated it."""
    n_items = rows.values.shape[1]
    keys = labels[rows.entry_user].astype(np.int64) * n_items + rows.values.indices
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=rows.values.data)
    counts = np.bincount(inverse)
    center_of_entry = unique // n_items
    indptr = np.concatenate([[0], np.cumsum(np.bincount(center_of_entry, minlength=n_clusters))])
    values = sp.csr_matrix(
        (sums / counts, (unique % n_items).astype(np.int32), indptr), shape=(n_clusters, n_items)
    )
    members = _Members(labels, sums[inverse], counts[inverse].astype(np.float64))
    return _Centers.from_values(values, members)


# -- centroid tables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    """Centroids as dense item-major tables: ``sums[k, a]`` and ``counts[k, a]``, the sum and
    the number of the ratings of movie k by the members of cluster a (or by seed user a).

    A step's products are then sparse x dense (``R @ means``, O(nnz·L) with no index work)
    and the update is one ``bincount``, where the engine's sparse x sparse products and the
    sort of the update cost about ten times more per step. Memory: two m x L float64 tables
    and three transient ones in a step, 40·m·L bytes (48 MB for L=5 over 240,000 movies).
    ``labels``: the members' labels when the centroids are cluster means, else None.
    """

    sums: np.ndarray
    counts: np.ndarray
    labels: np.ndarray | None = None
    keys: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of_labels(cls, rows: _UserRows, labels: np.ndarray, n_clusters: int) -> _Tables:
        """The cluster means of ``labels`` (one per user of ``rows``); ``keys``: the flat
        table index ``item * L + label`` of each stored rating, for leave-one-out."""
        matrix = rows.values
        keys = np.multiply(matrix.indices, n_clusters, dtype=np.int64)
        keys += np.repeat(labels, np.diff(matrix.indptr))
        sums, counts = _table_counts(keys, matrix.data, matrix.shape[1], n_clusters)
        return cls(sums, counts, labels, keys)

    @classmethod
    def of_users(cls, rows: _UserRows, users: Sequence[int] | np.ndarray) -> _Tables:
        """Users' own rows as centers (k-means++ seeds)."""
        chosen = rows.values[np.asarray(users, dtype=np.int64)]
        n_centers = chosen.shape[0]
        keys = chosen.indices.astype(np.int64) * n_centers
        keys += np.repeat(np.arange(n_centers), np.diff(chosen.indptr))
        return cls(*_table_counts(keys, chosen.data, chosen.shape[1], n_centers))

    @functools.cached_property
    def coverage(self) -> np.ndarray:
        """Number of movies each centroid covers."""
        return np.count_nonzero(self.counts, axis=0)

    def means(self) -> np.ndarray:
        """m x L centroid ratings, 0 where a centroid covers no rating of the movie."""
        return self.sums / np.maximum(self.counts, 1.0)  # sums are 0 where counts are

    def to_csr(self) -> sp.csr_matrix:
        """The L x m sparse centroid ratings (stored entries = the mask), as the engine's."""
        centers, items = np.nonzero(self.counts.T)
        values = self.sums[items, centers] / self.counts[items, centers]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(centers, minlength=self.shape[1]))])
        return sp.csr_matrix((values, items.astype(np.int32), indptr), shape=self.shape[::-1])

    @property
    def shape(self) -> tuple[int, int]:
        return self.sums.shape


def _table_counts(
    keys: np.ndarray, ratings: np.ndarray, n_items: int, n_centers: int
) -> tuple[np.ndarray, np.ndarray]:
    """(sums, counts) m x L from the key ``item * L + center`` of each rating."""
    size = n_items * n_centers
    sums = np.bincount(keys, weights=ratings, minlength=size).reshape(n_items, n_centers)
    counts = np.bincount(keys, minlength=size).reshape(n_items, n_centers)
    return sums.astype(np.float64, copy=False), counts.astype(np.float64)  # no ratings: int


def _table_distances(
    rows: _UserRows, tables: _Tables, policy: _Policy
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, overlap) n x L from the tables: the engine's formulas on ``R @ means``,
    ``S @ covered``, ``M @ means²`` and ``M @ covered`` (sums in the same order as the
    engine's sparse products, so the same numbers)."""
    n_items, n_centers = tables.shape
    right = np.empty((n_items, 2 * n_centers))  # the mask's two operands, one product
    covered, squares = right[:, :n_centers], right[:, n_centers:]
    np.greater(tables.counts, 0.0, out=covered)
    means = tables.means()
    np.multiply(means, means, out=squares)
    parts = rows.operands.sparse
    by_mask = parts["mask"] @ right
    sums = _BlockSums(
        by_mask[:, :n_centers],
        rows.operands.n_rated,
        tables.coverage.astype(np.float64),
        dot=parts["values"] @ means,
        squares_left=parts["squares"] @ covered,
        squares_right=by_mask[:, n_centers:],
    )
    return _distances(sums, policy)[policy.metric], np.ascontiguousarray(sums.overlap)


def _distances_to(
    rows: _UserRows, centers: _Centers | _Tables, policy: _Policy
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(centers, _Tables):
        return _table_distances(rows, centers, policy)
    return _center_distances(rows, centers, policy)


def _member_labels(centers: _Centers | _Tables) -> np.ndarray | None:
    if isinstance(centers, _Tables):
        return centers.labels
    return None if centers.members is None else centers.members.labels


def _own_distances(
    rows: _UserRows, centers: _Centers | _Tables, policy: _Policy
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's distance to the mean of the other members of their cluster (and overlap)."""
    if isinstance(centers, _Tables):
        return _table_own_distances(rows, centers, policy)
    return _own_center_distances(rows, centers.members, policy)


def _table_own_distances(
    rows: _UserRows, tables: _Tables, policy: _Policy
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~clusterrec.clustering.centroids._own_center_distances` from the tables: the
    same terms, each summed per user by a sparse product with ``by_user`` (in order, so the
    same numbers). ``center`` is 0 where no other member rated the movie, so only the
    squares need the weight."""
    ratings = rows.values.data
    others = np.take(tables.counts.ravel(), tables.keys)
    others -= 1.0
    weight = (others >= 1.0).astype(np.float64)
    center = np.take(tables.sums.ravel(), tables.keys)
    center -= ratings  # exactly 0 where the user is the only member who rated the movie
    center /= np.maximum(others, 1.0, out=others)
    by_user = rows.by_user
    overlap = by_user @ weight
    dot = by_user @ np.multiply(ratings, center, out=others)
    squares_right = by_user @ np.multiply(center, center, out=center)
    squares_left = by_user @ np.multiply(weight, rows.operands.sparse["squares"].data, out=weight)
    sums = _BlockSums(
        overlap[:, None],
        dot=dot[:, None],
        squares_left=squares_left[:, None],
        squares_right=squares_right[:, None],
    )
    return _distances(sums, policy)[policy.metric][:, 0], overlap


def _center_values(centers: _Centers | _Tables) -> sp.csr_matrix:
    return centers.to_csr() if isinstance(centers, _Tables) else centers.values


class MaskedKMeans(_ClusterEstimator):
    """k-means under a masked metric (see :func:`masked_kmeans`); ``fit(R)`` on sparse ratings.

    Fitted: ``labels_``, ``cluster_centers_`` (sparse L x m), ``objective_`` (= ``inertia_``),
    ``n_iter_``, ``n_uncovered_``. ``sample_size``: the restarts on a sample above that many
    users (None: on all users).
    """

    def __init__(
        self,
        n_clusters: int = 8,
        metric: str = "euclidean",
        *,
        n_init: int = DEFAULT_N_INIT,
        max_iter: int = DEFAULT_MAX_ITER,
        tol: float = DEFAULT_TOL,
        min_overlap: int = DEFAULT_MIN_OVERLAP,
        leave_one_out: bool = True,
        sample_size: int | None = DEFAULT_KMEANS_SAMPLE_SIZE,
        seed: int | np.random.Generator | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.min_overlap = min_overlap
        self.leave_one_out = leave_one_out
        self.sample_size = sample_size
        self.seed = seed

    def fit(self, X: RatingsLike, y: object = None) -> MaskedKMeans:
        result = masked_kmeans(
            X,
            self.n_clusters,
            self.metric,
            n_init=self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            min_overlap=self.min_overlap,
            leave_one_out=self.leave_one_out,
            sample_size=self.sample_size,
            seed=self.seed,
        )
        self._store(result)
        self.cluster_centers_ = result.centers
        self.n_uncovered_ = result.n_uncovered
        self._fallback_ = largest_distance(X, self.metric)
        return self

    def transform(self, X: RatingsLike) -> np.ndarray:
        """Distances of the users of ``X`` to the fitted centroids (same items as in fit)."""
        return self._nearest(X)[1]

    def predict(self, X: RatingsLike) -> np.ndarray:
        """Nearest fitted centroid of each user of ``X`` (uncovered users as in fit)."""
        return self._nearest(X)[0]

    def _nearest(self, X: RatingsLike) -> tuple[np.ndarray, np.ndarray]:
        matrix = _as_csr(X)
        if matrix.shape[1] != self.cluster_centers_.shape[1]:
            raise ConfigError(
                f"X has {matrix.shape[1]} items but the model was fitted on "
                f"{self.cluster_centers_.shape[1]}; use the same item columns"
            )
        policy = _Policy.build(matrix, None, (self.metric,), self.min_overlap, 0.0, self._fallback_)
        centers = _Centers.from_values(self.cluster_centers_)
        distances, overlap = _center_distances(_UserRows.build(matrix), centers, policy)
        labels, _ = _assign_nearest(distances, overlap, centers.coverage, self.min_overlap)
        return labels, distances
