"""Every figure of a run, drawn in the report step from the saved stage results.

Stages compute numbers only; changing a figure here (or its settings, such as
``[clustering] panels``) redraws it without recomputing any stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from clusterrec.viz import clusters, data, results

if TYPE_CHECKING:
    from clusterrec.run.rundir import RunOutputs
    from clusterrec.run.stages import ClusteringResult

__all__ = [
    "clustering_embedding_figure",
    "draw_run_figures",
]


def draw_run_figures(outputs: RunOutputs, folder: Path) -> dict[str, Path]:
    """Draw every figure of the run into ``folder`` as PNG; name -> path."""
    save = data.save_figure
    ratings = outputs.data.ratings
    networks = outputs.networks
    figures = {
        "ratings_per_user": data.ratings_per_user_histogram(ratings),
        "rating_span_days": data.rating_span_histogram(ratings),
        "learning_curves": results.learning_curves_figure(networks.curves, networks.network.target),
        "mae_per_cluster": results.cluster_errors_figure(
            networks.table[networks.table["cluster"].astype(str) != "all"], networks.overall
        ),
        "kfold": results.kfold_figure(outputs.kfold.summary),
    }
    panels = outputs.config.clustering.panels
    for metric, clustering in outputs.clusterings.items():
        figures[f"choose_L_{metric}"] = clusters.choose_n_clusters_figure([clustering])
        figures[f"clusters_2d_{metric}"] = clustering_embedding_figure([clustering], panels)
    return {name: save(figure, folder / f"{name}.png") for name, figure in figures.items()}


def clustering_embedding_figure(clusterings: list[ClusteringResult], panels: int) -> object:
    """The users in 2-D of each clustering, coloured by cluster for up to ``panels`` L."""
    coordinates, labels, shares = {}, {}, {}
    for clustering in clusterings:
        metric, embedding = clustering.metric, clustering.embedding
        shown = clusters.pick_panels(clustering.swept, clustering.suggested, panels)
        coordinates[metric] = embedding.coordinates
        labels[metric] = {L: clustering.labels[L][embedding.users] for L in shown}
        shares[metric] = embedding.shares
    return clusters.cluster_embedding_figure(coordinates, labels, axis_shares=shares)
