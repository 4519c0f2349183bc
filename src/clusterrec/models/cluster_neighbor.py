"""The method's recommender: Jaccard clusters, neighbours inside clusters, one network each.

For user u in cluster a and movie i, the network f_a maps what u's k nearest neighbours
(inside a, by Jaccard distance, never u) did with i to u's rating of i. A row where no
neighbour rated i carries no evidence: it is not used for training, and its prediction is the
bias baseline mu + b_u + b_i, flagged as a fallback.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from clusterrec._atomic import atomic_write
from clusterrec._progress import ProgressArg, Steps
from clusterrec.data.ratings import Ratings, RatingScale
from clusterrec.errors import ConfigError, DataError
from clusterrec.models.baselines import BiasBaseline
from clusterrec.models.fold_in import (
    FOLD_IN_MIN_RATINGS,
    FoldIn,
    nearest_cluster_and_neighbors,
    one_user_ratings,
)
from clusterrec.models.inputs import RatingLookup, rated_pairs
from clusterrec.models.neighbors import labels_for_users, neighbors_in_clusters
from clusterrec.models.networks import TrainingResult, build_network, predict_network, train_network
from clusterrec.models.presets import NetworkConfig, preset
from clusterrec.models.recommender import (
    Predictions,
    Recommender,
    check_loaded,
    check_model_meta,
    clip_to_scale,
)
from clusterrec.models.summaries import ClusterSummary

__all__ = [
    "FORMAT_VERSION",
    "ClusterNeighborRecommender",
    "jaccard_clusters",
    "split_users_within_clusters",
]

logger = logging.getLogger("clusterrec")

#: Version of the saved model layout; `load` refuses any other.
FORMAT_VERSION = 1

#: What reading a damaged or truncated model folder raises.
_DAMAGE = (
    OSError,
    KeyError,
    IndexError,  # torch.load of bytes that are not a state_dict
    AttributeError,
    IndexError,  # torch.load of bytes that are not a state_dict
    AttributeError,
    ValueError,
    RuntimeError,
    TypeError,
    EOFError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
)


#: Pairs predicted at once (their feature rows: ~60 float32 each at k = 20).
_PREDICT_BLOCK = 262_144


class ClusterNeighborRecommender(Recommender):
    """Cluster users by Jaccard distance, then one network per cluster on neighbours' ratings.

    Args:
        n_clusters: L, the number of user clusters (k-medoids on the Jaccard distances).
        n_neighbors: k; default: the preset's (6 for "notebook").
        preset: "default" or "notebook" (see :data:`clusterrec.networks.PRESETS`).
        seed: every random step (clustering, validation split, network initialisation and
            shuffling) derives from it.
        progress: False (silent), True (a bar over clusters while training) or a callable
            told ``"training cluster a/L"`` (see :mod:`clusterrec._progress`).
        config: a full `NetworkConfig` instead of a preset.
        max_rows: each cluster's network trains on at most this many of its training rows, a
            seeded sample (None: all). Bounds a fit on large data (the network's few thousand
            weights do not need millions of rows); every user is still predicted.

    ``fit(ratings, labels=...)`` and ``fit_user_split(ratings, labels=...)`` take a clustering
    made elsewhere (one label 0..L-1 per user of ``ratings``, in the order of
    ``ratings.user_labels``), so the networks are trained on the very clusters a report
    shows; without ``labels`` the model clusters by Jaccard itself (:func:`jaccard_clusters`).
    """

    name = "clusterrec"

    def __init__(
        self,
        n_clusters: int = 5,
        n_neighbors: int | None = None,
        preset: str = "default",
        seed: int = 0,
        *,
        progress: ProgressArg = False,
        config: NetworkConfig | None = None,
        max_rows: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.preset = preset
        self.seed = seed
        self.progress = progress
        self.config = config
        self.max_rows = max_rows

    # -- fitting ----------------------------------------------------------------------------------

    def fit(self, ratings: Ratings, labels: object = None) -> ClusterNeighborRecommender:
        """Learn from ``ratings``; ``labels``: the users' clusters (see the class docstring),
        default: clustered here by Jaccard. Returns self."""
        if len(ratings) == 0:
            raise DataError("cannot fit on an empty set of ratings")
        labels = labels_for_users(ratings, labels, self.n_clusters)
        ratings = ratings.compact()
        self._remember_vocabulary(ratings)
        self._fit_users(ratings, 0.0, labels)
        return self

    def _fit(self, ratings: Ratings) -> None:
        self._fit_users(ratings, test_share=0.0)

    def fit_user_split(
        self, ratings: Ratings, test_share: float = 0.2, labels: object = None
    ) -> np.ndarray:
        """The assignment's protocol: cluster all users (or take their ``labels``), then in
        each cluster hold out ``test_share`` of the users (seeded) and fit on the others only.

        No baseline, neighbour or network uses a held-out user's ratings: held-out users are
        never anyone's neighbour, and only the training users' rows train the networks. Their
        rated *sets* do take part in the Jaccard clustering and in finding their own
        neighbours, as in the assignment. Returns the held-out mask over ``self.user_index_``.
        """
        if not 0 < test_share < 1:
            raise ConfigError(f"test_share must be between 0 and 1, not {test_share!r}")
        labels = labels_for_users(ratings, labels, self.n_clusters)
        ratings = ratings.compact()
        self._remember_vocabulary(ratings)
        self._fit_users(ratings, test_share, labels)
        return self.held_out_users_

    def _seeds(self) -> list[int]:
        """Seeds of clustering, validation split, networks and the user split, from ``seed``."""
        return [int(s) for s in np.random.SeedSequence(self.seed).generate_state(4)]

    def _fit_users(
        self, ratings: Ratings, test_share: float, labels: np.ndarray | None = None
    ) -> None:
        """Cluster (unless ``labels`` are given), hold out ``test_share`` of each cluster's
        users (none when 0), then fit the baseline, the neighbours and the networks on the
        other users."""
        config = self._config()
        k = config.n_neighbors
        self._check_params(ratings.n_users, k)
        clustering_seed, split_seed, network_seed, user_split_seed = self._seeds()
        started = time.perf_counter()
        R = ratings.matrix()
        self.config_ = config
        if labels is None:
            labels = jaccard_clusters(R, self.n_clusters, seed=clustering_seed)
        self.labels_ = labels
        if test_share > 0:
            held_out = split_users_within_clusters(self.labels_, test_share, seed=user_split_seed)
        else:
            held_out = np.zeros(ratings.n_users, dtype=bool)
        self.held_out_users_ = held_out
        training_users = ~held_out
        self.training_users_ = training_users
        self.neighbors_, self.neighbor_distances_ = neighbors_in_clusters(
            R, self.labels_, k, candidates=training_users
        )
        self._set_matrix(R)
        self._fit_baseline(ratings, training_users)
        self.user_means_ = _user_means(R, training_users)
        self.networks_: dict[int, torch.nn.Module] = {}
        self.summaries_: list[ClusterSummary] = []
        with Steps(self.progress, self.n_clusters, unit="cluster") as step:
            for cluster in range(self.n_clusters):
                step(f"training cluster {cluster + 1}/{self.n_clusters}")
                self._fit_cluster(R, cluster, config, split_seed + cluster, network_seed + cluster)
        logger.info("fitted %d clusters in %.1f s", self.n_clusters, time.perf_counter() - started)

    def _config(self) -> NetworkConfig:
        config = self.config if self.config is not None else preset(self.preset)
        if self.n_neighbors is not None:
            config = replace(config, n_neighbors=int(self.n_neighbors))
        return config

    def _check_params(self, n_users: int, k: int) -> None:
        if int(self.n_clusters) != self.n_clusters or self.n_clusters < 1:
            raise ConfigError(f"n_clusters must be a whole number >= 1, not {self.n_clusters!r}")
        if self.n_clusters > n_users:
            raise ConfigError(f"n_clusters={self.n_clusters} exceeds the {n_users} users")
        if int(k) != k or k < 1:
            raise ConfigError(f"n_neighbors must be a whole number >= 1, not {k!r}")
        rows = self.max_rows
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
            raise ConfigError(f"max_rows must be a whole number >= 1 or None, not {rows!r}")

    def _set_matrix(self, R: sp.csr_matrix) -> None:
        self.matrix_ = sp.csr_matrix(R, dtype=np.float32)
        self.matrix_.sort_indices()
        self._lookup = RatingLookup(self.matrix_)

    def _fit_baseline(self, ratings: Ratings, training_users: np.ndarray) -> None:
        seen = ratings.take(training_users[ratings.user])
        self.baseline_ = BiasBaseline().fit(seen)
        self._baseline_users = self.baseline_.user_codes(self.user_index_)
        self._baseline_items = self.baseline_.item_codes(self.item_index_)

    def _fit_cluster(
        self, R: sp.csr_matrix, cluster: int, config: NetworkConfig, split_seed: int, seed: int
    ) -> None:
        started = time.perf_counter()
        members = np.flatnonzero(self.labels_ == cluster)
        trainers = members[self.training_users_[members]]
        validation_users = _validation_users(trainers, config.validation_share, split_seed)
        users, items, targets = rated_pairs(R, trainers)
        if self.max_rows is not None and len(users) > self.max_rows:
            chosen = np.random.default_rng([split_seed, 1]).choice(
                len(users), size=self.max_rows, replace=False
            )
            chosen.sort()
            users, items, targets = users[chosen], items[chosen], targets[chosen]
        X, evidence = self.features(users, items)
        y = self._targets(users, items, targets)
        in_validation = np.isin(users, validation_users)
        fit_rows = evidence & ~in_validation
        check_rows = evidence & in_validation
        network = build_network(X.shape[1], config.hidden)
        if fit_rows.any():
            result = train_network(
                X[fit_rows],
                y[fit_rows],
                config,
                seed=seed,
                validation=(X[check_rows], y[check_rows]) if check_rows.any() else None,
            )
            network.load_state_dict(result.state_dict)
        else:
            result = TrainingResult(network.state_dict(), [], [], -1)
        network.eval()
        self.networks_[cluster] = network
        self.summaries_.append(
            ClusterSummary(
                cluster=cluster,
                users=len(members),
                training_users=len(trainers),
                rows=len(users),
                rows_without_evidence=int((~evidence).sum()),
                epochs=len(result.train_loss),
                best_epoch=result.best_epoch,
                seconds=time.perf_counter() - started,
                train_loss=tuple(result.train_loss),
                validation_loss=tuple(result.validation_loss),
            )
        )

    # -- features ---------------------------------------------------------------------------------

    def features(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network inputs for (user, item) code pairs, and whether any neighbour rated the item.

        "ratings" inputs: the k neighbours' ratings (0 = not rated), as in the assignment.
        "centred" inputs: per neighbour the rating centred on the neighbour's mean and scaled,
        whether they rated it, and their similarity 1 - d to the user; then the user's and the
        item's bias and the share of neighbours who rated the item.
        """
        user_bias = None
        if self.config_.inputs != "ratings":
            user_bias = self._bias_terms(users, items)[0]
        return self._inputs(
            self.neighbors_[users], self.neighbor_distances_[users], items, user_bias
        )

    def _inputs(
        self,
        slots: np.ndarray,
        distances: np.ndarray,
        items: np.ndarray,
        user_bias: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`features` from each row's neighbours (``slots``, (N, k) training codes,
        -1 padding), their ``distances`` and the user's bias per row (for "centred" inputs):
        the same for a training user and a user folded in."""
        values = self._lookup(slots, items[:, None])
        rated = values > 0
        evidence = rated.any(axis=1)
        if self.config_.inputs == "ratings":
            return values, evidence
        unit = _scale_unit(self.scale_)
        centred = np.where(rated, values - self.user_means_[np.maximum(slots, 0)], 0.0) / unit
        similarity = np.where(slots >= 0, 1.0 - distances, 0.0)
        item_bias = self._item_bias(items)
        X = np.concatenate(
            [
                centred,
                rated.astype(np.float32),
                similarity,
                (user_bias / unit)[:, None],
                (item_bias / unit)[:, None],
                rated.mean(axis=1, keepdims=True),
            ],
            axis=1,
        ).astype(np.float32)
        return X, evidence

    def _bias_terms(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bu = self._baseline_users[users]
        user_bias = np.where(bu >= 0, self.baseline_.user_bias_[np.maximum(bu, 0)], 0.0)
        return user_bias.astype(np.float32), self._item_bias(items)

    def _item_bias(self, items: np.ndarray) -> np.ndarray:
        """b_i of model item codes (0 for an item the baseline never saw), float32."""
        bi = self._baseline_items[items]
        return np.where(bi >= 0, self.baseline_.item_bias_[np.maximum(bi, 0)], 0.0).astype(
            np.float32
        )

    def _baseline(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """mu + b_u + b_i for model codes (-1 allowed: that bias is 0)."""
        bu = np.where(users >= 0, self._baseline_users[np.maximum(users, 0)], -1)
        bi = np.where(items >= 0, self._baseline_items[np.maximum(items, 0)], -1)
        return (self.baseline_.global_mean_ + self.baseline_.biases(bu, bi)).astype(np.float32)

    def _targets(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        if self.config_.target == "rating":
            return ratings.astype(np.float32)
        return ((ratings - self._baseline(users, items)) / _scale_unit(self.scale_)).astype(
            np.float32
        )

    # -- prediction -------------------------------------------------------------------------------

    def _predict_codes(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        """In blocks of pairs, so that the feature rows of millions of pairs are never held
        at once."""
        if len(users) <= _PREDICT_BLOCK:
            return self._predict_block(users, items)
        parts = [
            self._predict_block(
                users[start : start + _PREDICT_BLOCK], items[start : start + _PREDICT_BLOCK]
            )
            for start in range(0, len(users), _PREDICT_BLOCK)
        ]
        return Predictions(
            np.concatenate([p.rating for p in parts]), np.concatenate([p.fallback for p in parts])
        )

    def _predict_block(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        prediction = self._baseline(users, items)
        fallback = np.ones(len(users), dtype=bool)
        known = np.flatnonzero((users >= 0) & (items >= 0))
        if len(known) == 0:
            return Predictions(prediction, fallback)
        X, evidence = self.features(users[known], items[known])
        rows = known[evidence]
        X = X[evidence]
        clusters = self.labels_[users[rows]]
        for cluster in np.unique(clusters):
            chosen = clusters == cluster
            output = predict_network(self.networks_[int(cluster)], X[chosen])
            prediction[rows[chosen]] = self._from_output(output, prediction[rows[chosen]])
        fallback[rows] = False
        return Predictions(prediction, fallback)

    def _from_output(self, output: np.ndarray, baseline: np.ndarray) -> np.ndarray:
        if self.config_.target == "rating":
            return output
        return baseline + output * _scale_unit(self.scale_)

    def _rated_items(self, user: int) -> np.ndarray:
        start, stop = self.matrix_.indptr[user], self.matrix_.indptr[user + 1]
        return self.matrix_.indices[start:stop]

    # -- new users (fold-in) ----------------------------------------------------------------------

    def fold_in(self, ratings: object, *, min_ratings: int = FOLD_IN_MIN_RATINGS) -> FoldIn:
        """A new user (``ratings``: a mapping item -> rating, a Series indexed by item or a
        DataFrame with columns item and rating) placed in the fitted model without
        retraining: the cluster whose training users are nearest by mean Jaccard distance,
        the k nearest training users in it, and the user's bias (see
        :mod:`clusterrec.models.fold_in`). Fewer than ``min_ratings`` ratings of known items:
        no cluster (``cluster == -1``), the bias fallback only."""
        self._check_fitted()
        labels, values = one_user_ratings(ratings)
        codes = self.item_codes(labels)
        known = codes >= 0
        items, values = codes[known], values[known]
        if len(values) and (values.min() < self.scale_.low or values.max() > self.scale_.high):
            raise DataError(
                f"a new user's ratings must lie on the model's scale {self.scale_.low:g}.."
                f"{self.scale_.high:g}; got {values.min():g}..{values.max():g}"
            )
        k = self.neighbors_.shape[1]
        if len(items) < max(int(min_ratings), 1):
            return FoldIn(
                items, values, int((~known).sum()), -1, np.full(k, -1), np.full(k, np.inf), 0.0
            )
        cluster, neighbors, distances = nearest_cluster_and_neighbors(
            self.matrix_, self.labels_, self.training_users_, items, k
        )
        baseline = self.baseline_
        residual = values - baseline.global_mean_ - self._item_bias(items)
        user_bias = float(residual.sum(dtype=np.float64) / (baseline.reg_user + len(items)))
        return FoldIn(items, values, int((~known).sum()), cluster, neighbors, distances, user_bias)

    def predict_new(
        self, ratings: object, items: object, *, min_ratings: int = FOLD_IN_MIN_RATINGS
    ) -> Predictions:
        """Predicted ratings of ``items`` (original ids) by a new user folded in from
        ``ratings`` (see :meth:`fold_in`); clipped to the scale, fallbacks flagged: an item
        no neighbour rated or the model never saw gets mu + b_u + b_i, and a user with too few
        ratings gets mu + b_i for every item."""
        folded = self.fold_in(ratings, min_ratings=min_ratings)
        return self._predict_folded(folded, self.item_codes(items))

    def recommend_new(
        self,
        ratings: object,
        n: int = 10,
        *,
        exclude_rated: bool = True,
        min_ratings: int = FOLD_IN_MIN_RATINGS,
    ) -> pd.DataFrame:
        """The ``n`` items with the highest predicted rating for a new user folded in from
        ``ratings`` (see :meth:`fold_in`), the items they rated left out: a DataFrame with
        columns item, predicted_rating, fallback, best first (ties: smaller code), and
        ``attrs`` cluster (-1: bias fallback), neighbors and unknown_items."""
        folded = self.fold_in(ratings, min_ratings=min_ratings)
        codes = np.arange(len(self.item_index_))
        scores = self._predict_folded(folded, codes)
        keep = np.ones(len(codes), dtype=bool)
        if exclude_rated:
            keep[folded.items] = False
        candidates = np.flatnonzero(keep)
        chosen = candidates[np.lexsort((candidates, -scores.rating[candidates]))[:n]]
        table = pd.DataFrame(
            {
                "item": self.item_index_[chosen].astype(str),
                "predicted_rating": scores.rating[chosen],
                "fallback": scores.fallback[chosen],
            }
        )
        table.attrs.update(
            cluster=folded.cluster,
            neighbors=int((folded.neighbors >= 0).sum()),
            unknown_items=folded.unknown_items,
        )
        return table

    def _predict_folded(self, folded: FoldIn, items: np.ndarray) -> Predictions:
        baseline = self._baseline(np.full(len(items), -1), items) + np.float32(folded.user_bias)
        fallback = np.ones(len(items), dtype=bool)
        known = np.flatnonzero(items >= 0)
        if folded.fallback_only or len(known) == 0:
            return Predictions(clip_to_scale(baseline, self.scale_), fallback)
        k = len(folded.neighbors)
        slots = np.broadcast_to(folded.neighbors, (len(known), k))
        distances = np.broadcast_to(folded.distances, (len(known), k))
        user_bias = np.full(len(known), folded.user_bias, dtype=np.float32)
        X, evidence = self._inputs(slots, distances, items[known], user_bias)
        rows = known[evidence]
        if len(rows):
            output = predict_network(self.networks_[folded.cluster], X[evidence])
            baseline[rows] = self._from_output(output, baseline[rows])
            fallback[rows] = False
        return Predictions(clip_to_scale(baseline, self.scale_), fallback)

    # -- persistence ------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the model to ``folder``: model.json, arrays.npz, one state_dict per cluster.

        No pickle anywhere: JSON metadata, NumPy arrays, PyTorch tensors (loaded with
        ``weights_only=True``). Each file is written atomically, model.json last, and an old
        model.json is removed first, so an interrupted save over an older model leaves a
        folder that :meth:`load` refuses, never a mix of the two models.
        """
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.json").unlink(missing_ok=True)
        arrays = {
            "user_labels": np.asarray(self.user_index_, dtype=str),
            "item_labels": np.asarray(self.item_index_, dtype=str),
            "labels": self.labels_,
            "neighbors": self.neighbors_,
            "neighbor_distances": self.neighbor_distances_,
            "training_users": self.training_users_,
            "user_means": self.user_means_,
            "matrix_data": self.matrix_.data,
            "matrix_indices": self.matrix_.indices,
            "matrix_indptr": self.matrix_.indptr,
            "baseline_user_labels": np.asarray(self.baseline_.user_index_, dtype=str),
            "baseline_item_labels": np.asarray(self.baseline_.item_index_, dtype=str),
            "baseline_user_bias": self.baseline_.user_bias_,
            "baseline_item_bias": self.baseline_.item_bias_,
        }
        with atomic_write(folder / "arrays.npz", "wb") as handle:
            np.savez(handle, **arrays)
        for cluster, network in self.networks_.items():
            with atomic_write(folder / f"network_{cluster}.pt", "wb") as handle:
                torch.save(network.state_dict(), handle)
        meta = {
            "format": "clusterrec.ClusterNeighborRecommender",
            "format_version": FORMAT_VERSION,
            "params": {
                "n_clusters": self.n_clusters,
                "n_neighbors": self.n_neighbors,
                "preset": self.preset,
                "seed": self.seed,
                "max_rows": self.max_rows,
            },
            "config": self.config_.as_dict(),
            "scale": [self.scale_.low, self.scale_.high, self.scale_.step],
            "global_mean": self.global_mean_,
            "baseline_global_mean": self.baseline_.global_mean_,
            "shape": list(self.matrix_.shape),
            "clusters": [s.as_dict() for s in self.summaries_],
        }
        with atomic_write(folder / "model.json", "w") as handle:
            json.dump(meta, handle, indent=2)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ClusterNeighborRecommender:
        """Read a model written by :meth:`save`; a damaged folder or another format version
        is a `DataError` that says what is wrong."""
        folder = Path(folder)
        meta = _read_meta(folder)
        check_model_meta(folder, meta, cls)
        try:
            with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            model = cls(**meta["params"])
            model._restore(meta, arrays, folder)
        except _DAMAGE as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DataError(f"{folder}: damaged model folder ({reason})") from None
        return check_loaded(model, folder)

    def _restore(self, meta: dict, arrays: dict, folder: Path) -> None:
        config = dict(meta["config"])
        config["hidden"] = tuple(config["hidden"])
        self.config_ = NetworkConfig(**config)
        self.scale_ = RatingScale(*meta["scale"])
        self.global_mean_ = meta["global_mean"]
        self.user_index_ = pd.Index(arrays["user_labels"].astype(object))
        self.item_index_ = pd.Index(arrays["item_labels"].astype(object))
        self.labels_ = arrays["labels"]
        self.neighbors_ = arrays["neighbors"]
        self.neighbor_distances_ = arrays["neighbor_distances"]
        self.training_users_ = arrays["training_users"]
        self.held_out_users_ = ~self.training_users_
        self.user_means_ = arrays["user_means"]
        self._set_matrix(
            sp.csr_matrix(
                (arrays["matrix_data"], arrays["matrix_indices"], arrays["matrix_indptr"]),
                shape=tuple(meta["shape"]),
            )
        )
        self.baseline_ = BiasBaseline.from_biases(
            arrays["baseline_user_labels"],
            arrays["baseline_item_labels"],
            arrays["baseline_user_bias"],
            arrays["baseline_item_bias"],
            meta["baseline_global_mean"],
            self.scale_,
        )
        self._baseline_users = self.baseline_.user_codes(self.user_index_)
        self._baseline_items = self.baseline_.item_codes(self.item_index_)
        self.summaries_ = [ClusterSummary.from_dict(s) for s in meta["clusters"]]
        n_inputs = self.features(np.zeros(1, np.int64), np.zeros(1, np.int64))[0].shape[1]
        self.networks_ = {}
        for cluster in range(self.n_clusters):
            network = build_network(n_inputs, self.config_.hidden)
            state = torch.load(folder / f"network_{cluster}.pt", weights_only=True)
            network.load_state_dict(state)
            network.eval()
            self.networks_[cluster] = network


def jaccard_clusters(R: sp.csr_matrix, n_clusters: int, *, seed: int) -> np.ndarray:
    """Labels 0..L-1 from k-medoids (FasterPAM) on the users' Jaccard distances (on a sample
    and then the nearest medoid when n x n does not fit the memory budget)."""
    from clusterrec.clustering.entry import cluster_users

    return cluster_users(R, n_clusters, "jaccard", "kmedoids", seed=seed).labels


def split_users_within_clusters(
    labels: np.ndarray, test_share: float = 0.2, *, seed: int = 0
) -> np.ndarray:
    """Boolean mask of held-out users: in each cluster, ``round(test_share * size)`` users
    drawn at random (at least one when the cluster has two or more users, never all)."""
    if not 0 < test_share < 1:
        raise ConfigError(f"test_share must be between 0 and 1, not {test_share!r}")
    rng = np.random.default_rng(seed)
    held_out = np.zeros(len(labels), dtype=bool)
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        count = min(len(members) - 1, max(1, int(round(test_share * len(members)))))
        if count > 0:
            held_out[rng.choice(members, size=count, replace=False)] = True
    return held_out


def _read_meta(folder: Path) -> dict:
    path = folder / "model.json"
    if not path.is_file():
        raise DataError(f"{folder}: not a saved clusterrec model (no model.json)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: damaged ({error})") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise DataError(
            f"{folder}: written by model format version {version!r}; this clusterrec reads "
            f"version {FORMAT_VERSION}. Train the model again with this version"
        )
    return meta


def _user_means(R: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    """Each training user's mean rating (0 for users not in ``users`` or without ratings)."""
    counts = np.diff(R.indptr)
    sums = np.asarray(R.sum(axis=1)).ravel()
    means = np.divide(sums, counts, out=np.zeros(R.shape[0]), where=counts > 0)
    return np.where(users, means, 0.0).astype(np.float32)


def _validation_users(users: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A seeded random share of ``users`` held out for early stopping (none when share is 0)."""
    if share <= 0 or len(users) < 5:
        return np.zeros(0, dtype=users.dtype)
    rng = np.random.default_rng(seed)
    count = max(1, int(round(share * len(users))))
    return np.sort(rng.choice(users, size=count, replace=False))


def _scale_unit(scale: RatingScale) -> float:
    """A quarter of the scale's range: 1 on 1..5, 2.25 on 1..10; keeps inputs near unit size."""
    return (scale.high - scale.low) / 4.0
