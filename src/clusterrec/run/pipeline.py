"""The whole method from a ratings file to a report, as cached stages.

``run_pipeline`` goes: data (read, filter, describe) -> the distances of each metric ->
clustering with each masked metric over a range of L -> the Jaccard clustering -> evidence
for judging the metrics -> neighbours and per-cluster networks (the assignment's users
protocol) -> k-fold comparison with the baselines -> (when asked) the default model's ablation ->
recommendations for sample users ->
the run directory (figures, results, model, manifest, report).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clusterrec._atomic import atomic_directory
from clusterrec._logging import logger
from clusterrec._progress import ProgressArg
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError
from clusterrec.run.cache import (
    StageCache,
    computed_seconds,
    default_cache_dir,
    prune,
    stage_key,
)
from clusterrec.run.config import RunConfig
from clusterrec.run.measure import PeakMemory, StageRecord
from clusterrec.run.plan import DataShape, RunPlan, plan_run
from clusterrec.run.progress import Progress, as_progress
from clusterrec.run.rundir import RunOutputs, write_manifest, write_run_directory
from clusterrec.run.stages import (
    AblationStageResult,
    ClusteringResult,
    DataResult,
    DistanceResult,
    EvidenceResult,
    InputFile,
    KFoldResult,
    NetworksResult,
    RecommendationResult,
    ablation_params,
    clustering_params,
    compute_ablation,
    compute_clustering,
    compute_data,
    compute_distances,
    compute_evidence,
    compute_kfold,
    compute_networks,
    compute_recommendations,
    data_params,
    distance_params,
    evidence_params,
    kfold_params,
    networks_params,
    planted_groups,
    recommendation_params,
    resolve_input,
)

__all__ = [
    "RunResult",
    "plan_pipeline",
    "run_pipeline",
    "stage_names",
]

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
        compute: Callable[[], object],
        result_type: type,
    ) -> tuple[object, str]:
        """(result, key): reused when finished before, else ``compute()``d and saved; either
        way read back with ``result_type.load(folder)``, so a reused stage and a fresh one
        hand on the same values.

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
                folder, _ = self.cache.build(name, key, params, lambda work: compute().save(work))
            result = result_type.load(folder)
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
        *(["ablation"] if config.evaluation.ablation else []),
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
    progress: ProgressArg | Progress = False,
    on_plan: Callable[[RunPlan], None] | None = None,
) -> RunResult:
    """Run the whole method on ``data`` into ``out``; with None, the data set shipped in the
    package (``[data] builtin``, with its titles), or the generated data when that is "none".

    Stages are cached under ``cache_dir`` (default :func:`default_cache_dir`); with
    ``reuse=False`` every stage is computed again (and the cache entries replaced).
    ``progress``: see :mod:`clusterrec.run.progress` (a :class:`Progress` gets every stage's
    start and end, and the steps inside). Right after the data stage the run's plan
    (:mod:`clusterrec.run.plan`) is handed to ``on_plan`` and checked: a run that would not
    fit ``[plan] memory_limit`` stops there with a ConfigError naming what to change.
    """
    display, owned = as_progress(progress)
    try:
        return _run(config, data, Path(out), items, cache_dir, reuse, display, on_plan)
    finally:
        if owned:
            display.close()


def plan_pipeline(
    config: RunConfig,
    data: str | Path | None,
    *,
    cache_dir: str | Path | None = None,
    reuse: bool = True,
) -> RunPlan:
    """The plan of :func:`run_pipeline` on ``data`` (only the data stage runs; nothing is
    checked or written besides that stage's cache entry): ``clusterrec run --dry-run``."""
    runner = _runner(config, cache_dir, reuse, as_progress(False)[0])
    _, data_result, _ = _data_stage(runner, data, config)
    return plan_run(DataShape.of(data_result.ratings), config)


def _run(
    config: RunConfig,
    data: str | Path | None,
    out: Path,
    items: str | Path | None,
    cache_dir: str | Path | None,
    reuse: bool,
    progress: Progress,
    on_plan: Callable[[RunPlan], None] | None,
) -> RunResult:
    started = time.perf_counter()
    _check_out(out)
    runner = _runner(config, cache_dir, reuse, progress)
    cache = runner.cache
    source, data_result, data_key = _data_stage(runner, data, config)
    if items is None:
        items = source.items  # a built-in data set's titles
    ratings = data_result.ratings
    _check_n_clusters(config, ratings.n_users)
    plan = plan_run(DataShape.of(ratings), config)
    if on_plan is not None:
        on_plan(plan)
    plan.check()
    distances, distance_keys = _distance_stages(runner, ratings, data_key, config)
    clusterings, clustering_keys = _clustering_stages(
        runner, ratings, distances, distance_keys, config
    )
    evidence, _ = runner.stage(
        "evidence",
        evidence_params(clustering_keys, distance_keys, source, config),
        lambda: compute_evidence(
            ratings,
            clusterings,
            distances,
            planted_groups(source, ratings),
            min_overlap=config.distances.min_overlap,
            seed=config.seed,
        ),
        EvidenceResult,
    )
    jaccard_labels = clusterings["jaccard"].labels[config.model.n_clusters]
    networks, networks_key = runner.stage(
        "networks",
        networks_params(data_key, clustering_keys["jaccard"], config),
        lambda: compute_networks(ratings, jaccard_labels, config, progress.step),
        NetworksResult,
    )
    kfold, _ = runner.stage(
        "kfold",
        kfold_params(data_key, config),
        lambda: compute_kfold(ratings, config, progress.step),
        KFoldResult,
    )
    ablation = None
    if config.evaluation.ablation:
        ablation, _ = runner.stage(
            "ablation",
            ablation_params(data_key, config),
            lambda: compute_ablation(ratings, config, progress.step),
            AblationStageResult,
        )
    recommendations, _ = runner.stage(
        "recommendations",
        recommendation_params(networks_key, config),
        lambda: compute_recommendations(ratings, networks, config),
        RecommendationResult,
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
        ablation=ablation,
    )
    with atomic_directory(out) as work:  # an older run directory stays whole until replaced
        report = runner.step(
            "report", lambda: write_run_directory(work, outputs, runner.records, cache, started)
        )
        seconds = time.perf_counter() - started
        manifest = write_manifest(work, outputs, runner.records, cache, seconds)
    _bound_cache(cache, config, runner.records)
    return RunResult(out, out / report.relative_to(work), manifest, runner.records)


def _runner(
    config: RunConfig, cache_dir: str | Path | None, reuse: bool, progress: Progress
) -> _Runner:
    """The stages' runner over the stage cache in ``cache_dir`` (default: the user cache)."""
    cache = StageCache(Path(cache_dir) if cache_dir else default_cache_dir(), reuse=reuse)
    return _Runner(cache, progress, len(stage_names(config)))


def _data_stage(
    runner: _Runner, data: str | Path | None, config: RunConfig
) -> tuple[InputFile, DataResult, str]:
    """(input file, kept ratings and their description, stage key); the input is resolved
    (generated when None) and hashed inside the stage's measurement."""
    found: list[InputFile] = []

    def params() -> dict:
        found.append(resolve_input(Path(data) if data else None, config))
        return data_params(found[0], config)

    result, key = runner.stage("data", params, lambda: compute_data(found[0], config), DataResult)
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
            lambda m=metric: compute_distances(ratings, m, config.distances, config.seed),
            DistanceResult,
        )
    return results, keys


def _clustering_stages(
    runner: _Runner,
    ratings: Ratings,
    distances: Mapping[str, DistanceResult],
    distance_keys: Mapping[str, str],
    config: RunConfig,
) -> tuple[dict[str, ClusteringResult], dict[str, str]]:
    """Each metric's sweep over L (Jaccard with its own algorithm, and also at the networks'
    L when the sweep does not reach it), and the stage keys."""
    results, keys = {}, {}
    for metric in _metrics(config):
        jaccard = metric == "jaccard"
        algorithm = config.jaccard.algorithm if jaccard else config.clustering.algorithm
        extra = [config.model.n_clusters] if jaccard else []
        extra = [L for L in extra if L not in config.clustering.n_clusters]
        results[metric], keys[metric] = runner.stage(
            f"clustering-{metric}",
            clustering_params(distance_keys[metric], metric, algorithm, config, extra),
            lambda m=metric, a=algorithm, e=extra: compute_clustering(
                ratings,
                distances[m],
                a,
                config.clustering.n_clusters,
                settings=config.distances,
                n_init=config.clustering.n_init,
                embedding_users=config.clustering.embedding_users,
                seed=config.seed,
                extra=e,
                progress=runner.progress.step,
            ),
            ClusteringResult,
        )
    return results, keys


def _check_out(out: Path) -> None:
    """``out`` must be new, empty or an earlier run directory: it is replaced as a whole."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise ConfigError(
            f"{out}: a folder that is not a run directory (no manifest.json); a run replaces "
            "its --out folder as a whole, so choose a new or empty one"
        )


def _bound_cache(cache: StageCache, config: RunConfig, records: list[StageRecord]) -> None:
    """The cache pruned to ``[cache] max_size``, least recently used first, this run's stages
    kept; a failure to prune is a warning, never a failed run."""
    if config.cache.max_size == "none":
        return
    keep = [cache.folder(r.name, r.key) for r in records if r.key]
    try:
        prune(cache.root, max_size=config.cache.max_size, keep=keep)
    except OSError as error:
        logger.warning("could not prune the stage cache %s: %s", cache.root, error)


def _check_n_clusters(config: RunConfig, n_users: int) -> None:
    if config.model.n_clusters > n_users:
        raise ConfigError(
            f"[model] n_clusters = {config.model.n_clusters} is more than the {n_users:,} "
            "kept users; lower it or keep more users ([data] min/max_ratings)"
        )
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
