"""Stage ``networks``: neighbours and per-cluster networks on the Jaccard stage's clusters,
measured with the assignment's users protocol; the fitted model saved once, in model/."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clusterrec._files import read_json, read_npz, write_csv, write_json, write_npz
from clusterrec._progress import ProgressArg
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError
from clusterrec.models.presets import NetworkConfig
from clusterrec.models.summaries import ClusterSummary
from clusterrec.run.config import RunConfig

__all__ = [
    "NetworksResult",
    "compute_networks",
    "learning_curves",
    "model_params",
    "neighbour_summary",
    "networks_params",
]


@dataclass(frozen=True)
class NetworksResult:
    """The users protocol's errors and what the networks learned.

    ``table``: a row per cluster and a last row ``"all"`` (users, ratings, MAE, RMSE and
    fallback share of training and test users); ``overall``: that last row; ``network``: the
    networks' configuration; ``clusters``: per cluster what training did; ``curves``: loss
    per cluster and epoch; ``neighbours``: per cluster the neighbours' distances; ``labels``:
    the cluster of every user (the Jaccard stage's labels at L); ``model_folder``: the saved
    model (``ClusterNeighborRecommender.load`` reads it; set once saved or loaded).
    """

    protocol: str
    overall: dict
    network: NetworkConfig
    clusters: tuple[ClusterSummary, ...]
    table: pd.DataFrame
    curves: pd.DataFrame
    neighbours: pd.DataFrame
    labels: np.ndarray
    leaky: dict | None = None
    model_folder: Path | None = field(default=None, compare=False)
    fitted: object = field(default=None, compare=False, repr=False)

    def save(self, folder: Path) -> Path:
        """Tables, JSON and the model: ``fitted.save(folder / "model")``, written once."""
        model = folder / "model"
        if self.fitted is not None:
            self.fitted.save(model)
        elif self.model_folder is not None and self.model_folder != model:
            shutil.copytree(self.model_folder, model, dirs_exist_ok=True)
        write_csv(folder / "users_protocol.csv", self.table)
        write_csv(folder / "learning_curves.csv", self.curves)
        write_csv(folder / "neighbours.csv", self.neighbours)
        write_npz(folder / "labels.npz", labels=self.labels)
        meta = {
            "protocol": self.protocol,
            "overall": self.overall,
            "network": self.network.as_dict(),
            "clusters": [c.as_dict() for c in self.clusters],
            "notebook_leaky": self.leaky,
        }
        write_json(folder / "networks.json", meta)
        return folder

    @classmethod
    def load(cls, folder: Path) -> NetworksResult:
        meta = read_json(folder / "networks.json")
        network = dict(meta["network"])
        network["hidden"] = tuple(network["hidden"])
        clusters = tuple(ClusterSummary.from_dict(c) for c in meta["clusters"])
        return cls(
            protocol=meta["protocol"],
            overall=meta["overall"],
            network=NetworkConfig(**network),
            clusters=clusters,
            table=pd.read_csv(folder / "users_protocol.csv"),
            curves=pd.read_csv(folder / "learning_curves.csv"),
            neighbours=pd.read_csv(folder / "neighbours.csv"),
            labels=read_npz(folder / "labels.npz")["labels"],
            leaky=meta.get("notebook_leaky"),
            model_folder=folder / "model",
        )

    def load_model(self) -> object:
        """The saved ``ClusterNeighborRecommender``."""
        from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

        if self.model_folder is None:
            raise ConfigError("the networks result has no saved model yet; save it first")
        return ClusterNeighborRecommender.load(self.model_folder)


def model_params(config: RunConfig) -> dict:
    """What the per-cluster networks depend on, besides the data and the clustering."""
    return {
        "n_clusters": config.model.n_clusters,
        "n_neighbors": config.model.n_neighbors,
        "preset": config.model.preset,
        "max_rows": config.model.max_rows,
        "seed": config.seed,
    }


def networks_params(data_key: str, clustering_key: str, config: RunConfig) -> dict:
    """The data, the Jaccard clustering stage whose labels the networks use, the model."""
    return {
        "data": data_key,
        "clustering": clustering_key,
        "model": model_params(config),
        "test_share": config.model.test_share,
        "leaky_comparison": config.model.leaky_comparison,
    }


def compute_networks(
    ratings: Ratings,
    labels: np.ndarray,
    config: RunConfig,
    progress: ProgressArg = False,
) -> NetworksResult:
    """The assignment's protocol on the given clusters (one label per user of ``ratings``):
    per cluster, train on some users and test on the others."""
    from clusterrec.evaluation.users_protocol import evaluate_user_split
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    if config.model.n_clusters > ratings.n_users:
        raise ConfigError(
            f"[model] n_clusters = {config.model.n_clusters} is more than the "
            f"{ratings.n_users:,} kept users"
        )
    model = ClusterNeighborRecommender(
        n_clusters=config.model.n_clusters,
        n_neighbors=config.model.n_neighbors,
        preset=config.model.preset,
        seed=config.seed,
        progress=progress,
        max_rows=config.model.max_rows or None,
    )
    result = evaluate_user_split(model, ratings, config.model.test_share, labels=labels)
    table = pd.concat(
        [result.clusters, pd.DataFrame([{"cluster": "all", **result.overall}])], ignore_index=True
    )
    clusters = tuple(model.summaries_)
    leaky = (
        _leaky_comparison(ratings, labels, model, config) if config.model.leaky_comparison else None
    )
    return NetworksResult(
        protocol=result.protocol,
        overall=result.overall,
        network=model.config_,
        clusters=clusters,
        table=table,
        curves=learning_curves(model),
        neighbours=neighbour_summary(model),
        labels=np.asarray(model.labels_),
        leaky=leaky,
        fitted=model,
    )


#: Rows per cluster the leaky comparison trains and tests on at most (seeded samples): the
#: copying shows at any size, and the run stays short.
LEAKY_ROWS = 20_000


def _leaky_comparison(
    ratings: Ratings, labels: np.ndarray, model: object, config: RunConfig
) -> dict:
    """The original notebook's evaluation (LEAKY) with the same clusters, k, layers and number
    of epochs as the honest networks, so that the two figures differ by the protocol."""
    from clusterrec.evaluation.notebook_leaky import notebook_leaky

    result = notebook_leaky(
        ratings,
        config.model.n_clusters,
        n_neighbors=model.config_.n_neighbors,
        preset=config.model.preset,
        labels=labels,
        epochs=max((c.epochs for c in model.summaries_), default=None) or None,
        max_rows=min(config.model.max_rows or LEAKY_ROWS, LEAKY_ROWS),
        seed=config.seed,
    )
    return result.as_dict()


def learning_curves(model: object) -> pd.DataFrame:
    """One row per cluster and epoch: training and validation loss (mean squared error)."""
    rows = []
    for summary in model.summaries_:
        for epoch, loss in enumerate(summary.train_loss):
            valid = summary.validation_loss
            rows.append(
                {
                    "cluster": summary.cluster,
                    "epoch": epoch + 1,
                    "train_loss": loss,
                    "validation_loss": valid[epoch] if epoch < len(valid) else np.nan,
                    "best": epoch == summary.best_epoch,
                }
            )
    return pd.DataFrame(rows)


def neighbour_summary(model: object) -> pd.DataFrame:
    """Per cluster: users, k, mean Jaccard distance to the neighbours, empty neighbour slots."""
    rows = []
    found = model.neighbors_ >= 0
    for cluster in range(model.n_clusters):
        members = model.labels_ == cluster
        distances = model.neighbor_distances_[members][found[members]]
        rows.append(
            {
                "cluster": cluster,
                "users": int(members.sum()),
                "k": int(model.neighbors_.shape[1]),
                "mean_distance": float(distances.mean()) if distances.size else np.nan,
                "nearest_distance": float(model.neighbor_distances_[members, 0].mean())
                if members.any()
                else np.nan,
                "empty_slot_share": float(1 - found[members].mean()) if members.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)
