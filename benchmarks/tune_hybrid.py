"""Choosing the default model's settings on validation data inside the training folds.

    .venv/bin/python benchmarks/tune_hybrid.py [--data ml100k,ml-latest-small] [--folds 0,1]
        [--variants base,fast,...]

For each outer fold f of the accuracy benchmark (``benchmarks/accuracy.py``'s folds: on
MovieLens-100K ``benchmarks/results/ml100k_folds.npy``), only the training part, the other
four folds, is read. A seeded 10 % of it (``VALIDATION_SEED + f``) is the validation slice;
each variant of ``ClusterHybridRecommender`` is fitted on the other 90 % (its own early
stopping takes a further slice of those) and scored on the validation slice. The test fold is
never read, so a setting chosen here can be reported on the test folds afterwards.

Every variant changes one thing from ``base``: the default model as it was when this table was
started (``BASE_SETTINGS``: the sigmoid output, 3 seeds); the table chose ``linear`` and then
``linear-seeds5`` (now the default),
so the rows stay reproducible with the settings they were measured with. The third round
(``linear-seeds5-*``, ``linear-seeds8``) changes one thing from that default; none was taken.
Differences are read as paired per-fold differences to ``base``, against the seed noise
(``base-seed1``: the same settings with another model seed). Results accumulate in
``benchmarks/results/tune_hybrid_<data>.json`` (one row per variant and fold; a rerun
replaces that variant's rows), and the table is rewritten from all rows in ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from accuracy import load_data

from clusterrec.models.cluster_hybrid import ClusterHybridRecommender
from clusterrec.models.registry import HYBRID_PRESETS

RESULTS = Path(__file__).resolve().parent / "results"
VALIDATION_SHARE = 0.1
VALIDATION_SEED = 2026

#: What every variant starts from: the default before this table chose the linear output,
#: 5 seeds and the item autoencoder.
BASE_SETTINGS = {"output": "sigmoid", "n_seeds": 3, "autoencoder_weight": 0.0}


def _linear(what: str, seed: int = 0, **settings: object) -> tuple[str, dict, tuple, int]:
    """A variant of the linear output (the chosen change) with more settings changed."""
    return f"linear, {what}", {"output": "linear", **settings}, (), seed


def _from_default(name: str, what: str, *, seed1: bool = True, **settings: object) -> dict:
    """Third-round variants: the chosen default (linear output, 5 seeds) with ``settings``
    changed, as ``name`` and, with ``seed1``, ``name-seed1`` (the same with model seed 1)."""
    out = {name: _linear(f"5 seeds, {what}", n_seeds=5, **settings)}
    if seed1:
        out[f"{name}-seed1"] = _linear(f"5 seeds, {what}, model seed 1", 1, n_seeds=5, **settings)
    return out


#: name -> (what it changes from BASE_SETTINGS, settings, parts switched off, model seed)
VARIANTS: dict[str, tuple[str, dict, tuple[str, ...], int]] = {
    "base": ("the former default (sigmoid output)", {}, (), 0),
    "base-seed1": ("base with model seed 1 (seed noise)", {}, (), 1),
    "fast": (
        "the `fast` preset (1 seed, 1 snapshot, 2 feature parts)",
        HYBRID_PRESETS["fast"],
        (),
        0,
    ),
    "fast-norefit": (
        "fast, predicting with the early-stopping run's best epoch (no refit)",
        {**HYBRID_PRESETS["fast"], "refit": False},
        (),
        0,
    ),
    "patience5": (
        "early stopping: patience 5, at most 20 epochs",
        {"patience": 5, "epochs": 20},
        (),
        0,
    ),
    "patience5-seed1": ("patience5 with model seed 1", {"patience": 5, "epochs": 20}, (), 1),
    "lr5e-3": (
        "lr 5e-3, patience 5, at most 24 epochs",
        {"lr": 5e-3, "patience": 5, "epochs": 24},
        (),
        0,
    ),
    "lr5e-3-seed1": ("lr5e-3 with model seed 1", {"lr": 5e-3, "patience": 5, "epochs": 24}, (), 1),
    "fixed8": ("8 epochs, no early stopping", {"epochs": 8, "val_fraction": 0.0}, (), 0),
    "fixed8-seed1": ("fixed8 with model seed 1", {"epochs": 8, "val_fraction": 0.0}, (), 1),
    "fixed11": ("11 epochs, no early stopping", {"epochs": 11, "val_fraction": 0.0}, (), 0),
    "fixed11-seed1": ("fixed11 with model seed 1", {"epochs": 11, "val_fraction": 0.0}, (), 1),
    "cib0.003": (
        "a cluster x movie bias b_{c(u),i}, L2 0.003 per rating",
        {"reg_cluster_item": 0.003},
        (),
        0,
    ),
    "cib0.03": (
        "a cluster x movie bias b_{c(u),i}, L2 0.03 per rating",
        {"reg_cluster_item": 0.03},
        (),
        0,
    ),
    "linear": ("linear output around the baseline, clipped", {"output": "linear"}, (), 0),
    "linear-seed1": ("linear with model seed 1", {"output": "linear"}, (), 1),
    "linear-mae0.6": (
        "linear, loss 0.4 MSE + 0.6 |error|",
        {"output": "linear", "mae_weight": 0.6},
        (),
        0,
    ),
    "linear-seeds5": ("linear, 5 seeds x 3 snapshots", {"output": "linear", "n_seeds": 5}, (), 0),
    "linear-seeds5-epochs16": _linear("5 seeds, at most 16 epochs", n_seeds=5, epochs=16),
    "linear-seeds5-kitem40": _linear("5 seeds, 40 item neighbours", n_seeds=5, n_item_neighbors=40),
    "linear-hidden128": _linear("MLP hidden 128", hidden=128),
    "linear-reg0.015": _linear("L2 0.015 on the factor rows", reg_factors=0.015),
    "linear-reg0.02": _linear("L2 0.02 on the factor rows", reg_factors=0.02),
    "linear-reg0.015-seed1": _linear("L2 0.015, model seed 1", seed=1, reg_factors=0.015),
    "linear-reg0.007": _linear("L2 0.007 on the factor rows", reg_factors=0.007),
    "mae0.6": ("loss 0.4 MSE + 0.6 |error|", {"mae_weight": 0.6}, (), 0),
    "mae0.8": ("loss 0.2 MSE + 0.8 |error|", {"mae_weight": 0.8}, (), 0),
    "snapshots5": ("3 seeds x 5 snapshots averaged", {"n_snapshots": 5}, (), 0),
    "seeds5": ("5 seeds x 3 snapshots averaged", {"n_seeds": 5}, (), 0),
    "parts": (
        "predictions from the 5 out-of-fold indices, averaged",
        {"predict_with": "parts"},
        (),
        0,
    ),
    "folds10": ("neighbour features out of 10 parts", {"n_feature_folds": 10}, (), 0),
    "reg0.02": ("L2 0.02 on the factor rows", {"reg_factors": 0.02}, (), 0),
    "reg0.005": ("L2 0.005 on the factor rows", {"reg_factors": 0.005}, (), 0),
    "factors128": ("128 factors", {"n_factors": 128}, (), 0),
    "factors32": ("32 factors", {"n_factors": 32}, (), 0),
    "hidden128": ("MLP hidden 128", {"hidden": 128}, (), 0),
    "-clusters": ("without the cluster embedding and heads", {}, ("clusters",), 0),
    "-user_neighbours": ("without the user neighbours", {}, ("user_neighbours",), 0),
    "-item_neighbours": ("without the item neighbours", {}, ("item_neighbours",), 0),
    "-factors": ("without the factors", {}, ("factors",), 0),
    "-implicit": ("without implicit feedback", {}, ("implicit",), 0),
    "-averaging": ("1 seed, 1 snapshot", {"n_seeds": 1, "n_snapshots": 1}, (), 0),
}
#: The ablation of the chosen default (linear output): "linear" with each part removed in turn.
VARIANTS.update(
    {
        f"linear{name}": (f"linear, {what}", {**settings, "output": "linear"}, without, seed)
        for name, (what, settings, without, seed) in list(VARIANTS.items())
        if name.startswith("-")
    }
)


#: The third round: one change from the chosen default each, most with model seeds 0 and 1.
VARIANTS.update(
    {
        "linear-seeds5-seed1": _linear(
            "5 seeds, model seed 1 (the default's seed noise)", 1, n_seeds=5
        ),
        "linear-seeds8": _linear("8 seeds x 3 snapshots", n_seeds=8),
        **_from_default("linear-seeds5-batch4096", "batches of 4096", seed1=False, batch_size=4096),
        **_from_default(
            "linear-seeds5-batch2048",
            "batches of 2048, lr 5e-3",
            seed1=False,
            batch_size=2048,
            lr=5e-3,
        ),
        **_from_default(
            "linear-seeds5-f128",
            "128 factors, L2 0.015",
            seed1=False,
            n_factors=128,
            reg_factors=0.015,
        ),
        **_from_default("linear-seeds5-stop3", "epochs from 3 stopping runs", n_stopping_runs=3),
        **_from_default("linear-seeds5-val0.2", "early stopping on a 20 % slice", val_fraction=0.2),
        **_from_default("linear-seeds5-decay0.8", "lr x 0.8 each epoch", lr_decay=0.8),
        **_from_default(
            "linear-seeds5-decay0.9",
            "lr x 0.9 each epoch, at most 20 epochs",
            lr_decay=0.9,
            epochs=20,
        ),
        **_from_default("linear-seeds5-decay0.7", "lr x 0.7 each epoch", lr_decay=0.7),
        **_from_default(
            "linear-seeds5-wa1", "weights averaged over the last epoch of steps", weight_average=1.0
        ),
        **_from_default(
            "linear-seeds5-wa0.5", "weights averaged over half an epoch", weight_average=0.5
        ),
        **_from_default(
            "linear-seeds5-vary", "each its own draw of the feature parts", vary_features=True
        ),
        **_from_default(
            "linear-seeds5-stop3-vary",
            "3 stopping runs, own feature parts",
            n_stopping_runs=3,
            vary_features=True,
        ),
    }
)


#: The fourth round: a second model family in the average, the item autoencoder
#: (clusterrec.models.item_autoencoder), at several weights and widths.
for _weight in (0.15, 0.2, 0.25):
    VARIANTS.update(
        _from_default(
            f"ae{_weight}",
            f"item autoencoder (200 wide) at weight {_weight}",
            autoencoder_weight=_weight,
        )
    )
for _hidden in (100, 500):
    VARIANTS.update(
        _from_default(
            f"ae0.15-h{_hidden}",
            f"item autoencoder {_hidden} wide at weight 0.15",
            seed1=False,
            autoencoder_weight=0.15,
            autoencoder_hidden=_hidden,
        )
    )


def validation_split(n: int, fold: int) -> np.ndarray:
    """True for the validation slice of a training part of n ratings (seeded by the fold)."""
    rng = np.random.default_rng(VALIDATION_SEED + fold)
    return rng.random(n) < VALIDATION_SHARE


def score_variant(name: str, train, val) -> dict:
    """Fit one variant on ``train`` and score it on ``val``: RMSE, MAE, fit seconds."""
    _, settings, without, seed = VARIANTS[name]
    model = ClusterHybridRecommender(
        seed=seed, without=without, settings={**BASE_SETTINGS, **settings}
    )
    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started
    pred = model.predict(val.user_labels[val.user], val.item_labels[val.item]).rating
    err = pred.astype(np.float64) - val.rating
    return {
        "variant": name,
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "fit_seconds": fit_seconds,
        "chosen_epochs": model.core_.chosen_epochs,
        "validation_curve": [round(v, 5) for v in model.core_.val_curve],
        **_autoencoder_row(model, val),
    }


def _autoencoder_row(model: ClusterHybridRecommender, val) -> dict:
    """The item autoencoder's epochs, its early-stopping curve, and how alike errors are on
    the validation slice: the autoencoder's against the networks', and (the yardstick) the
    first seed's networks against the second seed's. None when the autoencoder is off."""
    core = model.core_
    if core.autoencoder is None:
        return {}
    users = model.user_codes(val.user_labels[val.user])
    items = model.item_codes(val.item_labels[val.item])
    known = (users >= 0) & (items >= 0)
    users, items, truth = users[known], items[known], val.rating[known]
    per_seed = len(core.nets) // core.n_seeds
    nets, tables = core.nets, core.tables

    def networks(first: int, last: int) -> np.ndarray:
        core.nets, core.tables = nets[first:last], tables[first:last]
        try:
            return core._predict_networks(users, items) - truth
        finally:
            core.nets, core.tables = nets, tables

    autoencoder = core.autoencoder.predict(users, items) - truth
    row = {
        "autoencoder_epochs": core.autoencoder.chosen_epochs,
        "autoencoder_curve": [round(v, 5) for v in core.autoencoder.val_curve],
        "corr_autoencoder_networks": float(np.corrcoef(autoencoder, networks(0, len(nets)))[0, 1]),
    }
    if core.n_seeds > 1:
        row["corr_seed0_seed1"] = float(
            np.corrcoef(networks(0, per_seed), networks(per_seed, 2 * per_seed))[0, 1]
        )
    return row


def summarise(rows: list[dict]) -> list[dict]:
    """Per variant: means over folds and paired differences to base on the same folds."""
    base = {r["fold"]: r for r in rows if r["variant"] == "base"}
    out = []
    for name in VARIANTS:
        mine = sorted((r for r in rows if r["variant"] == name), key=lambda r: r["fold"])
        if not mine:
            continue
        paired = [
            (r["rmse"] - base[r["fold"]]["rmse"], r["mae"] - base[r["fold"]]["mae"])
            for r in mine
            if r["fold"] in base
        ]
        out.append(
            {
                "variant": name,
                "what": VARIANTS[name][0],
                "folds": [r["fold"] for r in mine],
                "rmse": statistics.fmean(r["rmse"] for r in mine),
                "mae": statistics.fmean(r["mae"] for r in mine),
                "d_rmse": [p[0] for p in paired],
                "d_mae": [p[1] for p in paired],
                "fit_seconds": statistics.median(r["fit_seconds"] for r in mine),
                "epochs": [r["chosen_epochs"] for r in mine],
            }
        )
    return sorted(out, key=lambda s: s["rmse"])


def render(data: str, how: str, summary: list[dict]) -> str:
    lines = [
        f"# Tuning the default model on validation data: {data}",
        "",
        f"Written by `benchmarks/tune_hybrid.py`; see its docstring for the protocol. {how}. "
        f"Machine: {platform.machine()}, Python {sys.version.split()[0]}, one torch thread, "
        "shared 2-core machine (seconds indicative). Validation slice: a seeded "
        f"{VALIDATION_SHARE:.0%} of each outer fold's training part; the test folds are not read.",
        "",
        "| variant | what | RMSE | MAE | ΔRMSE vs base [min, max] | ΔMAE vs base [min, max] "
        "| fit s | epochs | folds |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]

    def spread(values: list[float]) -> str:
        if not values:
            return ""
        return f"{statistics.fmean(values):+.4f} [{min(values):+.4f}, {max(values):+.4f}]"

    for s in summary:
        lines.append(
            f"| {s['variant']} | {s['what']} | {s['rmse']:.4f} | {s['mae']:.4f} | "
            f"{spread(s['d_rmse'])} | {spread(s['d_mae'])} | {s['fit_seconds']:.1f} | "
            f"{','.join(map(str, s['epochs']))} | {','.join(map(str, s['folds']))} |"
        )
    return "\n".join(lines)


def tune(data: str, folds: list[int], variants: list[str]) -> None:
    ratings, fold_of, how = load_data(data)
    path = RESULTS / f"tune_hybrid_{data}.json"
    mine: list[dict] = []
    for f in folds:
        train = ratings.take(np.flatnonzero(fold_of != f))
        val_mask = validation_split(len(train), f)
        fit_part, val = train.take(np.flatnonzero(~val_mask)), train.take(np.flatnonzero(val_mask))
        for name in variants:
            mine.append({"fold": f, **score_variant(name, fit_part, val)})
            print(json.dumps(mine[-1]), flush=True)
            rows = write_rows(path, data, how, mine)
    print(render(data, how, summarise(rows)))


def write_rows(path: Path, data: str, how: str, mine: list[dict]) -> list[dict]:
    """This run's rows over the file's (read again: another run may have added rows)."""
    earlier = json.loads(path.read_text())["rows"] if path.exists() else []
    keys = {(r["variant"], r["fold"]) for r in mine}
    rows = [r for r in earlier if (r["variant"], r["fold"]) not in keys] + mine
    summary = summarise(rows)
    path.write_text(
        json.dumps({"data": data, "folds": how, "rows": rows, "summary": summary}, indent=2) + "\n"
    )
    (RESULTS / f"tune_hybrid_{data}.md").write_text(render(data, how, summary) + "\n")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="ml100k")
    parser.add_argument("--folds", default="0,1")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; accepted: {', '.join(VARIANTS)}")
    for data in args.data.split(","):
        tune(data, [int(f) for f in args.folds.split(",")], args.variants.split(","))


if __name__ == "__main__":
    main()
