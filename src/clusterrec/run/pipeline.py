"""The whole method from a ratings file to a report, as cached stages.

``run_pipeline`` goes: data (read, filter, describe) -> the distances of each metric ->
clustering with each masked metric over a range of L -> the Jaccard clustering -> evidence
for judging the metrics -> neighbours and per-cluster networks (the assignment's users
protocol) -> k-fold comparison with the baselines -> recommendations for sample users ->
the run directory (figures, results, model, manifest, report).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError
from clusterrec.run.cache import StageCache, computed_seconds, default_cache_dir, stage_key
from clusterrec.run.config import RunConfig
from clusterrec.run.measure import PeakMemory, StageRecord
from clusterrec.run.progress import Progress
from clusterrec.run.rundir import RunOutputs, write_manifest, write_run_directory
from clusterrec.run.stages import (
    ClusteringResult,
    DataResult,
    DistanceResult,
    InputFile,
    clustering_params,
    compute_clustering,
    compute_data,
    compute_distances,
    compute_evidence,
    compute_kfold,
    compute_networks,
    compute_recommendations,
    distance_params,
    load_clustering,
    load_data,
    load_distances,
    load_evidence,
    load_kfold,
    load_networks,
    load_recommendations,
    model_params,
    planted_groups,
    resolve_input,
)

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
