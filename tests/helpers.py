"""Helpers shared by the test modules: small data sets and a tiny end-to-end run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from clusterrec.data.ratings import Ratings, RatingScale

if TYPE_CHECKING:  # the run is imported where it is used: data helpers stay light
    from clusterrec.run.config import RunConfig
    from clusterrec.run.pipeline import RunResult

# -- small random data ----------------------------------------------------------------------------


def random_ratings(
    n_users: int = 60,
    n_items: int = 40,
    density: float = 0.3,
    seed: int = 0,
    *,
    cover: bool = False,
    every_user: int = 0,
    common_items: int = 0,
    taste_groups: int = 0,
    levels: Sequence[float] | None = None,
    scale: RatingScale | None = None,
) -> Ratings:
    """Random ratings of users ``u0..`` on items ``i0..``: each pair rated with probability
    ``density``, then the guarantees asked for, all drawn from one ``seed``.

    Guarantees (any combination):
        cover: every user and every item has a rating (one random item per user, then one
            random rater per item).
        every_user: user u also rates items u, u+1, ... (mod n_items): at least this many each.
        common_items: every user rates items i0..i{common_items-1}.
    Values:
        taste_groups: 0 for ``levels`` drawn uniformly; g >= 2 for g planted groups on 1..5
            (user u in group u mod g likes the items i with i mod g == u mod g: mean 4 on
            them, 2 on the others, normal noise 0.7, rounded and clipped to 1..5).
        levels: the values drawn when there are no groups (default 1, 2, 3, 4, 5).
        scale: passed to `Ratings.from_records` (default: detected from the values).
    """
    rng = np.random.default_rng(seed)
    rated = rng.random((n_users, n_items)) < density
    if cover:
        rated[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
        rated[rng.integers(0, n_users, n_items), np.arange(n_items)] = True
    for shift in range(every_user):
        rated[np.arange(n_users), (np.arange(n_users) + shift) % n_items] = True
    rated[:, :common_items] = True
    users, items = np.nonzero(rated)
    if taste_groups:
        if levels is not None:
            raise ValueError("taste groups rate on 1..5; give either taste_groups or levels")
        group = np.arange(n_users) % taste_groups
        likes = (np.arange(n_items)[None, :] % taste_groups) == group[:, None]
        noise = rng.normal(0, 0.7, rated.shape)
        values = np.clip(np.rint(3 + np.where(likes, 1.0, -1.0) + noise), 1, 5)[users, items]
    else:
        choices = np.arange(1.0, 6.0) if levels is None else np.asarray(levels, np.float64)
        values = choices[rng.integers(0, len(choices), len(users))]
    return Ratings.from_records(
        [f"u{u}" for u in users], [f"i{i}" for i in items], values, scale=scale
    )


# -- small ratings files --------------------------------------------------------------------------

#: Three records in the IMDB layout of the assignment's Dataset.npy (user, movie, rating, date).
IMDB_LINES = [
    "ur1,tt0000001,10,16 January 2005",
    "ur1,tt0000002,7,5 March 2010",
    "ur2,tt0000001,3,1 December 1999",
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    """``text`` written to ``tmp_path / name`` (UTF-8); returns the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def frame_of(ratings: Ratings) -> list[tuple]:
    """(user, item, rating, date or None) of each record, for comparing what was read."""
    frame = ratings.to_frame()
    return list(
        zip(
            frame["user"].astype(str),
            frame["item"].astype(str),
            frame["rating"].tolist(),
            frame["time"].dt.strftime("%Y-%m-%d") if "time" in frame else [None] * len(frame),
            strict=True,
        )
    )


# -- a tiny end-to-end run ------------------------------------------------------------------------

#: A run small enough for tests: tiny generated data, L 2..3, 2 folds, 2 models.
TINY = {
    "data": {"builtin": "none", "generated_size": "tiny", "min_ratings": 5, "max_ratings": 60},
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
    from clusterrec.run.config import config_from_mapping

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
    from clusterrec.run.pipeline import run_pipeline

    cache, home = shared_folders(factory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        config = kwargs.pop("config", None) or tiny_config()
        return run_pipeline(config, kwargs.pop("data", None), out, cache_dir=cache, **kwargs)


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """``clusterrec ARGV``: (exit status, stdout, stderr); argparse's exits included."""
    from clusterrec.cli import main

    try:
        status = main(list(argv))
    except SystemExit as exit_:
        status = int(exit_.code)
    out, err = capsys.readouterr()
    return status, out, err


#: Core settings of the default model small enough for a test (on top of any preset).
TINY_HYBRID_SETTINGS = {
    "epochs": 2,
    "n_factors": 4,
    "hidden": 8,
    "n_neighbors": 5,
    "n_item_neighbors": 5,
    "batch_size": 512,
    "autoencoder_hidden": 8,
}
