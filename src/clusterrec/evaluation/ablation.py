"""The default model's ablation: each part removed in turn, measured on validation slices.

Protocol of :func:`ablation`: ``folds`` seeded splits of the ratings given (the caller gives
training data only; with ``assignments``, split s uses only the training side of fold s, so
that fold's test ratings never take part). Each split holds out a seeded ``validation_share``
of its ratings as validation; the full default model
(:class:`~clusterrec.models.cluster_hybrid.ClusterHybridRecommender` with the settings of
``HYBRID_PRESETS[hybrid]``) and one variant per part are fitted on the rest and scored on the
same validation ratings, so the differences are paired per split; the full model fitted
with the next seed shows how far the seed alone moves them. The parts are the model's
clusters, user neighbours, item neighbours, factors and implicit feedback (each switched off
with ``without=(part,)``), the item autoencoder in the average and the averaging over seeds
and snapshots: each removed (no autoencoder; 1 seed, 1 snapshot) when the settings have it,
added (the model's default weight; its default 5 x 3) when they do not, as with the ``fast``
preset. The table chooses nothing; it says what each part is worth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clusterrec._progress import ProgressArg, Steps
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.metrics import mae, rmse

__all__ = [
    "ABLATION_PARTS",
    "PART_WORDS",
    "AblationResult",
    "ablation",
    "part_effects",
]

#: The parts of the default model an ablation varies, in table order.
ABLATION_PARTS = (
    "clusters",
    "user_neighbours",
    "item_neighbours",
    "factors",
    "implicit",
    "autoencoder",
    "averaging",
)
#: What the model lacks without each part (averaging: see :func:`_averaging_variant`).
PART_WORDS = {
    "clusters": "one cluster of all users: no cluster embedding or per-cluster head, "
    "neighbours from all users",
    "user_neighbours": "no features from the nearest users' ratings of the movie",
    "item_neighbours": "no features from the user's own ratings of the most similar movies",
    "factors": "no user and movie factors: biases and the cluster-neighbour network only",
    "implicit": "no implicit feedback (the movies a user rated, the users who rated a movie)",
    "autoencoder": "the networks alone, without the item autoencoder in the average",
}
#: Short names of the parts, for row labels and sentences.
_PART_NAMES = {
    "clusters": "clusters",
    "user_neighbours": "user neighbours",
    "item_neighbours": "item neighbours",
    "factors": "factors",
    "implicit": "implicit feedback",
    "autoencoder": "item autoencoder",
    "averaging": "averaging",
}
#: Columns of each (split, variant) row that the summary averages.
_MEASURES = ("rmse", "mae", "fallback_share", "fit_seconds")


@dataclass(frozen=True)
class _Variant:
    """One row of the table: the model with ``without`` parts off and ``settings`` on top."""

    name: str
    part: str
    change: str  # "none" (the full model), "seed" (it again, another seed), "removed", "added"
    without: tuple[str, ...]
    settings: dict
    words: str
    seed_offset: int = 0


@dataclass
class AblationResult:
    """Per-split scores of the full model and of each variant, and how they were obtained.

    ``splits`` has one row per (split, variant): variant (the row's label), part, change
    ("none", "removed", "added"), rmse, mae, fallback_share (validation ratings of users or
    movies the fit never saw), fit_seconds, n_fit, n_validation, and delta_rmse / delta_mae
    (variant minus the full model of the same split). :meth:`to_frame` summarises them.
    """

    splits: pd.DataFrame
    n_splits: int
    validation_share: float
    hybrid: str
    seed: int
    n_ratings: int
    from_folds: bool = False
    metadata: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per variant (full first): mean and std (ddof=1, NaN with one split) of RMSE
        and MAE over splits, the paired deltas' mean, min and max, fallback share, fit seconds."""
        rows = []
        for name, group in self.splits.groupby("variant", sort=False):
            row = {
                "variant": name,
                "part": group["part"].iloc[0],
                "change": group["change"].iloc[0],
                "what": group["what"].iloc[0],
            }
            for column in ("rmse", "mae"):
                values = group[column].to_numpy(dtype=np.float64)
                row[column] = float(values.mean())
                row[f"{column}_std"] = _std(values)
            for column in ("delta_rmse", "delta_mae"):
                values = group[column].to_numpy(dtype=np.float64)
                row[column] = float(values.mean())
                row[f"{column}_std"] = _std(values)
                row[f"{column}_min"] = float(values.min())
                row[f"{column}_max"] = float(values.max())
            row["fallback_share"] = float(group["fallback_share"].mean())
            row["fit_seconds"] = float(group["fit_seconds"].mean())
            row["n_fit"] = float(group["n_fit"].mean())
            row["n_validation"] = float(group["n_validation"].mean())
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def protocol(self) -> str:
        """One sentence naming how the numbers were obtained."""
        return ablation_protocol(
            n_splits=self.n_splits,
            validation_share=self.validation_share,
            hybrid=self.hybrid,
            seed=self.seed,
            from_folds=self.from_folds,
            given_labels=bool(self.metadata.get("given_labels")),
            n_clusters=int(self.metadata.get("n_clusters", 5)),
            averaging_added=bool((self.splits["change"] == "added").any()),
        )

    def to_markdown(self, digits: int = 4) -> str:
        """A Markdown table (mean ± std per variant, Δ with its range over splits) under the
        protocol sentence."""
        frame = self.to_frame()
        header = ["variant", "RMSE", "MAE", "Δ RMSE", "Δ MAE", "fallback", "fit s"]
        lines = [
            f"Protocol: {self.protocol}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        ]
        for row in frame.to_dict("records"):
            cells = [
                row["variant"],
                _mean_sd(row["rmse"], row["rmse_std"], digits),
                _mean_sd(row["mae"], row["mae_std"], digits),
                delta_text(row, "rmse", digits),
                delta_text(row, "mae", digits),
                f"{row['fallback_share']:.2%}",
                f"{row['fit_seconds']:.1f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        """The summary under its protocol sentence (how Jupyter shows the result)."""
        from clusterrec._html import frame_html

        return frame_html(self.to_frame().set_index("variant"), f"Protocol: {self.protocol}")


def ablation_protocol(
    *,
    n_splits: int,
    validation_share: float,
    hybrid: str,
    seed: int,
    from_folds: bool,
    given_labels: bool,
    n_clusters: int,
    averaging_added: bool = False,
) -> str:
    """The protocol sentence of an ablation (see :attr:`AblationResult.protocol`)."""
    splits = "one seeded split" if n_splits == 1 else f"{n_splits} seeded splits"
    where = (
        " (split s: the training side of fold s of the given fold assignment, so no split "
        "sees that fold's test ratings)"
        if from_folds
        else ""
    )
    clusters = (
        "the given clusters"
        if given_labels
        else f"its own Jaccard k-medoids clusters of the ratings it is fitted on (L = {n_clusters})"
    )
    spread = " Standard deviations over splits (ddof=1)." if n_splits > 1 else " One split."
    return (
        f"Ablation on {splits} of the training ratings{where}: each split holds out a seeded "
        f"{validation_share:.0%} validation slice, never a test fold; the default model "
        f"(clusterrec, {hybrid!r} settings, seed {seed}), the same model with seed "
        f"{seed + 1} (the seed's own effect) and each variant with one part removed "
        "(averaging: removed or added) are fitted on the rest, each with "
        f"{clusters}, and scored on the same validation ratings; Δ is variant minus full per "
        "split (mean, and the smallest and largest over splits). Validation ratings of users "
        "or movies the fit never saw fall back to the bias baseline and are counted "
        "(fallback)."
        + (
            f" The {hybrid!r} settings average nothing, so the averaging row adds the model's "
            "default averaging instead of removing it (there, Δ below 0 means averaging helps)."
            if averaging_added
            else ""
        )
        + spread
    )


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def _mean_sd(mean: float, sd: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if math.isfinite(sd) else f"{mean:.{digits}f}"


def delta_text(row: Mapping, measure: str, digits: int = 4) -> str:
    """``+0.0031 (+0.0020..+0.0042)``: a summary row's mean Δ with its range over splits; "–"
    for the full model."""
    if row["change"] == "none":
        return "–"
    mean, low, high = (row[f"delta_{measure}{end}"] for end in ("", "_min", "_max"))
    if low == high:
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} ({low:+.{digits}f}..{high:+.{digits}f})"


# -- the ablation ---------------------------------------------------------------------------------


def ablation(
    ratings: Ratings,
    *,
    folds: int = 2,
    validation_share: float = 0.1,
    hybrid: str = "fast",
    n_clusters: int = 5,
    labels: object = None,
    settings: Mapping | None = None,
    assignments: np.ndarray | None = None,
    seed: int = 0,
    progress: ProgressArg = False,
) -> AblationResult:
    """Each part of the default model removed in turn, on validation slices (module docstring).

    Args:
        ratings: training ratings only; every split and validation slice lies inside them.
        folds: number of splits (>= 1); each holds out its own validation slice.
        validation_share: share of a split's ratings held out as validation, in (0, 1).
        hybrid: the default model's settings, a key of ``HYBRID_PRESETS`` ("fast", "default").
        n_clusters: L of the model's Jaccard clusters (ignored when ``labels`` are given).
        labels: one cluster 0..L-1 per user of ``ratings`` (order of ``ratings.user_labels``)
            for every fit; they must not come from the validation ratings. Default: each fit
            clusters its own ratings.
        settings: core settings applied to every variant on top of the preset (e.g. fewer
            ``epochs`` for a quick look); the averaging row overrides n_seeds / n_snapshots.
        assignments: a fold number per record (as :func:`cross_validate` takes): split s then
            draws from the records not in fold s, so fold s's test ratings never take part.
        seed: the splits' and the models' seed.
        progress: False, True (a bar over splits x variants) or a callable told each fit.
    """
    from clusterrec.models.registry import HYBRID_PRESETS

    _check_options(folds, validation_share, hybrid, HYBRID_PRESETS)
    base = {**HYBRID_PRESETS[hybrid], **dict(settings or {})}
    variants = ablation_variants(base)
    fold_of = _check_assignments(assignments, ratings, folds)
    rows = []
    with Steps(progress, folds * len(variants), unit="fit") as step:
        for split in range(folds):
            part = ratings if fold_of is None else ratings.take(fold_of != split)
            held_out = validation_mask(len(part), validation_share, seed, split)
            fit, validation = part.take(~held_out), part.take(held_out)
            scores = []
            for variant in variants:
                step(f"split {split + 1}/{folds}: {variant.name}")
                scores.append(_score(variant, fit, validation, n_clusters, labels, seed))
            full = scores[0]
            for variant, score in zip(variants, scores, strict=True):
                rows.append(
                    {
                        "split": split,
                        "variant": variant.name,
                        "part": variant.part,
                        "change": variant.change,
                        "what": variant.words,
                        **score,
                        "delta_rmse": score["rmse"] - full["rmse"],
                        "delta_mae": score["mae"] - full["mae"],
                    }
                )
    return AblationResult(
        splits=pd.DataFrame(rows),
        n_splits=folds,
        validation_share=float(validation_share),
        hybrid=hybrid,
        seed=seed,
        n_ratings=len(ratings),
        from_folds=fold_of is not None,
        metadata={"given_labels": labels is not None, "n_clusters": n_clusters},
    )


def ablation_variants(settings: Mapping) -> list[_Variant]:
    """The full model, then one variant per part of :data:`ABLATION_PARTS`, for the core
    settings ``settings`` (a preset with overrides)."""
    variants = [
        _Variant("full", "", "none", (), dict(settings), "all parts"),
        _Variant(
            "full, seed + 1",
            "",
            "seed",
            (),
            dict(settings),
            "the full model with the next seed: how far the seed alone moves the numbers",
            seed_offset=1,
        ),
    ]
    for part in ABLATION_PARTS[:-2]:
        variants.append(
            _Variant(
                f"− {_PART_NAMES[part]}", part, "removed", (part,), dict(settings), PART_WORDS[part]
            )
        )
    variants.append(_autoencoder_variant(settings))
    averaging = _averaging_variant(settings)
    if averaging is not None:
        variants.append(averaging)
    return variants


def _autoencoder_variant(settings: Mapping) -> _Variant:
    """The item autoencoder removed when ``settings`` average it in, else added at the
    model's default weight (the ``fast`` preset leaves it out)."""
    from clusterrec.models.cluster_hybrid import _CORE_DEFAULTS  # PyTorch, on first use

    default = _CORE_DEFAULTS["autoencoder_weight"]
    if settings.get("autoencoder_weight", default) > 0:
        words = PART_WORDS["autoencoder"]
        return _Variant("− item autoencoder", "autoencoder", "removed", ("autoencoder",),
                        dict(settings), words)  # fmt: skip
    return _Variant(
        f"+ item autoencoder (weight {default:g})",
        "autoencoder",
        "added",
        (),
        {**settings, "autoencoder_weight": default},
        f"the item autoencoder averaged in at weight {default:g} (the model's default); "
        "these settings leave it out",
    )


def _averaging_variant(settings: Mapping) -> _Variant | None:
    """Averaging removed (1 seed, 1 snapshot) when ``settings`` average over more, else added
    (the model's default seeds and snapshots); None when the defaults do not average either."""
    from clusterrec.models.cluster_hybrid import _CORE_DEFAULTS  # PyTorch, on first use

    seeds = settings.get("n_seeds", _CORE_DEFAULTS["n_seeds"])
    snapshots = settings.get("n_snapshots", _CORE_DEFAULTS["n_snapshots"])
    if seeds * snapshots > 1:
        return _Variant(
            "− averaging (1 seed, 1 snapshot)",
            "averaging",
            "removed",
            (),
            {**settings, "n_seeds": 1, "n_snapshots": 1},
            f"1 seed and 1 snapshot instead of {seeds} x {snapshots} averaged",
        )
    seeds, snapshots = _CORE_DEFAULTS["n_seeds"], _CORE_DEFAULTS["n_snapshots"]
    if seeds * snapshots <= 1:
        return None
    return _Variant(
        f"+ averaging ({seeds} seeds x {snapshots} snapshots)",
        "averaging",
        "added",
        (),
        {**settings, "n_seeds": seeds, "n_snapshots": snapshots},
        f"{seeds} seeds x {snapshots} snapshots averaged instead of 1 (the model's default); "
        "these settings do not average",
    )


def validation_mask(n_records: int, share: float, seed: int, split: int) -> np.ndarray:
    """A seeded boolean mask holding out round(share x n) of ``n_records`` (at least one, and
    at least one left to fit on); the same seed and split give the same mask."""
    size = int(round(share * n_records))
    if n_records < 2 or not 1 <= size < n_records:
        raise DataError(
            f"{n_records:,} ratings cannot hold out a {share:.0%} validation slice and keep "
            "ratings to fit on; give more ratings or another validation share"
        )
    rng = np.random.default_rng([seed, split, 0x61626C])  # "abl": its own stream of the seed
    mask = np.zeros(n_records, dtype=bool)
    mask[rng.permutation(n_records)[:size]] = True
    return mask


def _score(
    variant: _Variant,
    fit: Ratings,
    validation: Ratings,
    n_clusters: int,
    labels: object,
    seed: int,
) -> dict[str, float]:
    """Fit the variant on ``fit``; its RMSE, MAE and fallback share on ``validation``."""
    from clusterrec.models.cluster_hybrid import ClusterHybridRecommender

    model = ClusterHybridRecommender(
        n_clusters=n_clusters,
        seed=seed + variant.seed_offset,
        without=variant.without,
        settings=variant.settings,
    )
    started = time.perf_counter()
    model.fit(fit, labels=labels)
    fit_seconds = time.perf_counter() - started
    predictions = model.predict(
        validation.user_labels[validation.user], validation.item_labels[validation.item]
    )
    return {
        "rmse": rmse(validation.rating, predictions.rating),
        "mae": mae(validation.rating, predictions.rating),
        "fallback_share": predictions.fallback_share,
        "fit_seconds": fit_seconds,
        "n_fit": len(fit),
        "n_validation": len(validation),
    }


def _check_options(folds: object, share: object, hybrid: object, presets: Mapping) -> None:
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 1:
        raise ConfigError(f"folds must be a whole number >= 1 (the splits), not {folds!r}")
    if (
        isinstance(share, bool)
        or not isinstance(share, int | float)
        or not math.isfinite(share)
        or not 0 < share < 1
    ):
        raise ConfigError(
            f"validation_share must be a number between 0 and 1 (e.g. 0.1), not {share!r}"
        )
    if hybrid not in presets:
        raise ConfigError(
            f"unknown hybrid preset {hybrid!r}; accepted: {', '.join(map(str, presets))}"
        )


def _check_assignments(
    assignments: np.ndarray | None, ratings: Ratings, folds: int
) -> np.ndarray | None:
    if assignments is None:
        return None
    array = np.asarray(assignments)
    if array.ndim != 1 or len(array) != len(ratings):
        raise DataError(
            f"assignments must give one fold number per rating ({len(ratings):,}), "
            f"not shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"fold numbers must be integers, got dtype {array.dtype}")
    present = np.unique(array)
    if not set(range(folds)) <= set(present.tolist()) or len(present) < 2:
        raise ConfigError(
            f"{folds} splits need folds 0..{folds - 1} in the assignments and at least one "
            f"other; the assignments hold {len(present)} folds"
        )
    return array.astype(np.int64)


# -- what the numbers say -------------------------------------------------------------------------


def part_effects(summary: pd.DataFrame) -> pd.DataFrame:
    """Per part, what it is worth in RMSE, from a :meth:`AblationResult.to_frame` summary.

    ``worth`` is how much worse the model is without the part (Δ for a removed part, −Δ for
    an added one), with its smallest and largest value and standard deviation over the
    splits. ``noise`` is the larger of that standard deviation and the seed's own effect (the
    largest |Δ| of the full model fitted with the next seed). ``verdict``: "helps" when the
    part is worth more than 0 in every split and more than ``noise`` on average, "hurts" for
    the mirror case, else "within noise". Ordered by worth, largest first.
    """
    seed_rows = summary[summary["change"] == "seed"]
    seed_noise = (
        float(
            max(abs(seed_rows["delta_rmse_min"].iloc[0]), abs(seed_rows["delta_rmse_max"].iloc[0]))
        )
        if len(seed_rows)
        else float("nan")
    )
    rows = []
    for row in summary[summary["change"].isin(("removed", "added"))].to_dict("records"):
        sign = 1.0 if row["change"] == "removed" else -1.0
        low, high = sorted((sign * row["delta_rmse_min"], sign * row["delta_rmse_max"]))
        worth = sign * row["delta_rmse"]
        spread = row.get("delta_rmse_std", float("nan"))
        known = [v for v in (spread, seed_noise) if math.isfinite(v)]
        noise = max(known) if known else 0.0
        if low > 0 and worth > noise:
            verdict = "helps"
        elif high < 0 and -worth > noise:
            verdict = "hurts"
        else:
            verdict = "within noise"
        rows.append(
            {
                "part": row["part"],
                "name": _PART_NAMES.get(row["part"], row["part"]),
                "variant": row["variant"],
                "change": row["change"],
                "worth": worth,
                "worth_min": low,
                "worth_max": high,
                "worth_std": spread,
                "seed_noise": seed_noise,
                "noise": noise,
                "verdict": verdict,
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values("worth", ascending=False, kind="stable").reset_index(drop=True)
