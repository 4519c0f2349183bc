"""Stage ``recommendations``: top-n movies for a few seeded sample users from the saved model,
and each user's own best-rated movies beside them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clusterrec._files import write_csv
from clusterrec.data.ratings import Ratings
from clusterrec.run.config import RunConfig
from clusterrec.run.stages.networks import NetworksResult

__all__ = [
    "RecommendationResult",
    "compute_recommendations",
    "recommendation_params",
]


@dataclass(frozen=True)
class RecommendationResult:
    """``recommendations``: user, rank, item, predicted_rating, fallback, test_user;
    ``profiles``: each sample user's best-rated movies (user, item, rating)."""

    recommendations: pd.DataFrame
    profiles: pd.DataFrame

    def save(self, folder: Path) -> Path:
        write_csv(folder / "recommendations.csv", self.recommendations)
        write_csv(folder / "profiles.csv", self.profiles)
        return folder

    @classmethod
    def load(cls, folder: Path) -> RecommendationResult:
        def read(name: str) -> pd.DataFrame:
            return pd.read_csv(folder / name, dtype={"user": str, "item": str})

        return cls(read("recommendations.csv"), read("profiles.csv"))


def recommendation_params(networks_key: str, config: RunConfig) -> dict:
    return {
        "networks": networks_key,
        "settings": dataclasses.asdict(config.recommendations),
        "seed": config.seed,
    }


def compute_recommendations(
    ratings: Ratings, networks: NetworksResult, config: RunConfig
) -> RecommendationResult:
    """From the model the networks stage saved (``ClusterNeighborRecommender.load``)."""
    settings = config.recommendations
    model = networks.load_model()
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
    no_profiles = pd.DataFrame(columns=["user", "item", "rating"])
    return RecommendationResult(
        pd.concat(tables) if tables else empty,
        pd.concat(profiles) if profiles else no_profiles,
    )


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
