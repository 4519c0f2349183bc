"""The models by name, as the evaluation tables, the run configuration and the command line
know them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from clusterrec.errors import ConfigError
from clusterrec.models.recommender import Recommender

__all__ = [
    "HYBRID_PRESETS",
    "HYBRID_PRESET_WORDS",
    "MODEL_DESCRIPTIONS",
    "MODEL_NAMES",
    "comparison_models",
    "load_model",
]

#: The models :func:`comparison_models` builds, in table order.
MODEL_NAMES = ("clusterrec", "network", "notebook", "bias", "mean", "userknn")

#: One line per model, for tables.
MODEL_DESCRIPTIONS = {
    "clusterrec": "the default: cluster-neighbour network + two-sided implicit factors, "
    "averaged with an item autoencoder (ClusterHybridRecommender)",
    "network": "per-cluster networks on neighbours' ratings, the measured 'default' preset "
    "(ClusterNeighborRecommender)",
    "notebook": "the notebook's per-cluster networks: k=6 raw neighbour ratings, 12-24-48 net",
    "bias": "mu + b_u + b_i (regularised ALS)",
    "mean": "global mean",
    "userknn": "user k-NN, shrunk Pearson, k=40, mean-centred",
}

#: Settings of the default model by name: "default" as benchmarked; "fast", for runs that
#: must stay short, drops the averaging (one seed, one snapshot: +0.0035 RMSE on validation
#: data, docs/model.md) and the item autoencoder, and builds the out-of-fold neighbour
#: features from 2 parts instead of 5, which cut a fit on MovieLens latest-small from 32 s to
#: 19 s (one fold, shared machine).
HYBRID_PRESETS: dict[str, dict] = {
    "default": {},
    "fast": {"n_seeds": 1, "n_snapshots": 1, "n_feature_folds": 2, "autoencoder_weight": 0.0},
}
#: What each of :data:`HYBRID_PRESETS` is, in words (for the report).
HYBRID_PRESET_WORDS = {
    "default": "as benchmarked (5 seeds x 3 snapshots averaged with an item autoencoder, "
    "neighbour features out of 5 parts)",
    "fast": "one seed and one snapshot instead of 5 x 3 averaged, no item autoencoder, "
    "neighbour features out of 2 parts instead of 5",
}


def comparison_models(
    names: Sequence[str],
    *,
    n_clusters: int = 5,
    n_neighbors: int | None = None,
    preset: str = "default",
    hybrid: str = "default",
    seed: int = 0,
) -> dict[str, Callable[[], Recommender]]:
    """name -> a function building a fresh, unfitted model, for the names of
    :data:`MODEL_NAMES`: "clusterrec" (the default model, with the settings of
    ``HYBRID_PRESETS[hybrid]``), "network" (per-cluster networks with the given preset and k),
    "notebook" (the notebook preset with its own k), and the baselines "bias", "mean",
    "userknn"."""
    from clusterrec.models.baselines import BiasBaseline, GlobalMean, UserKNN

    if hybrid not in HYBRID_PRESETS:
        raise ConfigError(
            f"unknown hybrid preset {hybrid!r}; accepted: {', '.join(HYBRID_PRESETS)}"
        )

    def default_model() -> Recommender:
        from clusterrec.models.cluster_hybrid import ClusterHybridRecommender

        return ClusterHybridRecommender(
            n_clusters=n_clusters, seed=seed, settings=HYBRID_PRESETS[hybrid]
        )

    def network(chosen: str, k: int | None) -> Callable[[], Recommender]:
        def build() -> Recommender:
            from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

            return ClusterNeighborRecommender(
                n_clusters=n_clusters, n_neighbors=k, preset=chosen, seed=seed
            )

        return build

    known = {
        "clusterrec": default_model,
        "network": network(preset, n_neighbors),
        "notebook": network("notebook", None),
        "bias": BiasBaseline,
        "mean": GlobalMean,
        "userknn": UserKNN,
    }
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ConfigError(f"unknown models {unknown}; accepted: {', '.join(MODEL_NAMES)}")
    return {name: known[name] for name in names}


#: The classes whose saved folders :func:`load_model` reads, by the name model.json gives.
_SAVED_CLASSES = {
    "ClusterHybridRecommender": "clusterrec.models.cluster_hybrid",
    "ClusterNeighborRecommender": "clusterrec.models.cluster_neighbor",
    "BiasBaseline": "clusterrec.models.baselines",
    "GlobalMean": "clusterrec.models.baselines",
    "UserKNN": "clusterrec.models.baselines",
}


def load_model(folder: str | Path) -> Recommender:
    """The model saved in ``folder`` by any recommender's ``save``, read with the class that
    wrote it (named in its model.json); a missing, damaged or foreign folder is a DataError
    naming the folder."""
    import importlib

    from clusterrec.errors import DataError
    from clusterrec.models.recommender import read_model_meta

    meta = read_model_meta(folder)
    found = meta.get("format") if isinstance(meta, dict) else None
    kind = found[len("clusterrec.") :] if isinstance(found, str) else ""
    if not (isinstance(found, str) and found.startswith("clusterrec.") and kind in _SAVED_CLASSES):
        raise DataError(
            f"{folder}: holds {found or 'no clusterrec model'!s}; saved models this clusterrec "
            f"reads: {', '.join(_SAVED_CLASSES)}"
        )
    cls = getattr(importlib.import_module(_SAVED_CLASSES[kind]), kind)
    return cls.load(folder)
