"""The default model's ablation: every variant fitted on exactly the non-validation ratings,
the same validation ratings for every variant of a split, Δ = variant − full, splits inside
the given training folds, fallbacks counted, bad options refused, verdicts from the numbers.

The model runs with tiny settings (2 epochs, 4 factors) on ~2,600 ratings: seconds, not
minutes; the numbers are not what the table is about here, the protocol is."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from helpers import TINY_HYBRID_SETTINGS, random_ratings

from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError
from clusterrec.evaluation.ablation import (
    ABLATION_PARTS,
    AblationResult,
    ablation,
    ablation_variants,
    part_effects,
    validation_mask,
)
from clusterrec.evaluation.splits import kfold_assignments
from clusterrec.models.registry import HYBRID_PRESETS

#: Core settings small enough for a test (added on top of the preset).
TINY = TINY_HYBRID_SETTINGS


def _ratings() -> Ratings:
    """~2,600 ratings of 120 users, plus 6 users and 6 movies with a single rating each (when
    that rating is held out, the fit never sees the user or movie: a fallback)."""
    base = random_ratings(120, 80, 0.25, seed=3, taste_groups=3, cover=True).to_frame()
    lone = pd.DataFrame(
        {
            "user": [f"lone{j}" for j in range(6)] + [f"u{j}" for j in range(6)],
            "item": [f"i{j}" for j in range(6)] + [f"rare{j}" for j in range(6)],
            "rating": 3.0,
        }
    )
    frame = pd.concat([base[["user", "item", "rating"]].astype(str), lone.astype(str)])
    return Ratings.from_frame(frame.assign(rating=frame["rating"].astype(float)))


def _pairs(users: np.ndarray, items: np.ndarray) -> frozenset[tuple[str, str]]:
    return frozenset(zip(map(str, users), map(str, items), strict=True))


@dataclass
class Recorded:
    """What every fit got and every prediction asked for, in call order."""

    result: AblationResult
    ratings: Ratings
    fits: list[dict] = field(default_factory=list)
    predictions: list[frozenset] = field(default_factory=list)

    def per_split(self, split: int, what: str) -> list:
        n = len(self.result.splits) // self.result.n_splits
        return getattr(self, what)[split * n : (split + 1) * n]


def _run_recorded(ratings: Ratings, **options: object) -> Recorded:
    """ablation() with ClusterHybridRecommender.fit / predict wrapped to record their inputs."""
    from clusterrec.models.cluster_hybrid import ClusterHybridRecommender

    fits: list[dict] = []
    predictions: list[frozenset] = []
    fit, predict = ClusterHybridRecommender.fit, ClusterHybridRecommender.predict

    def recording_fit(self, ratings: Ratings, labels: object = None):  # noqa: ANN202
        used = ratings.compact()
        fits.append(
            {
                "pairs": _pairs(used.user_labels[used.user], used.item_labels[used.item]),
                "without": self.without,
                "settings": dict(self.settings),
                "seed": self.seed,
            }
        )
        return fit(self, ratings, labels=labels)

    def recording_predict(self, users, items, *args, **kwargs):  # noqa: ANN001, ANN202
        predictions.append(_pairs(users, items))
        return predict(self, users, items, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ClusterHybridRecommender, "fit", recording_fit)
        patch.setattr(ClusterHybridRecommender, "predict", recording_predict)
        result = ablation(ratings, settings=TINY, n_clusters=2, **options)
    return Recorded(result, ratings, fits, predictions)


@pytest.fixture(scope="module")
def recorded() -> Recorded:
    return _run_recorded(_ratings(), folds=2, seed=4)


# -- what reaches the fits ------------------------------------------------------------------------


def test_every_variant_is_fitted_on_exactly_the_non_validation_ratings(
    recorded: Recorded,
) -> None:
    ratings = recorded.ratings
    every = _pairs(ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    assert len(recorded.fits) == len(recorded.predictions) == 2 * 9
    for split in range(2):
        fits = recorded.per_split(split, "fits")
        validation = recorded.per_split(split, "predictions")[0]
        assert len(validation) == round(0.1 * len(ratings))
        for fitted in fits:
            assert fitted["pairs"] == fits[0]["pairs"]  # the same for every variant
            assert not fitted["pairs"] & validation  # no validation rating reaches a fit
            assert fitted["pairs"] | validation == every  # and nothing else is left out
    assert recorded.per_split(0, "predictions")[0] != recorded.per_split(1, "predictions")[0]


def test_the_validation_ratings_are_the_same_for_every_variant_of_a_split(
    recorded: Recorded,
) -> None:
    for split in range(2):
        asked = recorded.per_split(split, "predictions")
        assert all(pairs == asked[0] for pairs in asked)
    rows = recorded.result.splits
    assert (rows.groupby("split")["n_validation"].nunique() == 1).all()
    assert (rows.groupby("split")["n_fit"].nunique() == 1).all()


def test_each_row_switches_off_its_own_part_with_the_preset_s_settings(
    recorded: Recorded,
) -> None:
    fits = recorded.per_split(0, "fits")
    fast = {**HYBRID_PRESETS["fast"], **TINY}
    assert [f["without"] for f in fits] == [
        (),
        (),
        ("clusters",),
        ("user_neighbours",),
        ("item_neighbours",),
        ("factors",),
        ("implicit",),
        (),
        (),
    ]
    assert [f["seed"] for f in fits] == [4, 5, 4, 4, 4, 4, 4, 4, 4]  # the seed row: the next
    assert all(f["settings"] == fast for f in fits[:-2])
    # "fast" leaves the autoencoder out and averages nothing: those rows add the defaults
    assert fits[-2]["settings"] == {**fast, "autoencoder_weight": 0.15}
    assert fits[-1]["settings"] == {**fast, "n_seeds": 5, "n_snapshots": 3}
    summary = recorded.result.to_frame()
    assert summary["variant"].tolist()[-2:] == [
        "+ item autoencoder (weight 0.15)",
        "+ averaging (5 seeds x 3 snapshots)",
    ]
    assert summary["change"].tolist() == ["none", "seed", *["removed"] * 5, "added", "added"]


def test_every_part_has_a_row_and_averaging_is_removed_when_the_preset_averages() -> None:
    from clusterrec.models.cluster_hybrid import PART_NAMES

    assert set(ABLATION_PARTS) == {*PART_NAMES, "averaging"}
    default = ablation_variants(HYBRID_PRESETS["default"])
    assert [v.part for v in default] == ["", "", *ABLATION_PARTS]
    assert default[-1].name == "− averaging (1 seed, 1 snapshot)"
    assert default[-1].change == "removed"
    assert default[-1].settings == {"n_seeds": 1, "n_snapshots": 1}
    assert (default[-2].without, default[-2].change) == (("autoencoder",), "removed")


# -- the numbers ----------------------------------------------------------------------------------


def test_delta_is_the_variant_minus_the_full_model_of_the_same_split(recorded: Recorded) -> None:
    rows = recorded.result.splits
    for _, split in rows.groupby("split"):
        full = split[split["variant"] == "full"].iloc[0]
        np.testing.assert_allclose(split["delta_rmse"], split["rmse"] - full["rmse"])
        np.testing.assert_allclose(split["delta_mae"], split["mae"] - full["mae"])
    summary = recorded.result.to_frame().set_index("variant")
    for variant, group in rows.groupby("variant"):
        row = summary.loc[variant]
        assert row["delta_rmse"] == pytest.approx(group["delta_rmse"].mean())
        assert row["delta_rmse_min"] == group["delta_rmse"].min()
        assert row["delta_rmse_max"] == group["delta_rmse"].max()
        assert row["rmse_std"] == pytest.approx(np.std(group["rmse"], ddof=1))
    assert (summary.loc["full", ["delta_rmse", "delta_mae"]] == 0).all()
    text = recorded.result.to_markdown()
    assert "never a test fold" in text and "| − clusters |" in text


def test_validation_ratings_the_fit_never_saw_are_counted_as_fallbacks(
    recorded: Recorded,
) -> None:
    rows = recorded.result.splits
    for split in range(2):
        fitted = recorded.per_split(split, "fits")[0]["pairs"]
        validation = recorded.per_split(split, "predictions")[0]
        users, items = {u for u, _ in fitted}, {i for _, i in fitted}
        unseen = sum(u not in users or i not in items for u, i in validation)
        shares = rows.loc[rows["split"] == split, "fallback_share"]
        assert np.allclose(shares, unseen / len(validation))
    assert rows["fallback_share"].max() > 0  # some lone rating was held out


def test_splits_lie_inside_the_training_side_of_their_fold() -> None:
    ratings = _ratings()
    fold_of = kfold_assignments(len(ratings), 3, seed=1)
    run = _run_recorded(ratings, folds=2, assignments=fold_of, seed=1)
    for split in range(2):
        inside = ratings.take(fold_of != split)
        allowed = _pairs(inside.user_labels[inside.user], inside.item_labels[inside.item])
        assert len(allowed) == np.sum(fold_of != split)
        fitted = run.per_split(split, "fits")[0]["pairs"]
        validation = run.per_split(split, "predictions")[0]
        assert fitted | validation == allowed  # the fold's test ratings never take part
        assert not fitted & validation
    assert "the training side of fold s" in run.result.protocol


def test_the_validation_slice_is_seeded_and_of_the_asked_size() -> None:
    mask = validation_mask(1_000, 0.1, seed=3, split=0)
    assert mask.sum() == 100
    assert np.array_equal(mask, validation_mask(1_000, 0.1, seed=3, split=0))
    assert not np.array_equal(mask, validation_mask(1_000, 0.1, seed=3, split=1))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"folds": 0}, r"folds must be a whole number >= 1"),
        ({"folds": True}, r"folds must be a whole number >= 1"),
        ({"validation_share": 0.0}, r"validation_share must be a number between 0 and 1"),
        ({"validation_share": 1.0}, r"validation_share must be a number between 0 and 1"),
        ({"validation_share": math.nan}, r"validation_share must be a number between 0 and 1"),
        ({"hybrid": "huge"}, r"unknown hybrid preset 'huge'; accepted: default, fast"),
        ({"folds": 3, "assignments": np.arange(12) % 2}, r"3 splits need folds 0..2"),
    ],
)
def test_bad_options_are_config_errors(options: dict, message: str) -> None:
    ratings = random_ratings(4, 3, 1.0, seed=0)
    with pytest.raises(ConfigError, match=message):
        ablation(ratings, **options)


# -- what the numbers say -------------------------------------------------------------------------


def _summary(rows: dict[str, tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """variant -> (change, mean Δ, min Δ, max Δ, std Δ), as AblationResult.to_frame has them."""
    parts = {"full": "", "seed": "", "− clusters": "clusters", "− factors": "factors"}
    parts["+ averaging"] = "averaging"
    return pd.DataFrame(
        [
            {
                "variant": name,
                "part": parts[name],
                "change": change,
                "rmse_std": 0.01,
                "delta_rmse": mean,
                "delta_rmse_min": low,
                "delta_rmse_max": high,
                "delta_rmse_std": sd,
            }
            for name, (change, mean, low, high, sd) in rows.items()
        ]
    )


def test_part_effects_judge_each_part_against_the_splits_and_the_seed() -> None:
    summary = _summary(
        {
            "full": ("none", 0, 0, 0, 0),
            "seed": ("seed", 0.0005, -0.0010, 0.0020, 0.002),  # the seed moves RMSE by 0.002
            "− clusters": ("removed", 0.0015, 0.0010, 0.0020, 0.0007),  # below the seed's 0.002
            "− factors": ("removed", 0.0300, 0.0280, 0.0320, 0.0028),
            "+ averaging": ("added", -0.0040, -0.0050, -0.0030, 0.0014),  # helps: Δ < 0
        }
    )
    effects = part_effects(summary).set_index("part")
    assert effects.index.tolist() == ["factors", "averaging", "clusters"]  # by worth
    assert effects.loc["factors", "verdict"] == "helps"
    assert effects.loc["averaging", "worth"] == pytest.approx(0.004)
    assert (effects.loc["averaging", "worth_min"], effects.loc["averaging", "worth_max"]) == (
        pytest.approx(0.003),
        pytest.approx(0.005),
    )
    assert effects.loc["averaging", "verdict"] == "helps"
    assert effects.loc["clusters", "noise"] == pytest.approx(0.002)
    assert effects.loc["clusters", "verdict"] == "within noise"
    worse = summary.assign(
        delta_rmse=[0, 0.0005, -0.004, 0.03, -0.004],
        delta_rmse_min=[0, -0.001, -0.005, 0.028, -0.005],
        delta_rmse_max=[0, 0.002, -0.003, 0.032, -0.003],
    )
    assert part_effects(worse).set_index("part").loc["clusters", "verdict"] == "hurts"
