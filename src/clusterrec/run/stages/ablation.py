"""Stage ``ablation`` (``[evaluation] ablation = true``): the default model's parts removed in
turn, on validation slices of the k-fold stage's training sides, never its test folds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clusterrec._files import read_json, write_csv, write_json
from clusterrec._progress import ProgressArg
from clusterrec.data.ratings import Ratings
from clusterrec.run.config import RunConfig

__all__ = [
    "ABLATION_SPLITS",
    "ABLATION_VALIDATION_SHARE",
    "AblationStageResult",
    "ablation_params",
    "compute_ablation",
]

#: Splits of the run's ablation: the training sides of the k-fold stage's first folds.
ABLATION_SPLITS = 2
#: Share of each split held out as validation.
ABLATION_VALIDATION_SHARE = 0.1


@dataclass(frozen=True)
class AblationStageResult:
    """``summary``: a row per variant (full, full with the next seed, each part removed or
    added); ``splits``: a row per split and variant; ``protocol``: how they were obtained."""

    protocol: str
    summary: pd.DataFrame
    splits: pd.DataFrame

    def save(self, folder: Path) -> Path:
        write_csv(folder / "summary.csv", self.summary)
        write_csv(folder / "splits.csv", self.splits)
        write_json(folder / "ablation.json", {"protocol": self.protocol})
        return folder

    @classmethod
    def load(cls, folder: Path) -> AblationStageResult:
        meta = read_json(folder / "ablation.json")
        return cls(meta["protocol"], _read(folder / "summary.csv"), _read(folder / "splits.csv"))


def _read(path: Path) -> pd.DataFrame:
    """A saved table, its text columns as text (the full model's empty part stays "")."""
    frame = pd.read_csv(path)
    for column in ("variant", "part", "change", "what"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def ablation_params(data_key: str, config: RunConfig) -> dict:
    """What the stage depends on: the data, L, the k-fold sample and folds, the preset's
    settings (not only its name) and the seed."""
    from clusterrec.models.registry import HYBRID_PRESETS

    settings = config.evaluation
    return {
        "data": data_key,
        "n_clusters": config.model.n_clusters,
        "folds": settings.folds,
        "max_ratings": settings.max_ratings,
        "hybrid": settings.hybrid,
        "hybrid_settings": HYBRID_PRESETS[settings.hybrid],
        "splits": ABLATION_SPLITS,
        "validation_share": ABLATION_VALIDATION_SHARE,
        "seed": config.seed,
    }


def compute_ablation(
    ratings: Ratings, config: RunConfig, progress: ProgressArg = False
) -> AblationStageResult:
    """The ablation on the k-fold stage's ratings (its seeded sample under [evaluation]
    max_ratings): split s is the training side of the k-fold stage's fold s, with the same
    seeded fold assignment, and holds out its own validation slice."""
    from clusterrec.evaluation.ablation import ablation
    from clusterrec.evaluation.splits import kfold_assignments
    from clusterrec.models.registry import HYBRID_PRESET_WORDS
    from clusterrec.run.stages.kfold import sample_by_ratings

    settings = config.evaluation
    kept_users = ratings.n_users
    ratings = sample_by_ratings(ratings, settings.max_ratings, config.seed)
    splits = min(ABLATION_SPLITS, settings.folds)
    result = ablation(
        ratings,
        folds=splits,
        validation_share=ABLATION_VALIDATION_SHARE,
        hybrid=settings.hybrid,
        n_clusters=config.model.n_clusters,
        assignments=kfold_assignments(len(ratings), settings.folds, config.seed),
        seed=config.seed,
        progress=progress,
    )
    folds = " and ".join(str(s + 1) for s in range(splits))
    protocol = (
        f"{result.protocol} The fold assignment is the k-fold table's own (its folds {folds} "
        f"of {settings.folds}); the table chooses nothing. The run's Jaccard clusters are not "
        "reused: they were made from all kept ratings, the validation slices included. The "
        f"{settings.hybrid!r} settings: {HYBRID_PRESET_WORDS[settings.hybrid]}."
    )
    if ratings.n_users < kept_users:
        protocol += (
            f" As for the k-fold table, a seeded sample of {ratings.n_users:,} of the "
            f"{kept_users:,} kept users, all their {len(ratings):,} ratings ([evaluation] "
            "max_ratings)."
        )
    return AblationStageResult(protocol, result.to_frame(), result.splits)
