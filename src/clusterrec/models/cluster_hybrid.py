"""The default recommender: the cluster-neighbour network as one part of a model that can win.

For user u and movie i the model adds, on a logit scale around the bias baseline, learned
user and movie factors with implicit feedback on both sides (the movies u rated, the users
who rated i; SVD++ and myFM's relation blocks) and the assignment's cluster-neighbour
network: an MLP over what u's nearest users inside u's cluster did with i and over u's own
ratings of the movies most similar to i, with u's cluster as an embedding and a per-cluster
output head over the shared trunk. The output is the bias baseline plus the model's
correction, clipped to the rating scale (1..5, 1..10, half stars), so a prediction can be the
top or bottom rating exactly. The networks' average over seeds is averaged once more with an
item autoencoder (a second model family, whose errors differ more from the networks' than
one seed's from another's). The details, the leak guards
(out-of-fold neighbour features) and how every setting was chosen on validation data inside
the training folds are in :mod:`clusterrec.models.cluster_hybrid_core` and ``docs/model.md``.

The clusters are the method's Jaccard k-medoids clusters: given with ``fit(ratings,
labels=...)`` (for example the very clustering a report shows) or made here from the
training ratings with the same seed derivation as the rest of the library.
"""

from __future__ import annotations

import dataclasses
import inspect
import time

import numpy as np
import scipy.sparse as sp

from clusterrec._logging import logger
from clusterrec._progress import ProgressArg, Steps
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.models.cluster_hybrid_core import HybridModel, Parts
from clusterrec.models.neighbors import labels_for_users
from clusterrec.models.networks import single_torch_thread
from clusterrec.models.recommender import Predictions, Recommender

__all__ = ["PART_NAMES", "ClusterHybridRecommender"]

#: The parts an ablation can switch off (see ``docs/model.md``).
PART_NAMES = tuple(field.name for field in dataclasses.fields(Parts))

#: The core's settings and their measured defaults, taken from its signature so the two
#: never drift apart.
_CORE_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(HybridModel.__init__).parameters.items()
    if name not in ("self", "parts", "seed")
}


class ClusterHybridRecommender(Recommender):
    """Cluster-neighbour network + two-sided implicit factors, averaged over seeds and with an
    item autoencoder.

    Args:
        n_clusters: L, the number of Jaccard clusters (ignored when ``labels`` are given).
        seed: every random step (clustering, out-of-fold parts, validation slice, networks).
        progress: False, True (a bar) or a callable told each step (``clusterrec._progress``).
        without: names of parts to switch off, for ablations: any of :data:`PART_NAMES`.
        settings: any of the core's settings (``n_factors``, ``n_neighbors``, ``epochs``,
            ``n_seeds``, ...), overriding the measured defaults.
    """

    name = "clusterrec"

    def __init__(
        self,
        n_clusters: int = 5,
        seed: int = 0,
        *,
        progress: ProgressArg = False,
        without: tuple[str, ...] = (),
        settings: dict | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.seed = seed
        self.progress = progress
        self.without = tuple(without)
        self.settings = dict(settings or {})

    # -- fitting ----------------------------------------------------------------------------------

    def fit(self, ratings: Ratings, labels: object = None) -> ClusterHybridRecommender:
        """Learn from ``ratings``; ``labels``: one cluster 0..L-1 per user of ``ratings`` (in
        the order of ``ratings.user_labels``), default: Jaccard k-medoids here. Returns self."""
        if len(ratings) == 0:
            raise DataError("cannot fit on an empty set of ratings")
        given = labels_for_users(ratings, labels, self.n_clusters)
        ratings = ratings.compact()
        self._remember_vocabulary(ratings)
        self._fit_with_labels(ratings, given)
        return self

    def _fit(self, ratings: Ratings) -> None:
        self._fit_with_labels(ratings, None)

    def _fit_with_labels(self, ratings: Ratings, labels: np.ndarray | None) -> None:
        parts = self._parts()
        options = self._core_options()
        clustering_seed, model_seed = (
            int(s) for s in np.random.SeedSequence(self.seed).generate_state(2)
        )
        started = time.perf_counter()
        with Steps(self.progress, 2, unit="step") as step:
            step("clustering users by Jaccard distance")
            self.labels_ = self._labels(ratings, labels, clustering_seed, parts)
            step("training the factor and neighbour networks")
            core = HybridModel(seed=model_seed % 2**31, parts=parts, **options)
            with single_torch_thread():
                self.core_ = core.fit(
                    ratings.user.astype(np.int64),
                    ratings.item.astype(np.int64),
                    ratings.rating.astype(np.float64),
                    ratings.n_users,
                    ratings.n_items,
                    (ratings.scale.low, ratings.scale.high),
                    labels=self.labels_,
                )
        self._rated = _rated_matrix(ratings)
        logger.info("ClusterHybridRecommender fitted in %.1f s", time.perf_counter() - started)

    def _labels(
        self, ratings: Ratings, given: np.ndarray | None, seed: int, parts: Parts
    ) -> np.ndarray:
        """The users' clusters: one when the clusters are switched off (so the neighbours,
        too, come from all users), else the given ones or Jaccard k-medoids of the training
        ratings."""
        if not parts.clusters:
            return np.zeros(ratings.n_users, dtype=np.int64)
        if given is not None:
            return given
        if self.n_clusters == 1:
            return np.zeros(ratings.n_users, dtype=np.int64)
        from clusterrec.models.cluster_neighbor import jaccard_clusters

        return jaccard_clusters(ratings.matrix(), self.n_clusters, seed=seed)

    def _parts(self) -> Parts:
        unknown = [name for name in self.without if name not in PART_NAMES]
        if unknown:
            raise ConfigError(
                f"unknown parts {unknown}; the parts that can be switched off are "
                f"{', '.join(PART_NAMES)}"
            )
        return Parts(**{name: name not in self.without for name in PART_NAMES})

    def _core_options(self) -> dict:
        unknown = [name for name in self.settings if name not in _CORE_DEFAULTS]
        if unknown:
            raise ConfigError(
                f"unknown settings {unknown}; accepted: {', '.join(sorted(_CORE_DEFAULTS))}"
            )
        if isinstance(self.n_clusters, bool) or not isinstance(self.n_clusters, int | np.integer):
            raise ConfigError(f"n_clusters must be a whole number >= 1, not {self.n_clusters!r}")
        if self.n_clusters < 1:
            raise ConfigError(f"n_clusters must be a whole number >= 1, not {self.n_clusters!r}")
        options = {**_CORE_DEFAULTS, **self.settings}
        _check_core_options(options)
        return options

    # -- prediction -------------------------------------------------------------------------------

    def _predict_codes(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        with single_torch_thread():
            rating, fallback = self.core_.predict(users, items)
        return Predictions(rating.astype(np.float32), np.asarray(fallback, dtype=bool))

    def _rated_items(self, user: int) -> np.ndarray:
        start, stop = self._rated.indptr[user], self._rated.indptr[user + 1]
        return self._rated.indices[start:stop].astype(np.int64)

    # -- persistence (model.json + arrays.npz, see clusterrec.models.recommender) ------------------

    def _params(self) -> dict:
        params = super()._params()
        params.pop("progress", None)  # may be a callable; not part of the model
        params["without"] = list(self.without)
        return params

    def _state_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"core.{name}": value for name, value in self.core_.state_arrays().items()}
        arrays["labels"] = self.labels_
        return arrays

    def _restore_state(self, arrays: dict[str, np.ndarray]) -> None:
        core = {name[5:]: value for name, value in arrays.items() if name.startswith("core.")}
        self.without = tuple(self.without)
        self.core_ = HybridModel.from_state_arrays(core)
        self.labels_ = np.asarray(arrays["labels"], dtype=np.int64)
        users, items, _ = self.core_.train
        self._rated = sp.csr_matrix(
            (np.ones(len(users), dtype=np.int8), (users, items)),
            shape=(self.core_.n_users, self.core_.n_items),
        )


def _rated_matrix(ratings: Ratings) -> sp.csr_matrix:
    """The users x items pattern of the training ratings (for leaving rated items out)."""
    matrix = ratings.matrix()
    matrix.sort_indices()
    return matrix


#: The core's whole-number settings and their smallest accepted value.
_AT_LEAST = {
    "n_factors": 1,
    "n_neighbors": 1,
    "n_item_neighbors": 1,
    "epochs": 1,
    "n_seeds": 1,
    "batch_size": 1,
    "hidden": 2,
    "cluster_dim": 1,
    "n_feature_folds": 2,
    "patience": 1,
    "n_snapshots": 1,
    "max_similar": 1,
    "n_stopping_runs": 1,
    "autoencoder_hidden": 1,
}
#: The core's settings that name a choice, and the accepted choices.
_CHOICES = {
    "user_mode": ("raters", "fixed"),
    "predict_with": ("full", "parts"),
    "output": ("sigmoid", "linear"),
}


def _check_core_options(options: dict) -> None:
    """Each setting of the core has the type and range it needs; else a ConfigError saying
    which and what is accepted (a wrong value would give NaN or a traceback much later)."""
    for name, low in _AT_LEAST.items():
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ConfigError(f"setting {name} must be a whole number >= {low}, not {value!r}")
    for name in ("refit", "vary_features"):
        if not isinstance(options[name], bool | np.bool_):
            raise ConfigError(f"setting {name} must be true or false, not {options[name]!r}")
    for name, accepted in _CHOICES.items():
        if options[name] not in accepted:
            raise ConfigError(
                f"setting {name} must be one of {', '.join(accepted)}, not {options[name]!r}"
            )
    for name in (
        "lr",
        "reg_factors",
        "reg_implicit",
        "reg_bias",
        "reg_cluster_item",
        "weight_decay_mlp",
        "shrink",
        "mae_weight",
        "val_fraction",
        "weight_average",
        "autoencoder_reg",
    ):
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ConfigError(f"setting {name} must be a number >= 0, not {value!r}")
    if options["vary_features"] and options["predict_with"] == "parts":
        raise ConfigError(
            "setting vary_features needs predict_with = full: the out-of-fold indices that "
            "predict_with = parts keeps are those of one draw of the parts"
        )
    if options["max_similar"] < max(options["n_neighbors"], options["n_item_neighbors"]):
        raise ConfigError(
            f"setting max_similar ({options['max_similar']}) must be at least n_neighbors and "
            f"n_item_neighbors ({options['n_neighbors']}, {options['n_item_neighbors']}): "
            f"fewer kept similarities would leave neighbour slots empty"
        )
    if options["lr"] <= 0 or not options["val_fraction"] < 1 or options["mae_weight"] > 1:
        raise ConfigError("settings need lr > 0, val_fraction < 1 and mae_weight <= 1")
    weight = options["autoencoder_weight"]
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise ConfigError(f"setting autoencoder_weight must be a number in [0, 1], not {weight!r}")
    decay = options["lr_decay"]
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 < decay <= 1:
        raise ConfigError(f"setting lr_decay must be a number in (0, 1], not {decay!r}")
