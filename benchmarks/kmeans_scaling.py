"""Masked k-means that scales: today's full form against the new default, side by side.

    .venv/bin/python benchmarks/kmeans_scaling.py [--clusters 5] [--n-init 2] [--repeats 3]
        [--today-repeats 1] [--metrics euclidean,euclidean_rms,cosine]

Measures, in one run on this machine, single-threaded (``threadpoolctl``), per metric:

1. **25k users**: the generated full-size file (``default_dataset_path("full", 0)``) kept at
   >= 20 ratings as ``clusterrec run ... --set data.min_ratings=20 --set
   data.max_ratings=none`` keeps it (24,702 users, 1.8M ratings, 240K movies). One L
   (``--clusters``, default 5) with the run's ``n_init`` (``[clustering] n_init``, 2):
   * **today**: every restart on all users with the distances engine's sparse x sparse
     products and the sort-based update, the code before this change
     (``_masked_kmeans(..., sample_size=None, products="engine")``), ``--today-repeats`` runs;
   * **full, tables**: the same algorithm with the dense centroid tables
     (``masked_kmeans(..., sample_size=None)``; the same labels, to the last bit), one run:
     how much of the gain is the cheaper step;
   * **new** (the default, ``masked_kmeans(...)``): restarts on a seeded sample of
     ``DEFAULT_KMEANS_SAMPLE_SIZE`` users, the best refined on all users;
     median of ``--repeats`` runs.
   Ratio = today / new. Objectives: :func:`~clusterrec.clustering.kmeans.kmeans_objective`
   of each solution's labels on all users (one function for both), their relative
   difference, and the adjusted Rand index between the two solutions.
2. **Seed-size data**: ``default_dataset_path("seed", 0)`` kept at 150..300 ratings (the
   run's range for generated data; 1,079 users): today against the new default (at this size
   the full form with tables: the sample is not smaller than the data), and the sampled form
   forced with a sample of ``--seed-sample`` users (default 500) to show what sampling costs
   in objective on small data.

Seconds are CPU seconds of the process (``time.process_time``; wall seconds too in the JSON):
the machine is shared, and CPU time is what other work changes least. Prints the tables and
writes ``benchmarks/results/kmeans_scaling.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from clusterrec.clustering._common import DEFAULT_KMEANS_SAMPLE_SIZE
from clusterrec.clustering.kmeans import (
    _REFINE_STEPS,
    _SAMPLE_MAX_ITER,
    _masked_kmeans,
    kmeans_objective,
)
from clusterrec.data.filtering import filter_users
from clusterrec.data.readers import read_ratings
from clusterrec.data.synthetic import default_dataset_path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
METRICS = ("euclidean", "euclidean_rms", "cosine")
SEED = 0


def load(size: str, min_ratings: int, max_ratings: int | None):
    """The generated data of ``size`` filtered as the run filters it."""
    ratings = read_ratings(default_dataset_path(size, 0))
    kept, _ = filter_users(ratings, min_ratings, max_ratings)
    return kept.matrix()


def timed(repeats: int, **options) -> tuple[list[float], list[float], object]:
    """Wall and CPU seconds of each of ``repeats`` calls, and the (identical, seeded) last
    result. CPU seconds (``process_time``, one thread) are what other work on the machine
    changes least."""
    wall, cpu, result = [], [], None
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = _masked_kmeans(**options)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu, result


def compare(R, metric: str, today, new) -> dict:
    """Both solutions' objectives on all users by the same function, and their agreement."""
    today_objective = kmeans_objective(R, today.labels, metric)
    new_objective = kmeans_objective(R, new.labels, metric)
    return {
        "objective_today": today_objective,
        "objective_new": new_objective,
        "relative_difference": new_objective / today_objective - 1.0,
        "ari": float(adjusted_rand_score(today.labels, new.labels)),
        "iterations_today": int(today.n_iter),
        "iterations_new": int(new.n_iter),
        "converged_new": bool(new.converged),
    }


def large(R, metric: str, args: argparse.Namespace) -> dict:
    base = {"R": R, "n_clusters": args.clusters, "metric": metric, "n_init": args.n_init}
    base["seed"] = SEED
    # the new form's runs bracket the long ones, so all see the machine's load of the moment
    first = (args.repeats + 1) // 2
    new_s, new_cpu, new = timed(first, **base)
    today_s, today_cpu, today = timed(
        args.today_repeats, sample_size=None, products="engine", **base
    )
    more_s, more_cpu, _ = timed(args.repeats - first, **base)
    tables_s, tables_cpu, tables = timed(1, sample_size=None, **base)
    new_s, new_cpu = new_s + more_s, new_cpu + more_cpu
    row = {
        "metric": metric,
        "seconds_today": today_s,
        "seconds_full_tables": tables_s,
        "seconds_new": new_s,
        "cpu_today": today_cpu,
        "cpu_full_tables": tables_cpu,
        "cpu_new": new_cpu,
        "tables_same_labels": bool((tables.labels == today.labels).all()),
    }
    for kind in ("seconds", "cpu"):
        for form in ("today", "full_tables", "new"):
            row[f"median_{kind}_{form}"] = statistics.median(row[f"{kind}_{form}"])
    row["ratio"] = row["median_seconds_today"] / row["median_seconds_new"]
    row["ratio_cpu"] = row["median_cpu_today"] / row["median_cpu_new"]
    row["ratio_tables_cpu"] = row["median_cpu_today"] / row["median_cpu_full_tables"]
    return row | compare(R, metric, today, new)


def small(R, metric: str, args: argparse.Namespace) -> dict:
    base = {"R": R, "n_clusters": args.clusters, "metric": metric, "n_init": args.n_init}
    base["seed"] = SEED
    _, today_cpu, today = timed(1, sample_size=None, products="engine", **base)
    _, new_cpu, new = timed(1, **base)
    _, sampled_cpu, sampled = timed(1, sample_size=args.seed_sample, **base)
    forced = compare(R, metric, today, sampled)
    return {
        "metric": metric,
        "cpu_today": today_cpu[0],
        "cpu_new": new_cpu[0],
        "cpu_sampled": sampled_cpu[0],
        **compare(R, metric, today, new),
        "objective_sampled": forced["objective_new"],
        "relative_difference_sampled": forced["relative_difference"],
        "ari_sampled": forced["ari"],
    }


def render(r: dict) -> str:
    a = r["args"]
    lines = [
        "# Masked k-means at 25k users: today's full form against the new default",
        "",
        f"Written by `benchmarks/kmeans_scaling.py` (command: `{r['command']}`). Machine: "
        f"{r['machine']}, single-threaded (threadpoolctl), shared with other work: load "
        f"average {r['load_before']:.1f} before, {r['load_after']:.1f} after. Seconds are CPU "
        "seconds of the process (`time.process_time`, what the other work changes least; "
        "wall seconds in the JSON and below); the ratios compare runs made side by side in "
        "this one run, the new form's runs before and after the long ones. L = "
        f"{a['clusters']}, n_init = {a['n_init']} (the run's), seed {SEED}.",
        "",
        "* **today**: every restart on all users, the distances engine's sparse x sparse "
        "products, sort-based update (the code before this change; "
        f"{a['today_repeats']} run{'s' if a['today_repeats'] > 1 else ''}).",
        "* **full, tables**: the same algorithm with dense centroid tables (the default below "
        f"{r['sample_size']:,} users); same labels as today: "
        f"{', '.join(str(x['tables_same_labels']) for x in r['large'])} (one run).",
        f"* **new** (default above {r['sample_size']:,} users): the n_init restarts on a "
        f"seeded sample of {r['sample_size']:,} users (at most {r['sample_max_iter']} steps "
        f"each), the best refined on all users by at most {r['refine_steps']} assignment "
        f"steps (median of {a['repeats']} runs).",
        "",
        f"## {r['large_shape']}",
        "",
        "| metric | today s | full, tables s | new s (median) | today / new | wall: today / "
        "new | objective today | objective new | new vs today | ARI | steps on all users, "
        "today / new |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x in r["large"]:
        lines.append(
            f"| {x['metric']} | {x['median_cpu_today']:.2f} | "
            f"{x['median_cpu_full_tables']:.2f} | {x['median_cpu_new']:.2f} | "
            f"**{x['ratio_cpu']:.1f}x** | {x['median_seconds_today']:.1f} / "
            f"{x['median_seconds_new']:.2f} = {x['ratio']:.1f}x | {x['objective_today']:.6g} | "
            f"{x['objective_new']:.6g} | {x['relative_difference']:+.2%} | {x['ari']:.3f} | "
            f"{x['iterations_today']} (best restart) / {x['iterations_new']} |"
        )
    lines += [
        "",
        "new, CPU s of each run: "
        + "; ".join(
            f"{x['metric']} {', '.join(f'{s:.2f}' for s in x['cpu_new'])}" for x in r["large"]
        )
        + ". Objectives: `kmeans_objective` of each solution's labels on all users (each "
        "user's cost to the mean of the other members of their cluster; lower is better). "
        "ARI: adjusted Rand index between today's and the new labels (two local optima of "
        "the same objective can differ much while scoring alike).",
        "",
        f"## {r['small_shape']}",
        "",
        "| metric | today s | new s | objective today | objective new | new vs today | ARI | "
        f"sampled ({a['seed_sample']} users) s | its objective | vs today | its ARI |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x in r["small"]:
        lines.append(
            f"| {x['metric']} | {x['cpu_today']:.2f} | {x['cpu_new']:.2f} | "
            f"{x['objective_today']:.6g} | {x['objective_new']:.6g} | "
            f"**{x['relative_difference']:+.2%}** | {x['ari']:.3f} | "
            f"{x['cpu_sampled']:.2f} | {x['objective_sampled']:.6g} | "
            f"{x['relative_difference_sampled']:+.2%} | {x['ari_sampled']:.3f} |"
        )
    lines += [
        "",
        f"At this size the default is the full form (fewer users than {r['sample_size']:,}); "
        "the last three columns force the sampled form to show what it costs on small data.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=5)
    parser.add_argument("--n-init", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--today-repeats", type=int, default=1)
    parser.add_argument("--seed-sample", type=int, default=500)
    parser.add_argument("--metrics", default=",".join(METRICS))
    args = parser.parse_args()
    metrics = args.metrics.split(",")
    load_before = os.getloadavg()[0]
    small_R = load("seed", 150, 300)
    large_R = load("full", 20, None)
    result = {
        "command": "python benchmarks/kmeans_scaling.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "args": vars(args),
        "sample_size": DEFAULT_KMEANS_SAMPLE_SIZE,
        "refine_steps": _REFINE_STEPS,
        "sample_max_iter": _SAMPLE_MAX_ITER,
        "load_before": load_before,
        "large_shape": f"Generated full file, >= 20 ratings: {large_R.shape[0]:,} users, "
        f"{large_R.nnz:,} ratings, {large_R.shape[1]:,} movies",
        "small_shape": f"Seed-size generated data, 150..300 ratings: {small_R.shape[0]:,} "
        f"users, {small_R.nnz:,} ratings, {small_R.shape[1]:,} movies",
        "large": [],
        "small": [],
    }
    with threadpool_limits(1):
        for metric in metrics:
            result["small"].append(small(small_R, metric, args))
            print(json.dumps(result["small"][-1]), flush=True)
        for metric in metrics:
            result["large"].append(large(large_R, metric, args))
            print(json.dumps(result["large"][-1]), flush=True)
    result["load_after"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kmeans_scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    text = render(result)
    (RESULTS / "kmeans_scaling.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
