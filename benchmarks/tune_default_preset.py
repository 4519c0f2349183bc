"""Choosing the ``default`` network preset by measurement, on validation data only.

    .venv/bin/python benchmarks/tune_default_preset.py [--reuse] [--skip-synthetic]

Protocol (nothing here looks at data used for a final report):

1. **MovieLens-100K, validation only.** A fixed 20 % of the ratings (a seeded permutation,
   seed 1234) is set aside as a hold-out and never used by this script, not even for
   scoring. On the remaining 80 % every variant is scored by 3-fold cross-validation
   (``clusterrec.evaluation.cross_validate``, fold seed 0, the same folds for every variant):
   each fold's model is fitted on the other two folds only. Variants are compared by mean
   validation RMSE and MAE, and by the mean over folds of their paired difference to the
   reference variant ``base`` (the preset before this study), which removes the fold-to-fold
   spread that all variants share. The same ``base`` with model seeds 1 and 2 measures how
   much of a difference the seed alone makes.
2. **Generated assignment-like data, confirmation.** The ``seed``-size generated
   ``Dataset.npy`` (seed 0) filtered to users with 150..300 ratings (1,079 users, 68K movies,
   1..10 stars): the three best variants of step 1 with L = 5 by validation RMSE (leaving out
   any that made exactly ``base``'s predictions), ``base``, k = 40, L = 1 and L = 10 (how k and
   L act depends on the data's sparsity and structure) and the baselines; 3-fold
   cross-validation over ratings with the same fold assignment as ``cross_validate``
   (``kfold_assignments``, seed 0). Errors only: ranking all 68K movies for every user costs
   about 5 minutes per fold and variant, so top-N is not measured there.

Variants change one setting at a time from ``base`` (centred inputs, residual target, hidden
(32, 16), k = 20, L = 5, batch 256, 40 epochs, patience 4 on 10 % of the training users),
plus the ``notebook`` preset, the bias baseline and UserKNN as references.

Writes ``benchmarks/results/tune_default_preset.md`` (every variant's figures) and
``tune_default_preset.json`` (per-fold rows). ``--reuse`` takes the per-fold rows of variants
whose settings are unchanged from an earlier JSON instead of fitting them again. Runtime on
this project's shared 2-core machine: 10 to 15 minutes, depending on its load.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from clusterrec._atomic import atomic_write
from clusterrec.data.filtering import filter_users
from clusterrec.data.ratings import Ratings
from clusterrec.data.readers import read_ratings
from clusterrec.data.synthetic import default_dataset_path
from clusterrec.evaluation.cross_validation import cross_validate
from clusterrec.evaluation.metrics import mae, rmse
from clusterrec.evaluation.splits import kfold_assignments
from clusterrec.models.baselines import BiasBaseline, UserKNN
from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender
from clusterrec.models.presets import PRESETS, NetworkConfig
from clusterrec.models.recommender import Recommender

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FETCH_ML100K = HERE.parent.parent / "shared" / "datasets" / "fetch-ml100k"

HOLDOUT_SHARE = 0.2
HOLDOUT_SEED = 1234
FOLDS = 3
FOLD_SEED = 0
TOP_N = 10
CONFIRM_TOP = 3
#: Also run on the generated data, whatever their MovieLens rank: how k and L act depends on
#: the data's sparsity (68K movies, 150..300 ratings a user) and on its planted taste groups.
CONTEXT = ("k40", "L1", "L10")

#: The preset before this study: the reference every variant is compared with.
BASE = NetworkConfig(
    inputs="centred",
    target="residual",
    hidden=(32, 16),
    l2=0.0,
    learning_rate=1e-3,
    epochs=40,
    batch_size=256,
    validation_share=0.1,
    patience=4,
    n_neighbors=20,
)


@dataclass
class Variant:
    """One thing to score: a network configuration and L, or a baseline."""

    name: str
    what: str
    config: NetworkConfig | None = None
    n_clusters: int = 5
    seed: int = 0
    baseline: Callable[[], Recommender] | None = None
    tags: set[str] = field(default_factory=set)

    def factory(self) -> Callable[[], Recommender]:
        if self.baseline is not None:
            return self.baseline
        return lambda: ClusterNeighborRecommender(
            n_clusters=self.n_clusters, seed=self.seed, config=self.config
        )

    def key(self) -> str:
        """Everything that determines this variant's numbers (for ``--reuse``)."""
        if self.baseline is not None:
            return f"baseline:{self.name}"
        config = self.config.as_dict()
        return json.dumps([config, self.n_clusters, self.seed], sort_keys=True, default=list)

    @property
    def method(self) -> bool:
        return self.baseline is None


def variants() -> list[Variant]:
    """Every variant scored on the MovieLens-100K validation folds."""

    def v(name: str, what: str, n_clusters: int = 5, seed: int = 0, **changes) -> Variant:
        return Variant(name, what, replace(BASE, **changes), n_clusters, seed)

    return [
        Variant("bias", "bias baseline mu + b_u + b_i (reference)", baseline=BiasBaseline),
        Variant("userknn", "UserKNN, Pearson, k=40 (reference)", baseline=UserKNN),
        Variant("notebook", "the notebook preset, L=5", PRESETS["notebook"]),
        v("base", "centred inputs, residual target, (32,16), k=20, L=5, batch 256, patience 4"),
        v("base-seed1", "base with model seed 1 (seed noise)", seed=1),
        v("base-seed2", "base with model seed 2 (seed noise)", seed=2),
        v("ratings-rating", "raw-rating inputs, rating target", inputs="ratings", target="rating"),
        v("ratings-residual", "raw-rating inputs, residual target", inputs="ratings"),
        v("centred-rating", "centred inputs, rating target", target="rating"),
        v("k6", "k=6", n_neighbors=6),
        v("k10", "k=10", n_neighbors=10),
        v("k40", "k=40", n_neighbors=40),
        v("h64-32", "hidden (64,32)", hidden=(64, 32)),
        v("h16", "hidden (16,)", hidden=(16,)),
        v("L1", "L=1 (one cluster: neighbours among all users)", n_clusters=1),
        v("L10", "L=10", n_clusters=10),
        v("patience2", "early-stopping patience 2", patience=2),
        v("patience8", "early-stopping patience 8", patience=8),
        v("batch128", "batch 128", batch_size=128),
        v("batch1024", "batch 1024", batch_size=1024),
        v("l2-1e-4", "L2 1e-4 on the weights", l2=1e-4),
        v("lr3e-3", "learning rate 3e-3", learning_rate=3e-3),
        v("lr3e-4", "learning rate 3e-4", learning_rate=3e-4),
    ]


# -- data -----------------------------------------------------------------------------------------


def movielens_validation_set() -> tuple[Ratings, Ratings]:
    """(all MovieLens-100K ratings, the 80 % left after setting the hold-out aside)."""
    folder = (
        subprocess.run([str(FETCH_ML100K)], check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    ratings = read_ratings(Path(folder) / "u.data")
    order = np.random.default_rng(HOLDOUT_SEED).permutation(len(ratings))
    holdout = np.zeros(len(ratings), dtype=bool)
    holdout[order[: int(round(HOLDOUT_SHARE * len(ratings)))]] = True
    return ratings, ratings.take(~holdout)


def generated_set() -> Ratings:
    ratings = read_ratings(default_dataset_path("seed", 0))
    kept, _ = filter_users(ratings, 150, 300)
    return kept.compact()


# -- scoring --------------------------------------------------------------------------------------


def score_movielens(variant: Variant, dev: Ratings) -> list[dict]:
    result = cross_validate(
        dev, {variant.name: variant.factory()}, folds=FOLDS, seed=FOLD_SEED, top_n=TOP_N
    )
    return result.folds.to_dict(orient="records")


def score_generated(variant: Variant, ratings: Ratings) -> list[dict]:
    """3-fold CV over ratings (``cross_validate``'s folds), errors and fit time only."""
    fold_of = kfold_assignments(len(ratings), FOLDS, FOLD_SEED)
    rows = []
    for fold in range(FOLDS):
        train, test = ratings.take(fold_of != fold), ratings.take(fold_of == fold)
        model = variant.factory()()
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
        predicted = model.predict(test.user_labels[test.user], test.item_labels[test.item])
        rows.append(
            {
                "fold": fold,
                "model": variant.name,
                "rmse": rmse(test.rating, predicted.rating),
                "mae": mae(test.rating, predicted.rating),
                "fallback_share": predicted.fallback_share,
                "fit_seconds": fit_seconds,
            }
        )
    return rows


def run_stage(
    label: str,
    chosen: list[Variant],
    score: Callable[[Variant], list[dict]],
    cached: dict,
    save: Callable[[], None],
) -> dict[str, list[dict]]:
    """Score each variant (or reuse its cached rows); ``cached`` is updated and saved after
    every variant, so an interrupted run can go on with ``--reuse``."""
    out = {}
    for variant in chosen:
        previous = cached.get(variant.name)
        if previous and previous["key"] == variant.key():
            out[variant.name] = previous["rows"]
            print(f"[{label}] {variant.name}: reused", flush=True)
            continue
        started = time.perf_counter()
        out[variant.name] = score(variant)
        cached[variant.name] = {"key": variant.key(), "rows": out[variant.name]}
        save()
        frame = pd.DataFrame(out[variant.name])
        print(
            f"[{label}] {variant.name}: rmse {frame.rmse.mean():.4f} mae {frame.mae.mean():.4f}"
            f" fit {frame.fit_seconds.mean():.1f} s ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return out


# -- tables ---------------------------------------------------------------------------------------


def summarise(rows: dict[str, list[dict]], reference: str = "base") -> pd.DataFrame:
    """Per variant: means over folds, std of RMSE, and the paired difference to ``reference``."""
    ref = pd.DataFrame(rows[reference]).set_index("fold") if reference in rows else None
    records = []
    for name, fold_rows in rows.items():
        frame = pd.DataFrame(fold_rows).set_index("fold")
        record = {
            "variant": name,
            "rmse": frame.rmse.mean(),
            "rmse_std": frame.rmse.std(ddof=1),
            "mae": frame.mae.mean(),
            "fallback": frame.fallback_share.mean(),
            "fit_s": frame.fit_seconds.mean(),
        }
        if ref is not None:
            diff_rmse = frame.rmse - ref.rmse
            record["d_rmse"] = diff_rmse.mean()
            record["d_rmse_lo"] = diff_rmse.min()
            record["d_rmse_hi"] = diff_rmse.max()
            record["d_mae"] = (frame.mae - ref.mae).mean()
        if f"ndcg_at_{TOP_N}" in frame:
            record["ndcg"] = frame[f"ndcg_at_{TOP_N}"].mean()
            record["rank_s"] = frame.rank_seconds.mean()
        records.append(record)
    return pd.DataFrame(records).set_index("variant")


def markdown_table(table: pd.DataFrame, about: dict[str, str], marks: dict[str, str]) -> str:
    has_rank = "ndcg" in table
    header = [
        "variant",
        "settings",
        "RMSE",
        "MAE",
        "ΔRMSE vs base [min, max over folds]",
        "ΔMAE vs base",
        "fallback",
    ]
    header += ["NDCG@10"] if has_rank else []
    header += ["fit s / fold"] + (["rank s / fold"] if has_rank else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(header) - 2)]
    for name, row in table.sort_values("rmse").iterrows():
        cells = [
            f"{name}{marks.get(name, '')}",
            about[name],
            f"{row.rmse:.4f} ± {row.rmse_std:.4f}",
            f"{row.mae:.4f}",
            f"{row.d_rmse:+.4f} [{row.d_rmse_lo:+.4f}, {row.d_rmse_hi:+.4f}]",
            f"{row.d_mae:+.4f}",
            f"{row.fallback:.1%}",
        ]
        cells += [f"{row.ndcg:.4f}"] if has_rank else []
        cells += [f"{row.fit_s:.1f}"] + ([f"{row.rank_s:.1f}"] if has_rank else [])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def matches_default(variant: Variant) -> bool:
    return (
        variant.method
        and variant.config == PRESETS["default"]
        and variant.n_clusters == 5
        and variant.seed == 0
    )


def same_as_base(rows: dict[str, list[dict]]) -> list[str]:
    """Variants whose every fold's RMSE and MAE equal base's: the same predictions."""
    if "base" not in rows:
        return []
    figures = {n: [(r["rmse"], r["mae"]) for r in fold_rows] for n, fold_rows in rows.items()}
    return [n for n in rows if n != "base" and figures[n] == figures["base"]]


def confirmation_variants(
    table: pd.DataFrame, rows: dict[str, list[dict]], all_variants: list[Variant]
) -> list[Variant]:
    """Baselines, base, the CONFIRM_TOP best L=5 seed-0 method variants by validation RMSE
    (leaving out those that made exactly base's predictions), then the CONTEXT variants."""
    by_name = {v.name: v for v in all_variants}
    duplicates = set(same_as_base(rows))
    eligible = [
        name
        for name in table.sort_values("rmse").index
        if by_name[name].method
        and by_name[name].n_clusters == 5
        and by_name[name].seed == 0
        and name not in duplicates
        and name != "notebook"
    ]
    names = ["bias", "userknn", *eligible[:CONFIRM_TOP]]
    if "base" not in names:
        names.append("base")
    names += [n for n in CONTEXT if n not in names]
    return [by_name[n] for n in names if n in by_name]


def verdict(table: pd.DataFrame, all_variants: list[Variant]) -> str:
    """One sentence: the best L=5 variant by validation RMSE against the default preset."""
    by_name = {v.name: v for v in all_variants}
    method = [n for n in table.sort_values("rmse").index if by_name[n].method]
    best_l5 = next(n for n in method if by_name[n].n_clusters == 5)
    default = next((n for n in method if matches_default(by_name[n])), None)
    text = (
        f"Best method variant by validation RMSE: {method[0]} ({table.rmse[method[0]]:.4f}); "
        f"best with L=5: {best_l5} ({table.rmse[best_l5]:.4f})."
    )
    if default is None:
        return text + " No variant equals the current default preset."
    return text + (
        f" The current default preset ({default}) scores {table.rmse[default]:.4f} RMSE, "
        f"{table.mae[default]:.4f} MAE."
    )


def write_report(
    movielens: dict[str, list[dict]],
    generated: dict[str, list[dict]],
    all_variants: list[Variant],
    sizes: dict,
    seconds: float,
) -> str:
    about = {v.name: v.what for v in all_variants}
    marks = {v.name: " (= default preset)" for v in all_variants if matches_default(v)}
    ml = summarise(movielens)
    seed_rows = ml.loc[[n for n in ("base", "base-seed1", "base-seed2") if n in ml.index]]
    parts = [
        "# Tuning the `default` preset on validation data",
        "",
        "Written by `benchmarks/tune_default_preset.py`; see its docstring for the protocol. "
        f"torch {torch.__version__}, Python {platform.python_version()}, one process on a "
        "shared 2-core machine (network training on one thread): seconds are indicative. "
        f"Total run time {seconds / 60:.1f} min.",
        "",
        "## MovieLens-100K, 3-fold cross-validation on the 80 % validation part",
        "",
        f"Hold-out: {sizes['holdout']:,} of {sizes['all']:,} ratings (seed {HOLDOUT_SEED}), "
        f"never used here. Validation part: {sizes['dev']:,} ratings; each fold trains on "
        f"about {sizes['dev'] * (FOLDS - 1) // FOLDS:,} and scores {sizes['dev'] // FOLDS:,}. "
        "RMSE ± std over folds; Δ = mean over folds of the variant's minus base's figure on "
        "the same fold (negative is better). NDCG@10: ranking every unrated item, held-out "
        "ratings >= 4 relevant. Fallback: share of held-out ratings predicted by the bias "
        "baseline because no neighbour rated the item (or the user/item is unknown).",
        "",
        markdown_table(ml, about, marks),
        "",
        "Seed noise (base with model seeds 0, 1, 2; the seed drives clustering, the early-"
        f"stopping split and the network initialisation): RMSE spread "
        f"{seed_rows.rmse.max() - seed_rows.rmse.min():.4f}, MAE spread "
        f"{seed_rows.mae.max() - seed_rows.mae.min():.4f}. Differences smaller than this "
        "are not evidence.",
    ]
    parts += ["", verdict(ml, all_variants)]
    identical = same_as_base(movielens)
    if identical:
        parts += [
            "",
            f"Exactly base's predictions on every fold: {', '.join(identical)} (no network "
            "found a better epoch later than base's early stopping let it look).",
        ]
    if generated:
        gen = summarise(generated)
        parts += [
            "",
            "## Generated assignment-like data (seed size, users with 150..300 ratings)",
            "",
            f"{sizes['generated_ratings']:,} ratings, {sizes['generated_users']:,} users, "
            f"{sizes['generated_items']:,} movies, 1..10 stars. 3-fold cross-validation over "
            f"ratings (fold seed {FOLD_SEED}); errors only (no top-N: ranking 68K movies per "
            "user is too slow for a tuning loop). Variants: the best three with L=5 on "
            "MovieLens-100K (leaving out any that made exactly base's predictions), base, "
            f"{', '.join(CONTEXT)} for context, and the baselines.",
            "",
            markdown_table(gen, about, marks),
        ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="reuse unchanged variants' rows")
    parser.add_argument("--skip-synthetic", action="store_true", help="MovieLens-100K only")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / "tune_default_preset.json"
    cached = {"movielens": {}, "generated": {}}
    if args.reuse and json_path.is_file():
        cached = json.loads(json_path.read_text(encoding="utf-8"))
    work = {"protocol": __doc__, "movielens": {}, "generated": {}}

    def save() -> None:
        with atomic_write(json_path, "w") as handle:
            json.dump(work, handle, indent=1, default=float)

    started = time.perf_counter()
    everything, dev = movielens_validation_set()
    sizes = {"all": len(everything), "dev": len(dev), "holdout": len(everything) - len(dev)}
    all_variants = variants()
    work["movielens"] = cached.get("movielens", {})
    movielens = run_stage(
        "ml-100k", all_variants, lambda v: score_movielens(v, dev), work["movielens"], save
    )
    generated: dict[str, list[dict]] = {}
    if not args.skip_synthetic:
        data = generated_set()
        sizes |= {
            "generated_ratings": len(data),
            "generated_users": data.n_users,
            "generated_items": data.n_items,
        }
        chosen = confirmation_variants(summarise(movielens), movielens, all_variants)
        work["generated"] = cached.get("generated", {})
        generated = run_stage(
            "generated", chosen, lambda v: score_generated(v, data), work["generated"], save
        )

    work["movielens"] = {n: work["movielens"][n] for n in movielens}
    work["generated"] = {n: work["generated"][n] for n in generated}
    work["sizes"] = sizes
    save()
    report = write_report(movielens, generated, all_variants, sizes, time.perf_counter() - started)
    with atomic_write(RESULTS / "tune_default_preset.md", "w") as handle:
        handle.write(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
