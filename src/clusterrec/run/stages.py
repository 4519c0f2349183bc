"""The stages of a run: what each computes, what it depends on, and how it is read back."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clusterrec._atomic import atomic_write
from clusterrec._files import (
    copy_file,
    file_sha256,
    read_json,
    read_npz,
    write_csv,
    write_json,
    write_npz,
)
from clusterrec.data.io import load_ratings, save_ratings
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError
from clusterrec.evaluation.evidence import activity_by_cluster, activity_summary, jaccard_weaknesses
from clusterrec.run.config import RunConfig
from clusterrec.run.measure import _MIB
from clusterrec.run.progress import Progress

# -- stage: data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFile:
    """The ratings file a run reads, its hash, and whether it is the built-in generated data."""

    path: Path
    sha256: str
    size_bytes: int
    generated: dict | None = None


def resolve_input(data: Path | None, config: RunConfig) -> InputFile:
    """The named file, or the built-in generated data (made once, then cached)."""
    generated = None
    if data is None:
        from clusterrec.data.synthetic import default_dataset_path

        size = config.data.generated_size
        data = default_dataset_path(size, seed=config.seed)
        generated = {"size": size, "seed": config.seed}
    data = Path(data)
    if not data.is_file():
        from clusterrec.errors import DataError

        raise DataError(f"{data}: no such file")
    return InputFile(data, file_sha256(data), data.stat().st_size, generated)


def compute_data(folder: Path, source: InputFile, config: RunConfig) -> None:
    """Read, filter to Rmin..Rmax, describe, and draw the two histograms."""
    from clusterrec.data.filtering import filter_users
    from clusterrec.data.readers import read_ratings
    from clusterrec.data.statistics import describe_ratings, user_statistics
    from clusterrec.viz.data import save_data_histograms

    ratings = read_ratings(source.path, **config.data.reader_options())
    kept, report = filter_users(ratings, config.data.min_ratings, config.data.max_ratings)
    save_ratings(folder / "ratings.npz", kept)
    read = ratings.source.as_dict() if ratings.source else {}
    read.pop("path", None)
    info = {
        "read": read,
        "scale": str(ratings.scale),
        "filter": report.as_dict(),
        "statistics": describe_ratings(kept),
    }
    write_json(folder / "data.json", info)
    write_csv(folder / "user_statistics.csv", user_statistics(kept))
    save_data_histograms(kept, folder)


@dataclass
class DataResult:
    ratings: Ratings
    info: dict
    folder: Path


def load_data(folder: Path) -> DataResult:
    return DataResult(load_ratings(folder / "ratings.npz"), read_json(folder / "data.json"), folder)


# -- stage: distances -----------------------------------------------------------------------------


def distance_params(data_key: str, metric: str, n_users: int, config: RunConfig) -> dict:
    """What a metric's distance matrix depends on (the seed only when users are sampled)."""
    from clusterrec.distances.engine import dense_bytes

    budget = config.distances.memory_budget_mib * _MIB
    sampled = dense_bytes(n_users) > budget
    return {
        "data": data_key,
        "metric": metric,
        "min_overlap": config.distances.min_overlap,
        "shrinkage": config.distances.shrinkage,
        "memory_budget_mib": config.distances.memory_budget_mib,
        "sample_size": config.distances.sample_size if sampled else None,
        "seed": config.seed if sampled else None,
    }


def compute_distances(folder: Path, ratings: Ratings, metric: str, config: RunConfig) -> None:
    """The metric's n x n matrix (float32), over a seeded user sample beyond the budget."""
    from clusterrec.clustering.sweep import sweep_distances

    D, users = sweep_distances(
        ratings.matrix(),
        metric,
        min_overlap=config.distances.min_overlap,
        shrinkage=config.distances.shrinkage,
        memory_budget=config.distances.memory_budget_mib * _MIB,
        sample_size=config.distances.sample_size,
        seed=config.seed,
    )
    arrays = {"distances": D.astype(np.float32, copy=False)}
    if users is not None:
        arrays["users"] = users
    write_npz(folder / "distances.npz", **arrays)


@dataclass
class DistanceResult:
    metric: str
    distances: np.ndarray
    users: np.ndarray | None
    folder: Path


def load_distances(folder: Path, metric: str) -> DistanceResult:
    arrays = read_npz(folder / "distances.npz")
    return DistanceResult(metric, arrays["distances"], arrays.get("users"), folder)


# -- stage: clustering (one per metric; Jaccard is one of them) -----------------------------------


def clustering_params(distance_key: str, metric: str, algorithm: str, config: RunConfig) -> dict:
    return {
        "distances": distance_key,
        "metric": metric,
        "algorithm": algorithm,
        "n_clusters": config.clustering.n_clusters,
        "n_init": config.clustering.n_init if algorithm == "kmeans" else None,
        "min_overlap": config.distances.min_overlap,
        "shrinkage": config.distances.shrinkage,
        "memory_budget_mib": config.distances.memory_budget_mib,
        "sample_size": config.distances.sample_size,
        "panels": config.clustering.panels,
        "embedding_users": config.clustering.embedding_users,
        "seed": config.seed,
    }


def compute_clustering(
    folder: Path,
    ratings: Ratings,
    distances: DistanceResult,
    algorithm: str,
    config: RunConfig,
) -> None:
    """Sweep L with one metric: labels, objective and silhouette per L, the 2-D embedding,
    the choose-L figure and the cluster pictures for several L."""
    from threadpoolctl import threadpool_limits

    from clusterrec.clustering.embedding import embed_sweep
    from clusterrec.clustering.sweep import sweep_n_clusters

    sweep = sweep_n_clusters(
        ratings.matrix(),
        distances.metric,
        config.clustering.n_clusters,
        algorithm,
        seed=config.seed,
        n_init=config.clustering.n_init,
        min_overlap=config.distances.min_overlap,
        shrinkage=config.distances.shrinkage,
        memory_budget=config.distances.memory_budget_mib * _MIB,
        sample_size=config.distances.sample_size,
        distances=(distances.distances, distances.users),
    )
    labels = {f"L{p.n_clusters}": p.clustering.labels for p in sweep.points}
    write_npz(folder / "labels.npz", **labels)
    write_json(folder / "sweep.json", sweep_summary(sweep))
    # eigh on a few thousand users: one BLAS thread is as fast, and far faster than two when
    # the cores are busy (measured: 0.2 s against up to 10 s on this project's shared machine)
    with threadpool_limits(limits=1, user_api="blas"):
        users, coordinates, shares = embed_sweep(
            sweep, max_users=config.clustering.embedding_users, seed=config.seed
        )
    write_npz(folder / "embedding.npz", users=users, coordinates=coordinates, shares=shares)
    _draw_clustering_figures(folder, sweep, users, coordinates, shares, config.clustering.panels)


def sweep_summary(sweep: object) -> dict:
    """A sweep as plain values: per L objective, silhouette, sizes, iterations, seconds."""
    return {
        "metric": sweep.metric,
        "algorithm": sweep.algorithm,
        "suggested": sweep.suggested,
        "rule": sweep.rule,
        "silhouette_users": None if sweep.users is None else len(sweep.users),
        "points": [
            {
                "L": p.n_clusters,
                "objective": p.clustering.objective,
                "silhouette": p.silhouette,
                "sizes": p.clustering.sizes.tolist(),
                "n_iter": p.clustering.n_iter,
                "converged": p.clustering.converged,
                "uncovered_users": p.clustering.n_uncovered,
                "seconds": p.seconds,
            }
            for p in sweep.points
        ],
    }


def _draw_clustering_figures(
    folder: Path,
    sweep: object,
    users: np.ndarray,
    coordinates: np.ndarray,
    shares: np.ndarray,
    panels: int,
) -> None:
    from clusterrec.viz.clusters import (
        choose_n_clusters_figure,
        cluster_embedding_figure,
        pick_panels,
    )
    from clusterrec.viz.data import save_figure

    save_figure(choose_n_clusters_figure([sweep]), folder / "choose_L.png")
    shown = pick_panels([p.n_clusters for p in sweep.points], sweep.suggested, panels)
    labels = {L: sweep.point(L).clustering.labels[users] for L in shown}
    figure = cluster_embedding_figure(
        {sweep.metric: coordinates}, {sweep.metric: labels}, axis_shares={sweep.metric: shares}
    )
    save_figure(figure, folder / "clusters_2d.png")


@dataclass
class ClusteringResult:
    metric: str
    summary: dict
    labels: dict[int, np.ndarray]
    folder: Path

    @property
    def suggested(self) -> int:
        """The suggested L (the first L when no silhouette was defined)."""
        return self.summary["suggested"] or self.summary["points"][0]["L"]


def load_clustering(folder: Path) -> ClusteringResult:
    summary = read_json(folder / "sweep.json")
    labels = {int(name[1:]): array for name, array in read_npz(folder / "labels.npz").items()}
    return ClusteringResult(summary["metric"], summary, labels, folder)


# -- stage: evidence for judging the metrics ------------------------------------------------------


def compute_evidence(
    folder: Path,
    ratings: Ratings,
    clusterings: Mapping[str, ClusteringResult],
    distances: Mapping[str, DistanceResult],
    truth: np.ndarray | None,
    config: RunConfig,
) -> None:
    """The diagnostics table of every metric at its suggested L, their agreement, and the
    measured weaknesses of the Jaccard distance."""
    from clusterrec.evaluation.evidence import metric_evidence

    users = next(iter(distances.values())).users
    evidence = metric_evidence(
        ratings.matrix(),
        {m: c.labels[c.suggested] for m, c in clusterings.items()},
        {m: d.distances for m, d in distances.items()},
        algorithms={m: c.summary["algorithm"] for m, c in clusterings.items()},
        users=users,
        truth=truth,
        min_overlap=config.distances.min_overlap,
        seed=config.seed,
    )
    write_json(folder / "evidence.json", evidence)
    write_csv(folder / "evidence.csv", pd.DataFrame(evidence["metrics"]))
    write_csv(folder / "agreement.csv", pd.DataFrame(evidence["agreement"]))
    weaknesses = jaccard_weaknesses(ratings, {m: d.distances for m, d in distances.items()}, users)
    activity = activity_by_cluster(ratings, {m: c.labels for m, c in clusterings.items()})
    weaknesses["activity_by_cluster"] = activity_summary(activity)
    write_json(folder / "jaccard.json", weaknesses)
    write_csv(folder / "activity_by_cluster.csv", activity)
    write_csv(folder / "nearest_neighbour.csv", pd.DataFrame(weaknesses["nearest_neighbour"]))


def planted_groups(source: InputFile, ratings: Ratings) -> np.ndarray | None:
    """The planted taste group of each kept user of generated data (None for a real file)."""
    if source.generated is None:
        return None
    from clusterrec.data.synthetic import generate_dataset

    data = generate_dataset(source.generated["size"], seed=source.generated["seed"])
    group_of = pd.Series(data.taste_groups, index=data.user_labels)
    groups = group_of.reindex(ratings.user_labels.astype(str))
    return None if groups.isna().any() else groups.to_numpy(dtype=np.int64)


@dataclass
class EvidenceResult:
    evidence: dict
    jaccard: dict
    folder: Path


def load_evidence(folder: Path) -> EvidenceResult:
    return EvidenceResult(
        read_json(folder / "evidence.json"), read_json(folder / "jaccard.json"), folder
    )


# -- stage: neighbours and per-cluster networks (the users protocol) ------------------------------


def model_params(config: RunConfig) -> dict:
    """What the per-cluster networks depend on, besides the data."""
    return {
        "n_clusters": config.model.n_clusters,
        "n_neighbors": config.model.n_neighbors,
        "preset": config.model.preset,
        "seed": config.seed,
    }


def compute_networks(folder: Path, ratings: Ratings, config: RunConfig, progress: Progress) -> None:
    """The assignment's protocol: per cluster, train on some users and test on the others;
    per-cluster errors, learning curves, neighbour summary, the model and two figures."""
    from clusterrec.evaluation.users_protocol import evaluate_user_split
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender
    from clusterrec.viz.data import save_figure
    from clusterrec.viz.results import cluster_errors_figure, learning_curves_figure

    if config.model.n_clusters > ratings.n_users:
        raise ConfigError(
            f"[model] n_clusters = {config.model.n_clusters} is more than the "
            f"{ratings.n_users:,} kept users"
        )
    progress.step("clustering, neighbours and training the networks")
    model = ClusterNeighborRecommender(
        n_clusters=config.model.n_clusters,
        n_neighbors=config.model.n_neighbors,
        preset=config.model.preset,
        seed=config.seed,
    )
    result = evaluate_user_split(model, ratings, config.model.test_share)
    table = pd.concat(
        [result.clusters, pd.DataFrame([{"cluster": "all", **result.overall}])], ignore_index=True
    )
    write_csv(folder / "users_protocol.csv", table)
    curves = learning_curves(model)
    write_csv(folder / "learning_curves.csv", curves)
    write_csv(folder / "neighbours.csv", neighbour_summary(model))
    meta = {
        "protocol": result.protocol,
        "overall": result.overall,
        "network": model.config_.as_dict(),
        "clusters": [dataclasses.asdict(s) for s in model.summaries_],
    }
    write_json(folder / "networks.json", meta)
    save_model_arrays(model, folder / "model")
    save_figure(learning_curves_figure(curves, model.config_.target), folder / "learning.png")
    save_figure(cluster_errors_figure(result.clusters, result.overall), folder / "mae.png")


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


def save_model_arrays(model: object, folder: Path) -> None:
    """The model as model.json + arrays.npz + networks.npz (weights as arrays, no pickle)."""
    with tempfile.TemporaryDirectory() as scratch:
        model.save(Path(scratch))
        for name in ("model.json", "arrays.npz"):
            copy_file(Path(scratch) / name, folder / name)
    weights = {
        f"{cluster}/{name}": tensor.detach().cpu().numpy()
        for cluster, network in model.networks_.items()
        for name, tensor in network.state_dict().items()
    }
    write_npz(folder / "networks.npz", **weights)


def restore_model_folder(cached: Path, target: Path) -> Path:
    """A model folder ``ClusterNeighborRecommender.load`` reads, from the cached arrays."""
    import torch

    for name in ("model.json", "arrays.npz"):
        copy_file(cached / name, target / name)
    states: dict[str, dict] = {}
    for key, array in read_npz(cached / "networks.npz").items():
        cluster, name = key.split("/", 1)
        states.setdefault(cluster, {})[name] = torch.from_numpy(array)
    for cluster, state in states.items():
        with atomic_write(target / f"network_{cluster}.pt", "wb") as handle:
            torch.save(state, handle)
    return target


@dataclass
class NetworksResult:
    table: pd.DataFrame
    meta: dict
    curves: pd.DataFrame
    neighbours: pd.DataFrame
    folder: Path


def load_networks(folder: Path) -> NetworksResult:
    return NetworksResult(
        pd.read_csv(folder / "users_protocol.csv"),
        read_json(folder / "networks.json"),
        pd.read_csv(folder / "learning_curves.csv"),
        pd.read_csv(folder / "neighbours.csv"),
        folder,
    )


# -- stage: k-fold comparison with the baselines --------------------------------------------------


def compute_kfold(folder: Path, ratings: Ratings, config: RunConfig, progress: Progress) -> None:
    """k-fold cross-validation of the model and the baselines on the same folds; the top-N
    ranking covers a seeded sample of ``rank_users`` users per fold (all of them when 0)."""
    from clusterrec.evaluation.cross_validation import cross_validate
    from clusterrec.models.registry import comparison_models
    from clusterrec.viz.data import save_figure
    from clusterrec.viz.results import kfold_figure

    settings = config.evaluation
    result = cross_validate(
        ratings,
        comparison_models(
            settings.models,
            n_clusters=config.model.n_clusters,
            n_neighbors=config.model.n_neighbors,
            preset=config.model.preset,
            seed=config.seed,
        ),
        folds=settings.folds,
        seed=config.seed,
        top_n=settings.top_n,
        rank_users=settings.rank_users,
        on_step=progress.step,
    )
    write_csv(folder / "folds.csv", result.folds)
    summary = result.to_frame().reset_index()
    write_csv(folder / "summary.csv", summary)
    ranking = (
        "all users with a relevant held-out rating"
        if settings.rank_users == 0
        else f"a seeded sample of at most {settings.rank_users} users with a relevant "
        "held-out rating per fold"
    )
    write_json(
        folder / "kfold.json",
        {"protocol": result.protocol, "ranking": ranking, "summary": result.summary()},
    )
    save_figure(kfold_figure(summary), folder / "kfold.png")


@dataclass
class KFoldResult:
    summary: pd.DataFrame
    folds: pd.DataFrame
    meta: dict
    folder: Path


def load_kfold(folder: Path) -> KFoldResult:
    return KFoldResult(
        pd.read_csv(folder / "summary.csv"),
        pd.read_csv(folder / "folds.csv"),
        read_json(folder / "kfold.json"),
        folder,
    )


# -- stage: recommendations for sample users ------------------------------------------------------


def compute_recommendations(
    folder: Path, ratings: Ratings, networks: NetworksResult, config: RunConfig
) -> None:
    """Top-n movies for a few seeded sample users from the saved model, and each user's own
    best-rated movies beside them."""
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    settings = config.recommendations
    with tempfile.TemporaryDirectory() as scratch:
        model = ClusterNeighborRecommender.load(
            restore_model_folder(networks.folder / "model", Path(scratch))
        )
    rng = np.random.default_rng([config.seed, 7])
    count = min(settings.users, ratings.n_users)
    chosen = np.sort(rng.choice(ratings.n_users, size=count, replace=False))
    training = model.training_users_
    tables, profiles = [], []
    for code in chosen:
        user = str(ratings.user_labels[code])
        table = model.recommend(user, n=settings.n)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        table.insert(0, "user", user)
        table["test_user"] = not bool(training[model.user_codes([user])[0]])
        tables.append(table)
        profiles.append(_best_rated(ratings, code, 5))
    empty = pd.DataFrame(columns=["user", "rank", "item", "predicted_rating", "fallback"])
    write_csv(folder / "recommendations.csv", pd.concat(tables) if tables else empty)
    no_profiles = pd.DataFrame(columns=["user", "item", "rating"])
    write_csv(folder / "profiles.csv", pd.concat(profiles) if profiles else no_profiles)


def _best_rated(ratings: Ratings, code: int, count: int) -> pd.DataFrame:
    """The user's ``count`` highest-rated movies (ties: the earlier item code)."""
    mine = np.flatnonzero(ratings.user == code)
    order = np.lexsort((ratings.item[mine], -ratings.rating[mine]))[:count]
    picked = mine[order]
    return pd.DataFrame(
        {
            "user": str(ratings.user_labels[code]),
            "item": ratings.item_labels[ratings.item[picked]].astype(str),
            "rating": ratings.rating[picked],
        }
    )


@dataclass
class RecommendationResult:
    recommendations: pd.DataFrame
    profiles: pd.DataFrame
    folder: Path


def load_recommendations(folder: Path) -> RecommendationResult:
    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(folder / name, dtype={"user": str, "item": str})

    return RecommendationResult(read("recommendations.csv"), read("profiles.csv"), folder)
