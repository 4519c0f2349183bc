"""The notebook's error, visible: its LEAKY evaluation next to the honest one, on ML-100K.

    .venv/bin/python benchmarks/notebook_leaky.py

On real MovieLens-100K (``../shared/datasets/fetch-ml100k`` or ``$CLUSTERREC_ML100K``), all
943 users, L = 5 Jaccard clusters (k-medoids, seed 0), the notebook's network preset (k = 6,
6 -> 12 -> 24 -> 48 -> 1) in three protocols:

1. ``notebook-leaky``: :func:`clusterrec.evaluation.notebook_leaky.notebook_leaky`, the original
   notebook's evaluation: every user their own nearest neighbour (so the target rating is one
   of the network's inputs), rows split at random 80/20 inside each cluster. LEAKY.
2. the same rows and row split with the user removed from their neighbours (no copying).
3. the honest ``users`` protocol (the assignment's, :func:`evaluate_user_split`): 20 % of each
   cluster's users held out, never anyone's neighbour, nothing of theirs in training.

Writes ``benchmarks/results/notebook_leaky.md`` and ``.json``.
"""

from __future__ import annotations

import json
import time

from benchmark_data import RESULTS, ml100k


def main() -> None:
    from clusterrec import read_ratings
    from clusterrec.evaluation.notebook_leaky import notebook_leaky
    from clusterrec.evaluation.users_protocol import evaluate_user_split
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    ratings = read_ratings(ml100k())
    rows, tables = [], []
    for include_self in (True, False):
        started = time.perf_counter()
        result = notebook_leaky(ratings, 5, include_self=include_self, seed=0)
        seconds = time.perf_counter() - started
        name = "notebook-leaky" if include_self else "notebook rows, without self"
        rows.append({"protocol": name, "leaky": include_self, **result.overall, "seconds": seconds})
        tables.append(result.to_markdown())
    started = time.perf_counter()
    model = ClusterNeighborRecommender(n_clusters=5, preset="notebook", seed=0)
    honest = evaluate_user_split(model, ratings, 0.2)
    seconds = time.perf_counter() - started
    rows.append(
        {"protocol": "users (honest)", "leaky": False, **honest.overall, "seconds": seconds}
    )
    tables.append(honest.to_markdown())
    lines = [
        "# The notebook's error, visible (MovieLens-100K, 943 users, L = 5, notebook preset)",
        "",
        "Written by `benchmarks/notebook_leaky.py`. The first row is LEAKY on purpose: every",
        "user is their own nearest neighbour, so the rating to predict is one of the network's",
        "inputs and the random row split tests it on ratings whose copy it was given. Its test",
        "error measures copying, not prediction; the honest figure is the last row.",
        "",
        "| protocol | leaky | train MAE | test MAE | test RMSE | test ratings | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['protocol']} | {'LEAKY' if row['leaky'] else 'no'} | "
            f"{row['train_mae']:.4f} | {row['test_mae']:.4f} | {row['test_rmse']:.4f} | "
            f"{row['test_ratings']:,} | {row['seconds']:.0f} |"
        )
    lines += ["", "Times are indicative (a shared 2-core machine).", ""]
    for table in tables:
        lines += [table, ""]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "notebook_leaky.md").write_text("\n".join(lines), encoding="utf-8")
    (RESULTS / "notebook_leaky.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n".join(lines[:14]))


if __name__ == "__main__":
    main()
