"""Stage ``kfold``: k-fold cross-validation of the model and the baselines on the same folds
(each fold clusters its own training data: nothing of a held-out rating reaches training)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clusterrec._files import read_json, write_csv, write_json
from clusterrec._progress import ProgressArg
from clusterrec.data.ratings import Ratings
from clusterrec.run.config import RunConfig
from clusterrec.run.stages.networks import model_params

__all__ = [
    "KFoldResult",
    "compute_kfold",
    "kfold_params",
    "sample_by_ratings",
]


@dataclass(frozen=True)
class KFoldResult:
    """``summary``: a row per model (mean and std over folds of every metric); ``folds``: a
    row per fold and model; ``protocol`` and ``ranking``: how the numbers were obtained."""

    protocol: str
    ranking: str
    summary: pd.DataFrame
    folds: pd.DataFrame

    def save(self, folder: Path) -> Path:
        write_csv(folder / "folds.csv", self.folds)
        write_csv(folder / "summary.csv", self.summary)
        write_json(folder / "kfold.json", {"protocol": self.protocol, "ranking": self.ranking})
        return folder

    @classmethod
    def load(cls, folder: Path) -> KFoldResult:
        meta = read_json(folder / "kfold.json")
        return cls(
            meta["protocol"],
            meta["ranking"],
            pd.read_csv(folder / "summary.csv"),
            pd.read_csv(folder / "folds.csv"),
        )


def kfold_params(data_key: str, config: RunConfig) -> dict:
    model = model_params(config)
    model.pop("max_rows")  # the networks stage's bound; the k-fold models train on all rows
    evaluation = dataclasses.asdict(config.evaluation)
    evaluation.pop("ablation")  # its own stage: turning it on or off reuses this one
    return {"data": data_key, "model": model, "evaluation": evaluation}


def compute_kfold(
    ratings: Ratings, config: RunConfig, progress: ProgressArg = False
) -> KFoldResult:
    """The top-N ranking covers a seeded sample of ``rank_users`` users per fold (all of them
    when 0)."""
    from clusterrec.evaluation.cross_validation import cross_validate
    from clusterrec.models.registry import HYBRID_PRESET_WORDS, comparison_models

    settings = config.evaluation
    kept_users = ratings.n_users
    ratings = sample_by_ratings(ratings, settings.max_ratings, config.seed)
    result = cross_validate(
        ratings,
        comparison_models(
            settings.models,
            n_clusters=config.model.n_clusters,
            n_neighbors=config.model.n_neighbors,
            preset=config.model.preset,
            hybrid=settings.hybrid,
            seed=config.seed,
        ),
        folds=settings.folds,
        seed=config.seed,
        top_n=settings.top_n,
        rank_users=settings.rank_users,
        rank_items=settings.rank_items,
        progress=progress,
    )
    ranking = (
        "all users with a relevant held-out rating"
        if settings.rank_users == 0
        else f"a seeded sample of at most {settings.rank_users} users with a relevant "
        "held-out rating per fold"
    )
    protocol = result.protocol
    if ratings.n_users < kept_users:
        protocol += (
            f" The table covers a seeded sample of {ratings.n_users:,} of the {kept_users:,} "
            f"kept users, all their {len(ratings):,} ratings ([evaluation] max_ratings; 0: all)."
        )
    if "clusterrec" in settings.models:
        protocol += (
            f" The default model (clusterrec) runs with its {settings.hybrid!r} settings: "
            f"{HYBRID_PRESET_WORDS[settings.hybrid]}."
        )
    return KFoldResult(protocol, ranking, result.to_frame().reset_index(), result.folds)


def sample_by_ratings(ratings: Ratings, max_ratings: int, seed: int) -> Ratings:
    """All ratings of a seeded sample of users holding at most ``max_ratings`` ratings in all
    (users drawn in a seeded order, each taken while the total stays within the bound; every
    user when there are not more ratings, or when ``max_ratings`` is 0): the k-fold table's
    bounded form on large data (its cost grows with the ratings, not the users)."""
    import numpy as np

    if max_ratings == 0 or len(ratings) <= max_ratings:
        return ratings
    rng = np.random.default_rng([seed, 0x6B666F6C64])  # "kfold": its own stream of the seed
    order = rng.permutation(ratings.n_users)
    counts = np.bincount(ratings.user, minlength=ratings.n_users)
    chosen = np.zeros(ratings.n_users, dtype=bool)
    room = max_ratings
    for user in order:  # a user who does not fit is skipped; later, lighter ones may
        if counts[user] <= room:
            chosen[user] = True
            room -= counts[user]
    return ratings.take(chosen[ratings.user]).compact()
