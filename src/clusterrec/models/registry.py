"""The models by name, as the evaluation tables and the command line know them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clusterrec.errors import ConfigError
from clusterrec.models.recommender import Recommender

__all__ = [
    "MODEL_NAMES",
    "comparison_models",
]

#: The models :func:`comparison_models` builds, in table order.
MODEL_NAMES = ("clusterrec", "notebook", "bias", "mean", "userknn")


def comparison_models(
    names: Sequence[str],
    *,
    n_clusters: int = 5,
    n_neighbors: int | None = None,
    preset: str = "default",
    seed: int = 0,
) -> dict[str, Callable[[], Recommender]]:
    """name -> a function building a fresh, unfitted model, for the names of
    :data:`MODEL_NAMES`: "clusterrec" (the given preset and k), "notebook" (the notebook
    preset with its own k), and the baselines "bias", "mean", "userknn"."""
    from clusterrec.models.baselines import BiasBaseline, GlobalMean, UserKNN
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    def network(chosen: str, k: int | None) -> Callable[[], Recommender]:
        return lambda: ClusterNeighborRecommender(
            n_clusters=n_clusters, n_neighbors=k, preset=chosen, seed=seed
        )

    known = {
        "clusterrec": network(preset, n_neighbors),
        "notebook": network("notebook", None),
        "bias": BiasBaseline,
        "mean": GlobalMean,
        "userknn": UserKNN,
    }
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ConfigError(f"unknown models {unknown}; accepted: {', '.join(MODEL_NAMES)}")
    return {name: known[name] for name in names}
