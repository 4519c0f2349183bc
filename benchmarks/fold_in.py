"""New users without retraining: folding held-out users in against refitting with them.

    .venv/bin/python benchmarks/fold_in.py [--users 50] [--seed 0]

On real MovieLens-100K (``../shared/datasets/fetch-ml100k`` or ``$CLUSTERREC_ML100K``), all
943 users: ``--users`` users are drawn at random (seeded) and each one's ratings are split at
random in half, a *history* the model may see and a *test* half it predicts. Three models of
:class:`~clusterrec.models.cluster_neighbor.ClusterNeighborRecommender` (L = 5, the "default"
preset):

1. **fold-in**: fitted on the other users only; each held-out user is folded in from their
   history (``predict_new``: nearest cluster by mean Jaccard distance, k nearest training users
   in it, the cluster's trained network) and predicts their test half;
2. **refit**: fitted on the other users plus the held-out users' histories (seed 0), then
   ``predict`` on the test halves;
3. **refit, seed 1**: the same with another seed: how much a refit alone moves the RMSE.

Writes ``benchmarks/results/fold_in_ml100k.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from benchmark_data import RESULTS, ml100k


def scores(truth: np.ndarray, predicted: np.ndarray, fallback: np.ndarray) -> dict:
    error = predicted - truth
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "fallback_share": float(np.mean(fallback)),
    }


def main() -> None:
    from clusterrec import read_ratings
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ratings = read_ratings(ml100k())
    rng = np.random.default_rng(args.seed)
    held_out = rng.choice(ratings.n_users, size=args.users, replace=False)
    is_held = np.isin(ratings.user, held_out)
    in_history = np.zeros(len(ratings), dtype=bool)
    for user in held_out:
        rows = np.flatnonzero(ratings.user == user)
        in_history[rng.choice(rows, size=len(rows) // 2, replace=False)] = True
    test = ratings.take(is_held & ~in_history)
    history = ratings.take(is_held & in_history)
    test_users = test.user_labels[test.user]
    test_items = test.item_labels[test.item]
    rows, predictions = [], {}

    started = time.perf_counter()
    model = ClusterNeighborRecommender(n_clusters=5, seed=0).fit(ratings.take(~is_held))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rating = np.zeros(len(test), dtype=np.float64)
    fallback = np.zeros(len(test), dtype=bool)
    clusters = {}
    frame = history.to_frame()
    for user in held_out:
        label = ratings.user_labels[user]
        mine = frame[frame["user"] == label]
        given = pd.DataFrame({"item": mine["item"].astype(str), "rating": mine["rating"]})
        where = test_users == label
        result = model.predict_new(given, test_items[where])
        rating[where], fallback[where] = result.rating, result.fallback
        clusters[str(label)] = model.fold_in(given).cluster
    fold_seconds = time.perf_counter() - started
    predictions["fold-in"] = rating
    rows.append(
        {
            "model": "fold-in (fitted without the held-out users)",
            **scores(test.rating, rating, fallback),
            "fit_seconds": fit_seconds,
            "fold_in_seconds_per_user": fold_seconds / args.users,
        }
    )
    for seed in (0, 1):
        started = time.perf_counter()
        refit = ClusterNeighborRecommender(n_clusters=5, seed=seed).fit(
            ratings.take(~is_held | in_history)
        )
        seconds = time.perf_counter() - started
        result = refit.predict(test_users, test_items)
        predictions[f"refit {seed}"] = result.rating.astype(np.float64)
        rows.append(
            {
                "model": f"refit with their histories (seed {seed})",
                **scores(test.rating, result.rating, result.fallback),
                "fit_seconds": seconds,
            }
        )
    gap = rows[0]["rmse"] - rows[1]["rmse"]
    seed_gap = rows[2]["rmse"] - rows[1]["rmse"]
    apart = float(np.sqrt(np.mean((predictions["fold-in"] - predictions["refit 0"]) ** 2)))
    seeds_apart = float(np.sqrt(np.mean((predictions["refit 1"] - predictions["refit 0"]) ** 2)))
    payload = {
        "data": "MovieLens-100K, all 943 users",
        "held_out_users": args.users,
        "test_ratings": len(test),
        "history_ratings": len(history),
        "seed": args.seed,
        "rows": rows,
        "rmse_gap_fold_in_minus_refit": gap,
        "rmse_gap_refit_seed_1_minus_seed_0": seed_gap,
        "rms_difference_fold_in_vs_refit": apart,
        "rms_difference_refit_seed_1_vs_seed_0": seeds_apart,
        "fold_in_clusters": clusters,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fold_in_ml100k.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        f"# Fold-in against refit, MovieLens-100K ({args.users} held-out users, seed {args.seed})",
        "",
        f"Each held-out user's ratings split in half: {len(history):,} history ratings given, "
        f"{len(test):,} test ratings predicted. `benchmarks/fold_in.py`.",
        "",
        "| model | RMSE | MAE | fallback share | fit s |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['rmse']:.4f} | {row['mae']:.4f} | "
            f"{row['fallback_share']:.3f} | {row['fit_seconds']:.1f} |"
        )
    lines += [
        "",
        f"RMSE gap, fold-in minus refit (seed 0): **{gap:+.4f}**; refit seed 1 minus seed 0: "
        f"{seed_gap:+.4f}. Root mean square difference of the predictions, fold-in vs refit: "
        f"{apart:.4f} (refit seed 1 vs seed 0: {seeds_apart:.4f}). Fold-in takes "
        f"{rows[0]['fold_in_seconds_per_user'] * 1000:.0f} ms per user.",
        "",
    ]
    (RESULTS / "fold_in_ml100k.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
