"""Helpers shared by the test modules: small data sets and a tiny end-to-end run."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterrec.run.config import RunConfig, config_from_mapping
from clusterrec.run.pipeline import RunResult, run_pipeline

#: A run small enough for tests: tiny generated data, L 2..3, 2 folds, 2 models.
TINY = {
    "data": {"generated_size": "tiny", "min_ratings": 5, "max_ratings": 60},
    "clustering": {"min_clusters": 2, "max_clusters": 3, "n_init": 1, "panels": 2},
    "model": {"n_clusters": 2},
    "evaluation": {"folds": 2, "models": ["clusterrec", "bias"], "rank_users": 5},
    "recommendations": {"users": 2, "n": 3},
}
COMPUTING_STAGES = (
    "data",
    "distances-euclidean",
    "distances-cosine",
    "distances-jaccard",
    "clustering-euclidean",
    "clustering-cosine",
    "clustering-jaccard",
    "evidence",
    "networks",
    "kfold",
    "recommendations",
)


def tiny_config(**changes: dict) -> RunConfig:
    """TINY with some sections' keys replaced."""
    table = {name: dict(values) for name, values in TINY.items()}
    for section, values in changes.items():
        table.setdefault(section, {}).update(values)
    return config_from_mapping(table)


def shared_folders(factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(stage cache, cache home for the generated data), shared by every test module."""
    base = factory.getbasetemp()
    return base / "clusterrec-stage-cache", base / "clusterrec-home"


def tiny_run(factory: pytest.TempPathFactory, out: Path, **kwargs: object) -> RunResult:
    """run_pipeline on TINY with the session's shared stage cache and generated-data home."""
    cache, home = shared_folders(factory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        config = kwargs.pop("config", None) or tiny_config()
        return run_pipeline(config, kwargs.pop("data", None), out, cache_dir=cache, **kwargs)
