"""The whole method from a ratings file to a report, as cached stages.

``run_pipeline`` goes: data (read, filter, describe) -> the distances of each metric ->
clustering with each masked metric over a range of L -> the Jaccard clustering -> evidence
for judging the metrics -> neighbours and per-cluster networks (the assignment's users
protocol) -> k-fold comparison with the baselines -> recommendations for sample users ->
the run directory (figures, results, model, manifest, report).

**The stage cache.** Every stage's outputs are files (.npz, .json, .csv, .png; no pickle) in a
folder named by a SHA-256 key of the stage's name, the package version and exactly the
parameters the stage depends on, including the keys of the stages it reads (so a new input
file, which changes the input hash, changes every key). A folder is complete when its
``stage.json`` exists; it is built under a temporary name and renamed into place, so an
interrupted run never leaves a half-written stage. Re-running with the same configuration
reuses every stage; changing, say, the network preset changes the keys of the networks,
k-fold and recommendations stages only, so the distances and clusterings are reused. Stages
always hand their results on by reading their folder back, so a reused stage and a fresh one
give the report the same values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clusterrec import __version__
from clusterrec._atomic import atomic_write
from clusterrec.config import RunConfig
from clusterrec.data.ratings import Ratings, RatingScale
from clusterrec.errors import ConfigError

logger = logging.getLogger("clusterrec")

#: Part of every stage key: bump when what a stage writes changes shape.
STAGE_FORMAT = 1
#: Packages whose versions the manifest records.
RECORDED_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "matplotlib",
    "kmedoids",
    "torch",
    "tqdm",
)
_MIB = 1024**2


# -- the stage cache ------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/clusterrec/stages`` or ``~/.cache/clusterrec/stages``."""
    from clusterrec.data.synthetic import cache_dir

    return cache_dir() / "stages"


def stage_key(name: str, params: Mapping) -> str:
    """SHA-256 of the stage name, the package and stage-format versions and ``params``."""
    payload = {"stage": name, "format": STAGE_FORMAT, "version": __version__, "params": params}
    text = json.dumps(payload, sort_keys=True, default=_json_value, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StageCache:
    """Content-addressed stage folders under ``root``; with ``reuse=False`` nothing is reused
    (every stage is computed afresh into ``root``)."""

    def __init__(self, root: Path, *, reuse: bool = True) -> None:
        self.root = Path(root)
        self.reuse = reuse

    def folder(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key[:24]}"

    def lookup(self, name: str, key: str) -> Path | None:
        """The finished folder of this stage and key, or None."""
        folder = self.folder(name, key)
        if self.reuse and (folder / "stage.json").is_file():
            return folder
        return None

    def build(
        self, name: str, key: str, params: Mapping, compute: Callable[[Path], None]
    ) -> tuple[Path, float]:
        """Run ``compute(folder)`` in a temporary folder, then rename it into place."""
        final = self.folder(name, key)
        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{name}-", suffix=".part"))
        try:
            started = time.perf_counter()
            compute(work)
            seconds = time.perf_counter() - started
            meta = {"stage": name, "key": key, "params": params, "seconds": seconds}
            write_json(work / "stage.json", meta)
            _move_into_place(work, final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return final, seconds


def _move_into_place(work: Path, final: Path) -> None:
    """Rename the finished ``work`` folder to ``final``, replacing an older copy; when another
    run finished the same stage in the meantime, keep theirs."""
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)
    try:
        os.rename(work, final)
    except OSError:
        if not (final / "stage.json").is_file():
            raise
        shutil.rmtree(work, ignore_errors=True)


def computed_seconds(folder: Path) -> float:
    """How long computing the stage in ``folder`` took when it was built."""
    return float(read_json(folder / "stage.json").get("seconds", 0.0))


# -- measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageRecord:
    """What one stage of a run cost: wall seconds, peak memory and whether it was reused."""

    name: str
    key: str
    cached: bool
    seconds: float
    peak_rss_mib: float
    computed_seconds: float


_CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """Peak resident memory of the process during a block, in MiB.

    On Linux the kernel's high-water mark is reset at the start (``/proc/self/clear_refs``)
    and read at the end (``VmHWM``), so each stage gets its own peak; elsewhere it is the
    process's peak so far (``ru_maxrss``). :func:`memory_method` says which.
    """

    def __init__(self) -> None:
        self.peak_mib = 0.0

    def __enter__(self) -> PeakMemory:
        with contextlib.suppress(OSError):
            _CLEAR_REFS.write_text("5")
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mib = _high_water_mib()


def memory_method() -> str:
    """How :class:`PeakMemory` measures on this system."""
    if os.access(_CLEAR_REFS, os.W_OK):
        return "resident high-water mark (VmHWM), reset at the start of each stage"
    return "ru_maxrss: the process's peak so far"


def _high_water_mib() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / _MIB


# -- progress -------------------------------------------------------------------------------------


class Progress:
    """Receives the run's progress; the default only logs. The CLI shows a progress bar."""

    def start(self, stage: str, index: int, total: int) -> None:
        logger.info("stage %d/%d: %s", index + 1, total, stage)

    def step(self, text: str) -> None:
        logger.debug("  %s", text)

    def finish(self, record: StageRecord) -> None:
        how = "reused from the cache" if record.cached else "computed"
        logger.info("  %s %s in %.1f s", record.name, how, record.seconds)


# -- small file helpers ---------------------------------------------------------------------------


def write_json(path: Path, payload: object) -> Path:
    """JSON, indented, written atomically (numpy values as plain numbers)."""
    with atomic_write(path, "w") as handle:
        json.dump(payload, handle, indent=2, default=_json_value, allow_nan=True)
        handle.write("\n")
    return path


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """A DataFrame as CSV without its index, written atomically."""
    with atomic_write(path, "w") as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    return path


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Arrays as an uncompressed .npz, written atomically (loaded with allow_pickle=False)."""
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def copy_file(source: Path, target: Path) -> Path:
    """Copy a file atomically (temporary file beside ``target``, then rename)."""
    with open(source, "rb") as reader, atomic_write(target, "wb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_value(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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
    from clusterrec.plots import save_data_histograms

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


def save_ratings(path: Path, ratings: Ratings) -> Path:
    """A `Ratings` as .npz: codes, ratings, times, labels and scale (no pickle)."""
    step = np.nan if ratings.scale.step is None else ratings.scale.step
    arrays = {
        "user": ratings.user,
        "item": ratings.item,
        "rating": ratings.rating,
        "user_labels": np.asarray(ratings.user_labels, dtype=str),
        "item_labels": np.asarray(ratings.item_labels, dtype=str),
        "scale": np.array([ratings.scale.low, ratings.scale.high, step], dtype=np.float64),
    }
    if ratings.time is not None:
        arrays["time"] = ratings.time
    return write_npz(path, **arrays)


def load_ratings(path: Path) -> Ratings:
    """The `Ratings` :func:`save_ratings` wrote."""
    arrays = read_npz(path)
    low, high, step = arrays["scale"].tolist()
    return Ratings(
        user=arrays["user"],
        item=arrays["item"],
        rating=arrays["rating"],
        time=arrays.get("time"),
        user_labels=arrays["user_labels"].astype(object),
        item_labels=arrays["item_labels"].astype(object),
        scale=RatingScale(low, high, None if np.isnan(step) else step),
    )


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
    from clusterrec.distances import dense_bytes

    budget = config.distances.memory_budget_mib * _MIB
    sampled = dense_bytes(n_users) > budget
    return {
        "data": data_key,
        "metric": metric,
        "min_overlap": config.distances.min_overlap,
        "memory_budget_mib": config.distances.memory_budget_mib,
        "sample_size": config.distances.sample_size if sampled else None,
        "seed": config.seed if sampled else None,
    }


def compute_distances(folder: Path, ratings: Ratings, metric: str, config: RunConfig) -> None:
    """The metric's n x n matrix (float32), over a seeded user sample beyond the budget."""
    from clusterrec.clustering import sweep_distances

    D, users = sweep_distances(
        ratings.matrix(),
        metric,
        min_overlap=config.distances.min_overlap,
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

    from clusterrec.clustering import embed_sweep, sweep_n_clusters

    sweep = sweep_n_clusters(
        ratings.matrix(),
        distances.metric,
        config.clustering.n_clusters,
        algorithm,
        seed=config.seed,
        n_init=config.clustering.n_init,
        min_overlap=config.distances.min_overlap,
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
    from clusterrec.cluster_plots import (
        choose_n_clusters_figure,
        cluster_embedding_figure,
        pick_panels,
    )
    from clusterrec.plots import save_figure

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
    from clusterrec.clustering import metric_evidence

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
    weaknesses = jaccard_weaknesses(ratings, distances, users)
    activity = activity_by_cluster(ratings, clusterings)
    weaknesses["activity_by_cluster"] = activity_summary(activity)
    write_json(folder / "jaccard.json", weaknesses)
    write_csv(folder / "activity_by_cluster.csv", activity)
    write_csv(folder / "nearest_neighbour.csv", pd.DataFrame(weaknesses["nearest_neighbour"]))


def jaccard_weaknesses(
    ratings: Ratings,
    distances: Mapping[str, DistanceResult],
    users: np.ndarray | None,
    min_pairs_overlap: int = 5,
) -> dict:
    """Measured: how Jaccard ignores rating values and how it treats sparse users.

    * ``tracks_disagreement``: per metric, the Spearman correlation over pairs with at least
      ``min_pairs_overlap`` co-rated movies of the distance with the root mean square rating
      difference over those movies (near 0 for Jaccard: it says nothing about agreement).
    * ``nearest_neighbour``: per metric, each user's nearest other user: the median number of
      co-rated movies and the median RMS rating difference over them.
    * ``sparse_users``: Spearman correlation of a user's number of ratings with their
      Jaccard distance to their nearest neighbour; that distance in the lowest and highest
      activity quartiles; and the largest Jaccard similarity a pair of users can reach,
      ``min(n_u, n_v) / max(n_u, n_v)``, for the least and most active users.
    """
    from clusterrec.distances import co_rated_counts, pairwise_distances

    R = ratings.matrix()
    subset = R if users is None else R[users]
    counts = co_rated_counts(subset, memory_budget=None)
    # the plain root mean square difference over co-rated movies: no shrinkage
    rms = pairwise_distances(
        subset, "euclidean_rms", min_overlap=1, shrinkage=0.0, memory_budget=None
    )
    upper = np.triu(counts >= min_pairs_overlap, 1)
    return {
        "pairs": int(upper.sum()),
        "min_pairs_overlap": min_pairs_overlap,
        "tracks_disagreement": {
            m: _spearman(d.distances[upper], rms[upper]) for m, d in distances.items()
        },
        "nearest_neighbour": [
            _nearest_neighbour_agreement(metric, d.distances, counts, rms)
            for metric, d in distances.items()
        ],
        "sparse_users": sparse_user_evidence(
            distances["jaccard"].distances, np.diff(subset.indptr)
        ),
    }


def _nearest_neighbour_agreement(
    metric: str, D: np.ndarray, counts: np.ndarray, rms: np.ndarray
) -> dict:
    """Each user's nearest other user under ``D``: median co-rated movies and RMS difference."""
    nn = _nearest_other(D)
    rows = np.arange(len(nn))
    shared = counts[rows, nn]
    return {
        "metric": metric,
        "median_co_rated": float(np.median(shared)),
        "median_rms_difference": float(np.median(rms[rows, nn][shared > 0]))
        if (shared > 0).any()
        else None,
        "share_without_co_rated": float(np.mean(shared == 0)),
    }


def sparse_user_evidence(jaccard: np.ndarray, n_rated: np.ndarray) -> dict:
    """How the Jaccard distance treats users with few ratings: their distance to the nearest
    neighbour by activity quartile, its Spearman correlation with activity, and the largest
    similarity the least and the most active user can reach, min(n_u, n_v) / max(n_u, n_v)."""
    nn = _nearest_other(jaccard)
    nn_distance = jaccard[np.arange(len(nn)), nn]
    low, high = np.quantile(n_rated, [0.25, 0.75])
    return {
        "spearman_ratings_vs_nn_distance": _spearman(n_rated, nn_distance),
        "nn_distance_lowest_quartile": float(np.median(nn_distance[n_rated <= low])),
        "nn_distance_highest_quartile": float(np.median(nn_distance[n_rated >= high])),
        "ratings_lowest_quartile": float(low),
        "ratings_highest_quartile": float(high),
        "fewest_ratings": int(n_rated.min()),
        "most_ratings": int(n_rated.max()),
        "largest_similarity_fewest_vs_most": float(n_rated.min() / max(n_rated.max(), 1)),
    }


def _nearest_other(D: np.ndarray) -> np.ndarray:
    """Each row's nearest other column (the diagonal excluded; ties: the smaller index)."""
    work = np.array(D, dtype=np.float64, copy=True)
    np.fill_diagonal(work, np.inf)
    return np.argmin(work, axis=1)


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def activity_by_cluster(
    ratings: Ratings, clusterings: Mapping[str, ClusteringResult]
) -> pd.DataFrame:
    """Per metric and L: the share of the variance of log(number of ratings) that the
    clusters explain (eta squared; 0: clusters ignore activity, 1: clusters are activity)."""
    activity = np.log(ratings.counts_per_user().astype(np.float64))
    total = float(((activity - activity.mean()) ** 2).sum())
    rows = []
    for metric, clustering in clusterings.items():
        for L, labels in sorted(clustering.labels.items()):
            sizes = np.bincount(labels, minlength=L)
            means = np.bincount(labels, weights=activity, minlength=L) / np.maximum(sizes, 1)
            between = float((sizes * (means - activity.mean()) ** 2).sum())
            rows.append({"metric": metric, "L": L, "eta_squared": between / total if total else 0})
    return pd.DataFrame(rows)


def activity_summary(frame: pd.DataFrame) -> list[dict]:
    """Per metric: the smallest and largest eta squared over the L range."""
    summary = frame.groupby("metric", sort=False)["eta_squared"].agg(["min", "max", "mean"])
    return [{"metric": m, **{k: float(v) for k, v in row.items()}} for m, row in summary.iterrows()]


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
    from clusterrec.model import ClusterNeighborRecommender
    from clusterrec.plots import save_figure
    from clusterrec.report import cluster_errors_figure, learning_curves_figure
    from clusterrec.user_split import evaluate_user_split

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
    from clusterrec.evaluation import comparison_models, cross_validate
    from clusterrec.plots import save_figure
    from clusterrec.report import kfold_figure

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
    from clusterrec.model import ClusterNeighborRecommender

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


# -- the run --------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What a run wrote and what each stage cost."""

    out: Path
    report: Path
    manifest: dict
    records: list[StageRecord] = field(default_factory=list)

    @property
    def reused(self) -> int:
        return sum(r.cached for r in self.records)


@dataclass
class _Runner:
    """Runs stages through the cache, measuring each and telling ``progress``."""

    cache: StageCache
    progress: Progress
    total: int
    records: list[StageRecord] = field(default_factory=list)

    def stage(
        self,
        name: str,
        params: Mapping | Callable[[], Mapping],
        compute: Callable[[Path], None],
        load: Callable[[Path], object],
    ) -> tuple[object, str]:
        """(loaded result, key): reused when finished before, else computed and stored.

        ``params`` may be a function, called inside the stage's measurement (the data stage
        hashes its input there).
        """
        self.progress.start(name, len(self.records), self.total)
        started = time.perf_counter()
        with PeakMemory() as memory:
            params = params() if callable(params) else params
            key = stage_key(name, params)
            folder = self.cache.lookup(name, key)
            cached = folder is not None
            if folder is None:
                folder, _ = self.cache.build(name, key, params, compute)
            result = load(folder)
        record = StageRecord(
            name=name,
            key=key,
            cached=cached,
            seconds=time.perf_counter() - started,
            peak_rss_mib=memory.peak_mib,
            computed_seconds=computed_seconds(folder),
        )
        self.records.append(record)
        self.progress.finish(record)
        return result, key

    def step(self, name: str, action: Callable[[], object]) -> object:
        """A step that is never cached (writing the run directory), measured the same way."""
        self.progress.start(name, len(self.records), self.total)
        started = time.perf_counter()
        with PeakMemory() as memory:
            result = action()
        seconds = time.perf_counter() - started
        record = StageRecord(name, "", False, seconds, memory.peak_mib, seconds)
        self.records.append(record)
        self.progress.finish(record)
        return result


def stage_names(config: RunConfig) -> list[str]:
    """The stages of a run, in order (the progress display's steps)."""
    metrics = _metrics(config)
    return [
        "data",
        *(f"distances-{m}" for m in metrics),
        *(f"clustering-{m}" for m in metrics),
        "evidence",
        "networks",
        "kfold",
        "recommendations",
        "report",
    ]


def run_pipeline(
    config: RunConfig,
    data: str | Path | None,
    out: str | Path,
    *,
    items: str | Path | None = None,
    cache_dir: str | Path | None = None,
    reuse: bool = True,
    progress: Progress | None = None,
) -> RunResult:
    """Run the whole method on ``data`` (None: the built-in generated data) into ``out``.

    Stages are cached under ``cache_dir`` (default :func:`default_cache_dir`); with
    ``reuse=False`` every stage is computed again (and the cache entries replaced).
    """
    progress = progress or Progress()
    started = time.perf_counter()
    cache = StageCache(Path(cache_dir) if cache_dir else default_cache_dir(), reuse=reuse)
    runner = _Runner(cache, progress, len(stage_names(config)))
    source, data_result, data_key = _data_stage(runner, data, config)
    ratings = data_result.ratings
    _check_n_clusters(config, ratings.n_users)
    distances, distance_keys = _distance_stages(runner, ratings, data_key, config)
    clusterings, clustering_keys = _clustering_stages(
        runner, ratings, distances, distance_keys, config
    )
    evidence_params = {
        "clusterings": clustering_keys,
        "distances": distance_keys,
        "planted": source.generated,
        "min_overlap": config.distances.min_overlap,
        "seed": config.seed,
    }
    evidence, _ = runner.stage(
        "evidence",
        evidence_params,
        lambda folder: compute_evidence(
            folder, ratings, clusterings, distances, planted_groups(source, ratings), config
        ),
        load_evidence,
    )
    networks, networks_key = runner.stage(
        "networks",
        {"data": data_key, "model": model_params(config), "test_share": config.model.test_share},
        lambda folder: compute_networks(folder, ratings, config, progress),
        load_networks,
    )
    kfold_params = {
        "data": data_key,
        "model": model_params(config),
        "evaluation": dataclasses.asdict(config.evaluation),
    }
    kfold, _ = runner.stage(
        "kfold",
        kfold_params,
        lambda folder: compute_kfold(folder, ratings, config, progress),
        load_kfold,
    )
    recommendation_params = {
        "networks": networks_key,
        "settings": dataclasses.asdict(config.recommendations),
        "seed": config.seed,
    }
    recommendations, _ = runner.stage(
        "recommendations",
        recommendation_params,
        lambda folder: compute_recommendations(folder, ratings, networks, config),
        load_recommendations,
    )
    outputs = RunOutputs(
        config=config,
        source=source,
        data=data_result,
        distances=distances,
        clusterings=clusterings,
        evidence=evidence,
        networks=networks,
        kfold=kfold,
        recommendations=recommendations,
        titles=_read_titles(items),
        items=Path(items) if items else None,
    )
    out = Path(out)
    report = runner.step(
        "report", lambda: write_run_directory(out, outputs, runner.records, cache, started)
    )
    manifest = write_manifest(out, outputs, runner.records, cache, time.perf_counter() - started)
    return RunResult(out, report, manifest, runner.records)


def _data_stage(
    runner: _Runner, data: str | Path | None, config: RunConfig
) -> tuple[InputFile, DataResult, str]:
    """(input file, kept ratings and their description, stage key); the input is resolved
    (generated when None) and hashed inside the stage's measurement."""
    found: list[InputFile] = []

    def params() -> dict:
        found.append(resolve_input(Path(data) if data else None, config))
        return {
            "input_sha256": found[0].sha256,
            "reader": config.data.reader_options(),
            "min_ratings": config.data.min_ratings,
            "max_ratings": config.data.max_ratings,
        }

    result, key = runner.stage(
        "data", params, lambda folder: compute_data(folder, found[0], config), load_data
    )
    return found[0], result, key


def _metrics(config: RunConfig) -> list[str]:
    """The masked metrics of the clustering step, then Jaccard."""
    return [*config.clustering.metrics, "jaccard"]


def _distance_stages(
    runner: _Runner, ratings: Ratings, data_key: str, config: RunConfig
) -> tuple[dict[str, DistanceResult], dict[str, str]]:
    """Each metric's distance matrix, and the stage keys."""
    results, keys = {}, {}
    for metric in _metrics(config):
        results[metric], keys[metric] = runner.stage(
            f"distances-{metric}",
            distance_params(data_key, metric, ratings.n_users, config),
            lambda folder, m=metric: compute_distances(folder, ratings, m, config),
            lambda folder, m=metric: load_distances(folder, m),
        )
    return results, keys


def _clustering_stages(
    runner: _Runner,
    ratings: Ratings,
    distances: Mapping[str, DistanceResult],
    distance_keys: Mapping[str, str],
    config: RunConfig,
) -> tuple[dict[str, ClusteringResult], dict[str, str]]:
    """Each metric's sweep over L (Jaccard with its own algorithm), and the stage keys."""
    results, keys = {}, {}
    for metric in _metrics(config):
        algorithm = config.jaccard.algorithm if metric == "jaccard" else config.clustering.algorithm
        results[metric], keys[metric] = runner.stage(
            f"clustering-{metric}",
            clustering_params(distance_keys[metric], metric, algorithm, config),
            lambda folder, m=metric, a=algorithm: compute_clustering(
                folder, ratings, distances[m], a, config
            ),
            load_clustering,
        )
    return results, keys


def _check_n_clusters(config: RunConfig, n_users: int) -> None:
    if config.clustering.max_clusters > n_users:
        raise ConfigError(
            f"[clustering] max_clusters = {config.clustering.max_clusters} is more than the "
            f"{n_users:,} kept users; lower it or keep more users ([data] min/max_ratings)"
        )


def _read_titles(items: str | Path | None) -> pd.Series | None:
    if items is None:
        return None
    from clusterrec.data.readers import read_items

    return read_items(items)


# -- the run directory ----------------------------------------------------------------------------


@dataclass
class RunOutputs:
    """Every stage's results, as the run directory and the report need them."""

    config: RunConfig
    source: InputFile
    data: DataResult
    distances: dict[str, DistanceResult]
    clusterings: dict[str, ClusteringResult]
    evidence: EvidenceResult
    networks: NetworksResult
    kfold: KFoldResult
    recommendations: RecommendationResult
    titles: pd.Series | None
    items: Path | None


def write_run_directory(
    out: Path,
    outputs: RunOutputs,
    records: list[StageRecord],
    cache: StageCache,
    started: float,
) -> Path:
    """figures/, results/, model/, config.toml, manifest.json and report.html in ``out``."""
    from clusterrec import report

    out.mkdir(parents=True, exist_ok=True)
    figures = export_figures(outputs, out / "figures")
    export_results(outputs, out / "results")
    restore_model_folder(outputs.networks.folder / "model", out / "model")
    with atomic_write(out / "config.toml", "w") as handle:
        handle.write(outputs.config.to_toml())
    manifest = write_manifest(out, outputs, records, cache, time.perf_counter() - started)
    html = report.render_report(report_inputs(outputs, figures, manifest))
    with atomic_write(out / "report.html", "w") as handle:
        handle.write(html)
    return out / "report.html"


def write_manifest(
    out: Path, outputs: RunOutputs, records: list[StageRecord], cache: StageCache, seconds: float
) -> dict:
    """manifest.json and results/stages.csv; written again once the report step is measured."""
    manifest = build_manifest(outputs, records, cache, seconds)
    write_json(out / "manifest.json", manifest)
    write_csv(out / "results" / "stages.csv", pd.DataFrame(manifest["stages"]))
    return manifest


def export_figures(outputs: RunOutputs, folder: Path) -> dict[str, Path]:
    """Copy every figure into ``folder`` under its final name; name -> path."""
    sources = {
        "ratings_per_user": outputs.data.folder / "ratings_per_user.png",
        "rating_span_days": outputs.data.folder / "rating_span_days.png",
        "learning_curves": outputs.networks.folder / "learning.png",
        "mae_per_cluster": outputs.networks.folder / "mae.png",
        "kfold": outputs.kfold.folder / "kfold.png",
    }
    for metric, clustering in outputs.clusterings.items():
        sources[f"choose_L_{metric}"] = clustering.folder / "choose_L.png"
        sources[f"clusters_2d_{metric}"] = clustering.folder / "clusters_2d.png"
    return {name: copy_file(path, folder / f"{name}.png") for name, path in sources.items()}


def export_results(outputs: RunOutputs, folder: Path) -> None:
    """Every table of the run as CSV in ``folder``."""
    data = outputs.data
    copy_file(data.folder / "user_statistics.csv", folder / "user_statistics.csv")
    write_csv(folder / "data_counts.csv", data_counts(data.info))
    counts = data.info["statistics"]["rating_counts"]
    write_csv(
        folder / "rating_counts.csv",
        pd.DataFrame({"rating": list(counts), "count": list(counts.values())}),
    )
    for metric, clustering in outputs.clusterings.items():
        write_csv(folder / f"sweep_{metric}.csv", sweep_table(clustering.summary))
        labels = pd.DataFrame({"user": data.ratings.user_labels.astype(str)})
        for L, array in sorted(clustering.labels.items()):
            labels[f"L{L}"] = array
        write_csv(folder / f"labels_{metric}.csv", labels)
    for name in ("evidence", "agreement", "activity_by_cluster", "nearest_neighbour"):
        copy_file(outputs.evidence.folder / f"{name}.csv", folder / f"{name}.csv")
    networks = outputs.networks.folder
    copy_file(networks / "users_protocol.csv", folder / "users_protocol.csv")
    copy_file(networks / "learning_curves.csv", folder / "learning_curves.csv")
    copy_file(networks / "neighbours.csv", folder / "neighbours_per_cluster.csv")
    copy_file(outputs.kfold.folder / "folds.csv", folder / "kfold_folds.csv")
    copy_file(outputs.kfold.folder / "summary.csv", folder / "kfold_summary.csv")
    recs = with_titles(outputs.recommendations.recommendations, outputs.titles)
    write_csv(folder / "recommendations.csv", recs)
    write_csv(
        folder / "user_profiles.csv",
        with_titles(outputs.recommendations.profiles, outputs.titles),
    )


def data_counts(info: dict) -> pd.DataFrame:
    """Ratings, users and movies read, kept and dropped by the Rmin..Rmax filter."""
    before, after = info["filter"]["before"], info["filter"]["after"]
    return pd.DataFrame(
        [
            {"what": "read", **before},
            {"what": "kept", **after},
            {"what": "dropped", **{k: before[k] - after[k] for k in before}},
        ]
    )


def sweep_table(summary: dict) -> pd.DataFrame:
    """One row per L: objective, silhouette, sizes (space-separated), iterations, seconds."""
    rows = [
        {**point, "sizes": " ".join(str(s) for s in point["sizes"])} for point in summary["points"]
    ]
    return pd.DataFrame(rows)


def with_titles(frame: pd.DataFrame, titles: pd.Series | None) -> pd.DataFrame:
    """``frame`` with a title column after ``item`` when an items table was given."""
    if titles is None or frame.empty or "item" not in frame:
        return frame
    frame = frame.copy()
    lookup = titles[~titles.index.duplicated()]
    frame.insert(
        frame.columns.get_loc("item") + 1,
        "title",
        lookup.reindex(frame["item"].astype(str)).fillna("").to_numpy(),
    )
    return frame


def build_manifest(
    outputs: RunOutputs, records: list[StageRecord], cache: StageCache, seconds: float
) -> dict:
    """Effective config, input hash and counts, package versions, per-stage cost, seed."""
    source, info = outputs.source, outputs.data.info
    return {
        "clusterrec": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": outputs.config.seed,
        "config": outputs.config.as_dict(),
        "input": {
            "path": str(source.path),
            "sha256": source.sha256,
            "bytes": source.size_bytes,
            "generated": source.generated,
            **info["read"],
            "scale": info["scale"],
            "before_filter": info["filter"]["before"],
            "after_filter": info["filter"]["after"],
        },
        "items": None
        if outputs.items is None
        else {"path": str(outputs.items), "sha256": file_sha256(outputs.items)},
        "packages": package_versions(),
        "cache": {"folder": str(cache.root), "reuse": cache.reuse},
        "memory_method": memory_method(),
        "stages": [dataclasses.asdict(r) for r in records],
        "stages_reused": sum(r.cached for r in records),
        "seconds": seconds,
        "peak_rss_mib": max((r.peak_rss_mib for r in records), default=0.0),
    }


def package_versions() -> dict[str, str | None]:
    """Python, the platform and the installed versions of :data:`RECORDED_PACKAGES`."""
    from importlib import metadata

    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "clusterrec": __version__,
    }
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def report_inputs(outputs: RunOutputs, figures: dict[str, Path], manifest: dict) -> object:
    """The values :func:`clusterrec.report.render_report` shows."""
    from clusterrec.report import ReportInputs

    recs = outputs.recommendations
    return ReportInputs(
        config_toml=outputs.config.to_toml(),
        manifest=manifest,
        data=outputs.data.info,
        counts=data_counts(outputs.data.info),
        figures=figures,
        sweeps={m: c.summary for m, c in outputs.clusterings.items()},
        evidence=outputs.evidence.evidence,
        jaccard=outputs.evidence.jaccard,
        users_protocol=outputs.networks.table,
        networks=outputs.networks.meta,
        neighbours=outputs.networks.neighbours,
        kfold=outputs.kfold.summary,
        kfold_meta=outputs.kfold.meta,
        recommendations=with_titles(recs.recommendations, outputs.titles),
        profiles=with_titles(recs.profiles, outputs.titles),
        titles_available=outputs.titles is not None,
        generated=outputs.source.generated,
    )
