"""The typed, validated configuration of ``clusterrec run``: every parameter of the method.

A configuration is a TOML file with a top-level ``seed`` and one section per part of the
method ([data], [distances], [clustering], [jaccard], [model], [evaluation],
[recommendations]). Every key has a default, so an empty file is a valid configuration;
:func:`default_toml` prints them all with a comment each. An unknown section or key, or a
value of the wrong type or out of range, is a :class:`~clusterrec.errors.ConfigError` naming
the file, the section and the key, and listing what is accepted.

TOML has no null: the few parameters that can be "absent" take a word instead
(``max_ratings = "none"``: no upper limit; ``n_neighbors = "preset"``: the preset's k).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clusterrec.data.builtin import BUILTIN
from clusterrec.data.formats import FORMATS
from clusterrec.data.synthetic import SIZES
from clusterrec.errors import ConfigError
from clusterrec.models.presets import PRESETS
from clusterrec.models.registry import HYBRID_PRESETS, MODEL_NAMES

__all__ = [
    "ASSIGNMENT_RANGE",
    "AUTO",
    "FORMAT_NAMES",
    "GENERATED_SIZES",
    "KMEANS_METRICS",
    "MATRIX_ALGORITHMS",
    "PRESET_NAMES",
    "SECTIONS",
    "CacheConfig",
    "ClusteringConfig",
    "DataConfig",
    "DistanceConfig",
    "EvaluationConfig",
    "JaccardConfig",
    "ModelConfig",
    "PlanConfig",
    "RecommendationConfig",
    "RunConfig",
    "config_from_mapping",
    "default_toml",
    "load_config",
    "parse_toml",
]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Metrics k-means accepts (over co-rated movies); mirrors clusterrec.clustering.KMEANS_METRICS.
KMEANS_METRICS = ("euclidean", "euclidean_rms", "cosine")
#: Algorithms that cluster on a square distance matrix, for the Jaccard step.
MATRIX_ALGORITHMS = ("kmedoids", "agglomerative")
#: Network presets.
PRESET_NAMES = tuple(PRESETS)
#: Sizes of the built-in generated data.
GENERATED_SIZES = tuple(SIZES)
#: Input formats: "auto" (detected) or a format name.
FORMAT_NAMES = ("auto", *FORMATS)
#: The word of [data] min_ratings / max_ratings for "the range that suits the data".
AUTO = "auto"
#: The assignment's Rmin..Rmax (generated data and files, unless set).
ASSIGNMENT_RANGE = (150, 300)


def _doc(text: str) -> dict:
    """Field metadata: the comment ``--print-config`` writes after the key."""
    return {"doc": text}


@dataclass(frozen=True)
class DataConfig:
    """Reading the ratings and keeping users with Rmin..Rmax ratings."""

    min_ratings: int | str = field(
        default=AUTO,
        metadata=_doc('Rmin: keep users with >= this many ("auto": see below)'),
    )
    max_ratings: int | str | None = field(
        default=AUTO,
        metadata=_doc(
            'Rmax: and <= this many ("none": no upper limit; both "auto": the data\'s own '
            "range, ml-latest-small 20..none, generated data and files the assignment's "
            "150..300; one set: the other keeps the assignment's)"
        ),
    )
    builtin: str = field(
        default="ml-latest-small",
        metadata=_doc(
            "data shipped in the package used when no DATA is given: "
            + " | ".join((*BUILTIN, "none"))
            + ' ("none": generated data)'
        ),
    )
    generated_size: str = field(
        default="seed",
        metadata=_doc(
            'generated data used when no DATA is given and builtin = "none": tiny | seed | full'
        ),
    )
    format: str = field(default="auto", metadata=_doc("auto, or " + " | ".join(FORMAT_NAMES[1:])))
    scale: str = field(default="auto", metadata=_doc('rating scale "LOW,HIGH[,STEP]" or auto'))
    on_bad_record: str = field(default="error", metadata=_doc("error | skip (skip and count)"))
    user_col: str = field(default="", metadata=_doc("CSV/TSV/Parquet column names; empty: guess"))
    item_col: str = ""
    rating_col: str = ""
    time_col: str = ""
    date_format: str = field(default="", metadata=_doc("strptime format of a date column"))

    def __post_init__(self) -> None:
        if (self.min_ratings == AUTO) != (self.max_ratings == AUTO):
            # one of the two set: the other keeps the assignment's value
            if self.min_ratings == AUTO:
                object.__setattr__(self, "min_ratings", ASSIGNMENT_RANGE[0])
            else:
                object.__setattr__(self, "max_ratings", ASSIGNMENT_RANGE[1])
        if self.min_ratings != AUTO:
            self._check_range()
        _one_of(self.builtin, (*BUILTIN, "none"), "data", "builtin")
        _one_of(self.generated_size, GENERATED_SIZES, "data", "generated_size")
        _one_of(self.format, FORMAT_NAMES, "data", "format")
        _one_of(self.on_bad_record, ("error", "skip"), "data", "on_bad_record")

    def user_range(
        self, builtin: str | None = None, generated: str | None = None
    ) -> tuple[int, int | None]:
        """(Rmin, Rmax) applied to the data read: the keys when set; with both "auto", the
        range of the built-in data set ``builtin``, MovieLens' own 20..none for a generated
        MovieLens-shaped size (``generated``: the size's name), else (generated data in the
        assignment's shape, a file) the assignment's 150..300."""
        from clusterrec.data.synthetic import MOVIELENS_SIZES

        if self.min_ratings != AUTO:
            return self.min_ratings, self.max_ratings
        if builtin is not None:
            spec = BUILTIN[builtin]
            return spec.min_ratings, spec.max_ratings
        if generated in MOVIELENS_SIZES:
            return 20, None
        return ASSIGNMENT_RANGE

    def _check_range(self) -> None:
        _at_least(self.min_ratings, 1, "data", "min_ratings")
        if self.max_ratings is not None and self.max_ratings < self.min_ratings:
            raise ConfigError(
                f"[data] max_ratings ({self.max_ratings}) must be >= min_ratings "
                f'({self.min_ratings}), or "none" for no upper limit'
            )

    def reader_options(self) -> dict:
        """Keyword arguments of :func:`clusterrec.data.readers.read_ratings`."""
        return {
            "format": None if self.format == "auto" else self.format,
            "scale": None if self.scale == "auto" else self.scale,
            "on_bad_record": self.on_bad_record,
            "user_col": self.user_col or None,
            "item_col": self.item_col or None,
            "rating_col": self.rating_col or None,
            "time_col": self.time_col or None,
            "date_format": self.date_format or None,
        }


@dataclass(frozen=True)
class DistanceConfig:
    """The three user-user distances (masked Euclidean, masked cosine, Jaccard)."""

    min_overlap: int = field(
        default=1, metadata=_doc("fewer co-rated movies: Euclidean/cosine undefined (set to max)")
    )
    shrinkage: float = field(
        default=2.0,
        metadata=_doc("beta pulling pairs with few co-rated movies toward max (0: as stated)"),
    )
    memory_budget_mib: int = field(
        default=2048, metadata=_doc("largest n x n matrix built; beyond it a user sample is used")
    )
    sample_size: int = field(default=5000, metadata=_doc("users sampled beyond the budget"))

    def __post_init__(self) -> None:
        _at_least(self.min_overlap, 1, "distances", "min_overlap")
        _at_least(self.shrinkage, 0, "distances", "shrinkage")
        _at_least(self.memory_budget_mib, 1, "distances", "memory_budget_mib")
        _at_least(self.sample_size, 10, "distances", "sample_size")


@dataclass(frozen=True)
class ClusteringConfig:
    """Clustering with the masked metrics for each L in min_clusters..max_clusters."""

    metrics: tuple[str, ...] = field(
        default=("euclidean", "cosine"),
        metadata=_doc("masked metrics clustered with k-means: " + ", ".join(KMEANS_METRICS)),
    )
    algorithm: str = field(default="kmeans", metadata=_doc("kmeans | kmedoids | agglomerative"))
    min_clusters: int = field(default=2, metadata=_doc("smallest L of the sweep"))
    max_clusters: int = field(default=7, metadata=_doc("largest L of the sweep"))
    n_init: int = field(default=2, metadata=_doc("k-means restarts (the best is kept)"))
    panels: int = field(default=4, metadata=_doc("how many L the cluster pictures show"))
    embedding_users: int = field(default=2000, metadata=_doc("most users in the 2-D pictures"))

    def __post_init__(self) -> None:
        if not self.metrics or len(set(self.metrics)) != len(self.metrics):
            raise ConfigError("[clustering] metrics must list one or more metrics, each once")
        if "jaccard" in self.metrics:
            raise ConfigError(
                "[clustering] metrics: jaccard is clustered in its own step; set its algorithm "
                "in [jaccard] and list only masked metrics here: " + ", ".join(KMEANS_METRICS)
            )
        for metric in self.metrics:
            _one_of(metric, KMEANS_METRICS, "clustering", "metrics")
        _one_of(self.algorithm, ("kmeans", *MATRIX_ALGORITHMS), "clustering", "algorithm")
        _at_least(self.min_clusters, 2, "clustering", "min_clusters")
        _at_least(self.max_clusters, self.min_clusters, "clustering", "max_clusters")
        _at_least(self.n_init, 1, "clustering", "n_init")
        _at_least(self.panels, 1, "clustering", "panels")
        _at_least(self.embedding_users, 10, "clustering", "embedding_users")

    @property
    def n_clusters(self) -> list[int]:
        """The L values swept."""
        return list(range(self.min_clusters, self.max_clusters + 1))


@dataclass(frozen=True)
class JaccardConfig:
    """The Jaccard clustering, on the square distance matrix, over the same L range."""

    algorithm: str = field(default="kmedoids", metadata=_doc("kmedoids | agglomerative"))

    def __post_init__(self) -> None:
        _one_of(self.algorithm, MATRIX_ALGORITHMS, "jaccard", "algorithm")


@dataclass(frozen=True)
class ModelConfig:
    """Neighbours inside Jaccard clusters and one network per cluster (the users protocol)."""

    n_clusters: int = field(default=5, metadata=_doc("L of the per-cluster networks"))
    n_neighbors: int | None = field(
        default=None, metadata=_doc('k nearest neighbours inside the cluster ("preset": its k)')
    )
    preset: str = field(
        default="default", metadata=_doc("network preset: " + " | ".join(PRESET_NAMES))
    )
    test_share: float = field(default=0.2, metadata=_doc("share of each cluster's users held out"))
    max_rows: int = field(
        default=100_000,
        metadata=_doc(
            "each cluster's network trains on at most this many rows (seeded sample; 0: all)"
        ),
    )
    leaky_comparison: bool = field(
        default=True,
        metadata=_doc(
            "also run the original notebook's leaky evaluation (notebook-leaky) on the same "
            "clusters, shown beside the honest figure (one more training per cluster)"
        ),
    )

    def __post_init__(self) -> None:
        _at_least(self.n_clusters, 1, "model", "n_clusters")
        if self.n_neighbors is not None:
            _at_least(self.n_neighbors, 1, "model", "n_neighbors")
        _one_of(self.preset, PRESET_NAMES, "model", "preset")
        _at_least(self.max_rows, 0, "model", "max_rows")
        if not 0 < self.test_share < 1:
            raise ConfigError(f"[model] test_share must be between 0 and 1, not {self.test_share}")


@dataclass(frozen=True)
class EvaluationConfig:
    """k-fold cross-validation over ratings, the model against the baselines (and, when asked,
    the default model's ablation table)."""

    folds: int = field(default=3, metadata=_doc("number of folds"))
    models: tuple[str, ...] = field(
        default=("clusterrec", "network", "bias", "mean", "userknn"),
        metadata=_doc("compared: " + ", ".join(MODEL_NAMES)),
    )
    hybrid: str = field(
        default="fast",
        metadata=_doc(
            "settings of the default model in this table: fast (one seed, no snapshot "
            "averaging) or default (as in benchmarks/accuracy.py)"
        ),
    )
    max_ratings: int = field(
        default=120_000,
        metadata=_doc(
            "more kept ratings: the table covers a seeded sample of users with at most this "
            "many ratings in all (0: all)"
        ),
    )
    top_n: int = field(default=10, metadata=_doc("cut-off of precision/recall/NDCG"))
    rank_users: int = field(
        default=20, metadata=_doc("users ranked per fold for top-N (seeded sample; 0: all)")
    )
    rank_items: int = field(
        default=10_000,
        metadata=_doc("more items: top-N ranks the items with the most training ratings (0: all)"),
    )
    ablation: bool = field(
        default=False,
        metadata=_doc(
            "also measure the default model's ablation table (each part removed in turn, on "
            "validation slices of 2 of the k-fold training sides; 18 fits, about 3 minutes on "
            "the built-in data)"
        ),
    )

    def __post_init__(self) -> None:
        _at_least(self.folds, 2, "evaluation", "folds")
        if not self.models or len(set(self.models)) != len(self.models):
            raise ConfigError("[evaluation] models must list one or more models, each once")
        for name in self.models:
            _one_of(name, MODEL_NAMES, "evaluation", "models")
        _one_of(self.hybrid, tuple(HYBRID_PRESETS), "evaluation", "hybrid")
        _at_least(self.max_ratings, 0, "evaluation", "max_ratings")
        if 0 < self.max_ratings < 100 * self.folds:
            raise ConfigError(
                f"[evaluation] max_ratings = {self.max_ratings} leaves too few ratings for "
                f"{self.folds} folds; give 0 (all ratings) or at least {100 * self.folds}"
            )
        _at_least(self.top_n, 1, "evaluation", "top_n")
        _at_least(self.rank_users, 0, "evaluation", "rank_users")
        _at_least(self.rank_items, 0, "evaluation", "rank_items")


@dataclass(frozen=True)
class RecommendationConfig:
    """Top-N recommendations for a few sample users, from the saved model."""

    users: int = field(default=3, metadata=_doc("how many sample users (seeded)"))
    n: int = field(default=10, metadata=_doc("recommendations per user"))

    def __post_init__(self) -> None:
        _at_least(self.users, 0, "recommendations", "users")
        _at_least(self.n, 1, "recommendations", "n")


@dataclass(frozen=True)
class CacheConfig:
    """The stage cache's bound: after a run, least recently used entries go until it fits."""

    max_size: str = field(default="10GiB", metadata=_doc('e.g. "500MB", "10GiB"; "none": no bound'))

    def __post_init__(self) -> None:
        _check_size(
            self.max_size,
            "cache",
            "max_size",
            "none",
            'give e.g. "500MB", "10GiB", or "none" for no bound',
        )


@dataclass(frozen=True)
class PlanConfig:
    """The plan made before the heavy stages: a run whose estimated peak memory exceeds the
    limit is refused at once, naming the settings to change."""

    memory_limit: str = field(
        default="auto",
        metadata=_doc('"auto" (80% of the machine\'s memory or cgroup limit) or e.g. "8GiB"'),
    )

    def __post_init__(self) -> None:
        _check_size(
            self.memory_limit, "plan", "memory_limit", "auto", 'give e.g. "8GiB", or "auto"'
        )


def _check_size(value: str, section: str, key: str, word: str, hint: str) -> None:
    """``value`` is ``word`` or a size :func:`clusterrec.run.cache.parse_size` reads."""
    if value == word:
        return
    from clusterrec.run.cache import parse_size

    try:
        parse_size(value)
    except ConfigError:
        raise ConfigError(f"[{section}] {key} = {value!r} is not a size; {hint}") from None


@dataclass(frozen=True)
class RunConfig:
    """Everything ``clusterrec run`` does, with one seed for every random step."""

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    distances: DistanceConfig = field(default_factory=DistanceConfig)
    clustering: ClusteringConfig = field(default_factory=ClusteringConfig)
    jaccard: JaccardConfig = field(default_factory=JaccardConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    recommendations: RecommendationConfig = field(default_factory=RecommendationConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)

    def __post_init__(self) -> None:
        _at_least(self.seed, 0, "top level", "seed")

    def as_dict(self) -> dict:
        """Plain JSON-able values (tuples as lists, absent values as None)."""
        return _plain(dataclasses.asdict(self))

    def to_toml(self) -> str:
        """The configuration as TOML, with a comment per key; :func:`parse_toml` reads it back."""
        return _to_toml(self)


#: The sections of a run configuration, by name.
SECTIONS: dict[str, type] = {
    f.name: f.default_factory for f in dataclasses.fields(RunConfig) if f.name != "seed"
}
#: Words standing for None in TOML, per optional key.
_NONE_WORDS = {("data", "max_ratings"): "none", ("model", "n_neighbors"): "preset"}
#: Keys that also take the word "auto".
_AUTO_KEYS = {("data", "min_ratings"), ("data", "max_ratings")}


# -- reading ---------------------------------------------------------------------------------------


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> RunConfig:
    """The configuration in ``path`` (None: the defaults) with ``KEY=VALUE`` overrides applied.

    An override's key is ``seed`` or ``section.key``; its value is read as a TOML value
    (``3``, ``"notebook"``, ``["euclidean"]``), or as a plain string when it is not one.
    """
    table: dict = {}
    source = "the configuration"
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except UnicodeDecodeError as error:
            line = path.read_bytes().count(b"\n", 0, error.start) + 1
            raise ConfigError(f"{path}, line {line}: not UTF-8 text (TOML is UTF-8)") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot be read ({error.strerror or error})") from None
        table = _parse(text, source)
    for override in overrides:
        _apply_override(table, override)
    return config_from_mapping(table, source)


def parse_toml(text: str, source: str = "the configuration") -> RunConfig:
    """A configuration from TOML text."""
    return config_from_mapping(_parse(text, source), source)


def config_from_mapping(table: Mapping, source: str = "the configuration") -> RunConfig:
    """A validated configuration from nested dicts (as read from TOML)."""
    unknown = [key for key in table if key != "seed" and key not in SECTIONS]
    if unknown:
        key = unknown[0]
        what = "section" if isinstance(table[key], Mapping) else "top-level key"
        raise ConfigError(
            f"{source}: unknown {what} {key!r}; accepted: seed and the sections "
            + ", ".join(f"[{name}]" for name in SECTIONS)
        )
    values: dict = {}
    if "seed" in table:
        values["seed"] = _coerce(table["seed"], int, "top level", "seed", source)
    for name, cls in SECTIONS.items():
        section = table.get(name, {})
        if not isinstance(section, Mapping):
            raise ConfigError(f"{source}: {name!r} must be a section [{name}], not a value")
        values[name] = _section(cls, name, section, source)
    try:
        return RunConfig(**values)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML ({error})") from None


def _section(cls: type, name: str, table: Mapping, source: str) -> object:
    """One section's dataclass from its TOML table; unknown keys and bad types are errors."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            raise ConfigError(
                f"{source}: unknown key {key!r} in section [{name}]; accepted keys: "
                + ", ".join(fields)
            )
    hints = typing.get_type_hints(cls)
    values = {key: _coerce(value, hints[key], name, key, source) for key, value in table.items()}
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def _coerce(value: object, kind: object, section: str, key: str, source: str) -> object:
    """``value`` checked against the annotation ``kind`` (and a None word turned into None)."""
    where = f"{source}: [{section}] {key}" if section != "top level" else f"{source}: {key}"
    if (section, key) in _AUTO_KEYS:
        if value == AUTO:
            return AUTO
        kind = int | None  # otherwise a number (or the None word)
    none_word = _NONE_WORDS.get((section, key))
    if none_word is not None and value == none_word:
        return None
    args = typing.get_args(kind)
    if type(None) in args:
        kind = next(a for a in args if a is not type(None))
    if typing.get_origin(kind) is tuple:
        item_kind = typing.get_args(kind)[0]
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, not {value!r}")
        return tuple(_scalar(v, item_kind, where) for v in value)
    try:
        return _scalar(value, kind, where)
    except ConfigError:
        if none_word is not None:
            expected = f'{_KIND_NAMES[kind]} or "{none_word}"'
            raise ConfigError(f"{where} must be {expected}, not {value!r}") from None
        raise


_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _scalar(value: object, kind: type, where: str) -> object:
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, not {value!r}")
        return float(value)
    is_bool = isinstance(value, bool)
    if kind in (int, str, bool) and isinstance(value, kind) and (kind is bool or not is_bool):
        return value
    raise ConfigError(f"{where} must be {_KIND_NAMES[kind]}, not {value!r}")


def _apply_override(table: dict, override: str) -> None:
    """Set ``section.key=value`` (or ``seed=value``) in the nested dict ``table``."""
    key, sep, text = override.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts) or len(parts) > 2:
        raise ConfigError(
            f"--set {override!r} not understood: give KEY=VALUE with KEY 'seed' or "
            "'section.key', e.g. model.preset=notebook"
        )
    try:
        value = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    target = table
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is not a section")
    target[parts[-1]] = value


# -- writing --------------------------------------------------------------------------------------


def default_toml() -> str:
    """The default configuration as TOML, every key with a comment (``--print-config``)."""
    return RunConfig().to_toml()


def _to_toml(config: RunConfig) -> str:
    lines = [
        "# clusterrec run configuration: every parameter of the method, with its default.",
        "# Unknown sections and keys are an error. Use: clusterrec run DATA --config run.toml",
        "",
        f"seed = {config.seed}  # every random step (generated data, clusterings, splits, "
        "networks)",
    ]
    for name in SECTIONS:
        section = getattr(config, name)
        lines += ["", f"# {type(section).__doc__.splitlines()[0]}", f"[{name}]"]
        for item in dataclasses.fields(section):
            value = getattr(section, item.name)
            text = _toml_value(value, _NONE_WORDS.get((name, item.name)))
            doc = item.metadata.get("doc")
            lines.append(f"{item.name} = {text}" + (f"  # {doc}" if doc else ""))
    return "\n".join(lines) + "\n"


def _toml_value(value: object, none_word: str | None) -> str:
    if value is None:
        return f'"{none_word}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v, none_word) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# -- checks ---------------------------------------------------------------------------------------


def _at_least(value: int, low: int, section: str, key: str) -> None:
    if value < low:
        where = f"[{section}] {key}" if section != "top level" else key
        raise ConfigError(f"{where} must be >= {low}, not {value}")


def _one_of(value: str, accepted: Sequence[str], section: str, key: str) -> None:
    if value not in accepted:
        raise ConfigError(
            f"[{section}] {key}: {value!r} is not accepted; accepted: {', '.join(accepted)}"
        )
