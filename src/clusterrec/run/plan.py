"""The plan of a run: each stage's form, memory and rough time, from the data's shape alone.

Made right after the data stage, before anything heavy: every stage whose dense form would
not fit ``[distances] memory_budget_mib`` is planned in its bounded form (a seeded sample of
users for the n x n distance matrices, the evidence and the pictures; sampled k-medoids with
every user assigned; user kNN's similarities per block of querying users), and a run whose
estimated peak exceeds ``[plan] memory_limit`` is refused at once with the settings that
would make it fit. ``clusterrec run --dry-run`` prints the plan alone.

Memory estimates count the stage's large arrays (ratings, matrices, feature rows, n x n
blocks), not Python's own overhead; seconds are rough (within a factor of about 3), scaled
from stage times measured on this project's 2-core machine (``benchmarks/results/scaling.md``
and the default run). Both say what to expect and which stage dominates, not a promise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from clusterrec.distances.engine import dense_bytes
from clusterrec.errors import ConfigError
from clusterrec.run.cache import format_size, parse_size
from clusterrec.run.config import RunConfig
from clusterrec.run.stages.networks import LEAKY_ROWS

__all__ = [
    "DataShape",
    "RunPlan",
    "StagePlan",
    "ablation_plan",
    "machine_memory",
    "plan_run",
]

_MIB = 1024**2

# Seconds per unit of work, measured on this project's 2-core machine (one thread).
_PAIR_SECONDS = 3.75e-8  # one user pair of a dense distance matrix, per 208 ratings a user
_BASE_BYTES = 500 * 1024**2
_KMEANS_SECONDS = 7.8e-7  # one rating, one L, one restart of masked k-means
_KMEANS_ITERATIONS = 15  # steps of a restart to convergence, typically (what the above spans)
_NETWORK_SECONDS = 4.5e-5  # one training row of the per-cluster networks, one protocol
_FEATURE_SECONDS = 5e-6  # one rating's neighbour features and prediction
_KFOLD_SECONDS = {  # one training rating of one fold, per model
    "clusterrec": 1.4e-4,
    "network": 4.5e-5,
    "notebook": 2.0e-3,
    "bias": 2e-6,
    "mean": 1e-7,
    "userknn": 2.5e-5,
}
#: Bytes per training rating of each model's largest arrays (feature rows, indexes).
_KFOLD_BYTES = {
    "clusterrec": 2400,
    "network": 1300,
    "notebook": 120,
    "bias": 40,
    "mean": 16,
    "userknn": 64,
}


@dataclass(frozen=True)
class DataShape:
    """What the plan is made from: the kept ratings' size."""

    users: int
    items: int
    ratings: int

    @classmethod
    def of(cls, ratings: object) -> DataShape:
        """The shape of a :class:`~clusterrec.data.ratings.Ratings`."""
        return cls(int(ratings.n_users), int(ratings.n_items), len(ratings))


@dataclass(frozen=True)
class StagePlan:
    """One stage: what it will do (``form``), its estimated peak bytes and rough seconds;
    ``bounded`` when its dense form would not fit and a bounded one was chosen."""

    name: str
    form: str
    memory_bytes: int
    seconds: float
    bounded: bool = False


@dataclass(frozen=True)
class RunPlan:
    """Every stage's plan, the memory limit it is checked against, and the data's shape."""

    shape: DataShape
    stages: tuple[StagePlan, ...]
    memory_limit: int

    @property
    def peak_bytes(self) -> int:
        """The largest stage's memory (stages run one after another)."""
        return max((s.memory_bytes for s in self.stages), default=0)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    def check(self) -> None:
        """A ConfigError naming the stage and the settings to change when the estimated peak
        exceeds the memory limit (only stages with no bounded form left can do that)."""
        worst = max(self.stages, key=lambda s: s.memory_bytes)
        if worst.memory_bytes <= self.memory_limit:
            return
        raise ConfigError(
            f"this run would need about {format_size(worst.memory_bytes)} in stage {worst.name} "
            f"({worst.form}), more than [plan] memory_limit = {format_size(self.memory_limit)}. "
            "Keep fewer users ([data] min_ratings / max_ratings), bound the stage (the n x n "
            "sample: [distances] memory_budget_mib, sample_size; the k-fold table: [evaluation] "
            "max_ratings, models; the networks: [model] max_rows) or raise [plan] memory_limit "
            "if the machine has the memory"
        )

    def to_text(self) -> str:
        """The plan as a table, one stage a line, then the totals."""
        shape = self.shape
        lines = [
            f"plan for {shape.users:,} users, {shape.items:,} movies, {shape.ratings:,} ratings "
            f"(memory limit {format_size(self.memory_limit)}; seconds rough, within ~3x):",
            f"  {'stage':<22} {'memory':>10} {'seconds':>8}  form",
        ]
        for stage in self.stages:
            mark = " (bounded)" if stage.bounded else ""
            lines.append(
                f"  {stage.name:<22} {format_size(stage.memory_bytes):>10} {stage.seconds:>8.0f}  "
                f"{stage.form}{mark}"
            )
        lines.append(
            f"  {'peak / total':<22} {format_size(self.peak_bytes):>10} {self.seconds:>8.0f}"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "shape": vars(self.shape),
            "memory_limit": self.memory_limit,
            "peak_bytes": self.peak_bytes,
            "seconds": round(self.seconds, 1),
            "stages": [vars(s) for s in self.stages],
        }


def plan_run(shape: DataShape, config: RunConfig) -> RunPlan:
    """The plan of ``clusterrec run`` on kept ratings of this shape (see the module)."""
    n, r = shape.users, shape.ratings
    budget = config.distances.memory_budget_mib * _MIB
    dense = dense_bytes(n) <= budget
    n_d = n if dense else min(n, config.distances.sample_size)
    per_user = r / max(n, 1)
    matrix = dense_bytes(n_d)
    # what stays resident through the run: the interpreter with torch and numpy, the ratings,
    # their matrices and earlier stages' results (measured: ~860 MiB at 1.8M ratings)
    data_bytes = _BASE_BYTES + 200 * r
    sample_form = (
        f"dense {n_d:,} x {n_d:,}"
        if dense
        else f"a seeded sample of {n_d:,} users ({n:,} x {n:,} would need "
        f"{format_size(dense_bytes(n))})"
    )
    stages = [StagePlan("data", "read, validate, filter", data_bytes + 400 * r, 3e-6 * r)]
    metrics = [*config.clustering.metrics, "jaccard"]
    pair_seconds = _PAIR_SECONDS * n_d * n_d * per_user / 208
    for metric in metrics:
        stages.append(
            StagePlan(
                f"distances-{metric}",
                sample_form,
                data_bytes + 2 * matrix + 256 * _MIB,
                0.2 + pair_seconds,
                bounded=not dense,
            )
        )
    sweep = config.clustering.n_clusters
    for metric in config.clustering.metrics:
        stages.append(_kmeans_plan(metric, shape, config, data_bytes))
    stages.append(
        StagePlan(
            "clustering-jaccard",
            f"{config.jaccard.algorithm} on {sample_form}"
            + ("" if dense else ", every user assigned to the nearest medoid"),
            data_bytes + matrix + 8 * n * max(sweep),
            0.1 + 8e-8 * n_d * n_d * len(sweep),
            bounded=not dense,
        )
    )
    stages.append(
        StagePlan(
            "evidence",
            f"metric evidence on {sample_form}",
            data_bytes + 14 * matrix,
            0.3 + 5e-7 * n_d * n_d,
            bounded=not dense,
        )
    )
    k = config.model.n_neighbors or 20
    L = config.model.n_clusters
    cap = config.model.max_rows
    capped = 0 < cap < r / L
    trained = min(r, L * cap) if cap else r
    # the leaky comparison trains on at most LEAKY_ROWS a cluster of its 80 % row split
    leaky_trained = min(0.8 * r, L * LEAKY_ROWS) if config.model.leaky_comparison else 0
    stages.append(
        StagePlan(
            "networks",
            f"k = {k} neighbours in blocks, one network per cluster"
            + (f" on at most {cap:,} rows each (seeded)" if capped else "")
            + (" (and the notebook's leaky protocol)" if leaky_trained else ""),
            data_bytes + 65 * (k + 1) * r,
            _NETWORK_SECONDS * (trained + leaky_trained) + _FEATURE_SECONDS * r,
            bounded=capped,
        )
    )
    stages.append(_kfold_plan(shape, config, budget, data_bytes))
    if config.evaluation.ablation:
        stages.append(ablation_plan(shape, config))
    stages.append(StagePlan("recommendations", "top-N for sample users", data_bytes, 1.0))
    stages.append(StagePlan("report", "figures and report.html", data_bytes, 5.0))
    return RunPlan(shape, tuple(stages), _memory_limit(config))


def _kmeans_plan(metric: str, shape: DataShape, config: RunConfig, data_bytes: int) -> StagePlan:
    """Masked k-means over the L sweep: on all users, or (past the sample size) restarts on a
    seeded sample and a few refining steps on all users."""
    from clusterrec.clustering._common import DEFAULT_KMEANS_SAMPLE_SIZE
    from clusterrec.clustering.kmeans import _REFINE_STEPS

    n, r = shape.users, shape.ratings
    sweep = config.clustering.n_clusters
    restarts = sum(sweep) * config.clustering.n_init
    memory = data_bytes + 64 * r + 8 * 6 * max(sweep) * shape.items
    span = f"L = {sweep[0]}..{sweep[-1]}"
    if n <= DEFAULT_KMEANS_SAMPLE_SIZE:
        form = f"masked k-means on all {n:,} users, {span}"
        return StagePlan(f"clustering-{metric}", form, memory, _KMEANS_SECONDS * r * restarts)
    sample_ratings = r * DEFAULT_KMEANS_SAMPLE_SIZE / n
    refine = _REFINE_STEPS / _KMEANS_ITERATIONS
    seconds = _KMEANS_SECONDS * (sample_ratings * restarts + r * sum(sweep) * refine)
    form = (
        f"masked k-means, {span}: restarts on a seeded sample of {DEFAULT_KMEANS_SAMPLE_SIZE:,} "
        f"users, then at most {_REFINE_STEPS} steps on all {n:,}"
    )
    return StagePlan(f"clustering-{metric}", form, memory, seconds, bounded=True)


def _kfold_plan(shape: DataShape, config: RunConfig, budget: int, data_bytes: int) -> StagePlan:
    """The k-fold stage: its largest model's memory, the sum of the models' times."""
    folds = config.evaluation.folds
    cap = config.evaluation.max_ratings
    kept, users, sampled = _kfold_sample(shape, config)
    train = kept * (folds - 1) / folds
    models = config.evaluation.models
    knn_dense = dense_bytes(users) <= budget
    memory = {name: _KFOLD_BYTES[name] * train for name in models}
    if "clusterrec" in memory:
        memory["clusterrec"] = _hybrid_bytes(train, users, shape.items)
    if "userknn" in memory:
        memory["userknn"] += dense_bytes(users) if knn_dense else 256 * _MIB
    seconds = sum(_KFOLD_SECONDS[name] * train for name in models) * folds
    knn = (
        ""
        if "userknn" not in models
        else (
            "; userknn: dense user x user"
            if knn_dense
            else "; userknn: similarities per user block"
        )
    )
    on = (
        f"a seeded sample of ~{users:,} users (<= {cap:,} ratings)"
        if sampled
        else f"all {users:,} users"
    )
    return StagePlan(
        "kfold",
        f"{folds} folds x {len(models)} models ({', '.join(models)}) on {on}{knn}",
        int(data_bytes + max(memory.values())),
        seconds,
        bounded=sampled or ("userknn" in models and not knn_dense),
    )


def _hybrid_bytes(train: float, users: int, items: int) -> float:
    """The default model's largest arrays on ``train`` ratings: its feature rows and indexes,
    and its exact dense similarities up to 12,000 rows (about 3 at once)."""
    from clusterrec.models.neighbour_features import DENSE_SIMILARITY_LIMIT as dense_max

    items, users = min(items, dense_max), min(users, dense_max)
    return _KFOLD_BYTES["clusterrec"] * train + 12 * (items**2 + users**2)


def _kfold_sample(shape: DataShape, config: RunConfig) -> tuple[int, int, bool]:
    """(ratings, users, sampled) of the k-fold stage's data: its seeded sample of users
    under ``[evaluation] max_ratings``, or all."""
    cap = config.evaluation.max_ratings
    sampled = 0 < cap < shape.ratings
    kept = cap if sampled else shape.ratings
    return kept, round(shape.users * kept / max(shape.ratings, 1)), sampled


def ablation_plan(shape: DataShape, config: RunConfig) -> StagePlan:
    """The ablation stage (planned whether or not ``[evaluation] ablation`` is on: the report
    quotes its cost when it is off): 2 splits x 9 fits of the default model, each on 90 % of
    a k-fold training side. A fit costs what the k-fold table's does per rating; the
    averaging presets ("default") about 2.6 times that, the averaging row 1.25 (added to
    "fast") or 1.45 (removed from "default") times the "fast" fit, the autoencoder row 1.44
    times it (added to "fast"; removed from "default", 2.6 - 0.44) (measured on 60,000 ratings
    of the built-in data)."""
    from clusterrec.models.cluster_hybrid import _CORE_DEFAULTS
    from clusterrec.models.registry import HYBRID_PRESETS
    from clusterrec.run.stages.ablation import ABLATION_SPLITS, ABLATION_VALIDATION_SHARE

    settings = config.evaluation
    kept, users, sampled = _kfold_sample(shape, config)
    fit = kept * (settings.folds - 1) / settings.folds * (1 - ABLATION_VALIDATION_SHARE)
    preset = {**_CORE_DEFAULTS, **HYBRID_PRESETS.get(settings.hybrid, {})}
    averages = preset["n_seeds"] * preset["n_snapshots"] > 1
    fits = 7 * (2.6 if averages else 1.0) + (1.45 if averages else 1.25)  # + the averaging row
    fits += 2.6 - 0.44 if averages else 1.44  # the autoencoder row
    splits = min(ABLATION_SPLITS, settings.folds)
    on = f"a seeded sample of ~{users:,} users" if sampled else f"all {users:,} users"
    return StagePlan(
        "ablation",
        f"{splits} validation splits x 9 fits of the default model ({settings.hybrid}) on {on}",
        int(_BASE_BYTES + 200 * shape.ratings + _hybrid_bytes(fit, users, shape.items)),
        _KFOLD_SECONDS["clusterrec"] * fit * fits * splits,
        bounded=sampled,
    )


def _memory_limit(config: RunConfig) -> int:
    if config.plan.memory_limit == "auto":
        return int(0.8 * machine_memory())
    return parse_size(config.plan.memory_limit)


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(total)
