"""Clustering users: speed, the L each metric suggests, and the evidence for judging the metrics.

    .venv/bin/python benchmarks/bench_clustering.py [--sweep 2-10] [--n-init 4] [--no-figures]

Measures, in one run on this machine:

1. **Seed-size generated data** (``generate_dataset("seed", 0)``, users with 150..300 ratings:
   about 1,079 users x 68K movies): L = 5 for the three metrics with their default algorithms
   (masked k-means for Euclidean and cosine, FasterPAM k-medoids for Jaccard; average linkage
   on Jaccard for comparison). Seconds for the distance matrix, the clustering and the
   silhouette; adjusted Rand index against the planted taste groups. Target: < 60 s together.
2. **The L sweep** (default 2..10) for the three metrics on the same data. Target: < 5 min.
3. **MovieLens-100K, all users** (``../shared/datasets/fetch-ml100k``): the same sweep per
   metric: the L chosen (largest silhouette), its silhouette, cluster sizes and seconds.
4. **The evidence table** (share of pairs without a co-rated movie, distance quantiles, size
   balance, silhouette, Spearman correlation with the co-rated count, agreement) for both.

Distances use the shrinkage the run uses (``MEASURED_SHRINKAGE``), not the functions' default 0.

Prints the tables and writes ``benchmarks/results/clustering.md``, ``clustering.json``, the
evidence as ``clustering_evidence_{seed,ml100k}.csv`` and, unless ``--no-figures``, the
choose-L and 2-D figures as ``clustering_{choose_L,2d}_{seed,ml100k}.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from clusterrec.cli.cluster import write_evidence_csv
from clusterrec.clustering._common import default_algorithm
from clusterrec.clustering.embedding import embed_sweep
from clusterrec.clustering.entry import cluster_users
from clusterrec.clustering.sweep import silhouette, sweep_distances, sweep_n_clusters
from clusterrec.data.filtering import filter_users
from clusterrec.data.readers import read_ratings
from clusterrec.data.synthetic import generate_dataset, write_dataset_npy
from clusterrec.distances.engine import MEASURED_SHRINKAGE
from clusterrec.distances.pairwise import pairwise_distances
from clusterrec.evaluation.evidence import metric_evidence
from clusterrec.viz.clusters import choose_n_clusters_figure, cluster_embedding_figure, pick_panels
from clusterrec.viz.data import save_figure

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
SHARED = HERE.parent.parent / "shared"
METRICS = ("euclidean", "cosine", "jaccard")
FIXED_L = 5


# -- data -----------------------------------------------------------------------------------------


def seed_data() -> tuple[object, np.ndarray]:
    """The seed-size generated data with 150..300 ratings per user, and the planted groups."""
    generated = generate_dataset("seed", seed=0)
    path = DATA / "seed-seed0.npy"
    if not path.exists():
        write_dataset_npy(path, generated.records)
    kept, _ = filter_users(read_ratings(path), 150, 300)
    group_of = dict(
        zip(generated.user_labels.tolist(), generated.taste_groups.tolist(), strict=True)
    )
    truth = np.array([group_of[label] for label in kept.user_labels])
    return kept, truth


def ml100k() -> object | None:
    script = SHARED / "datasets" / "fetch-ml100k"
    if not script.exists():
        return None
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout
    return read_ratings(Path(out.strip().splitlines()[-1]) / "u.data")


# -- measurements ---------------------------------------------------------------------------------


def fixed_L(ratings: object, truth: np.ndarray, n_init: int) -> dict:
    """L = 5 for each metric with its algorithm (and Jaccard average linkage): timed stages."""
    rows = []
    started = time.perf_counter()
    runs = [(m, default_algorithm(m)) for m in METRICS] + [("jaccard", "agglomerative")]
    distances = {}
    for metric, algorithm in runs:
        t0 = time.perf_counter()
        if metric not in distances:
            distances[metric] = pairwise_distances(ratings, metric, shrinkage=MEASURED_SHRINKAGE)
        t1 = time.perf_counter()
        result = cluster_users(
            ratings,
            FIXED_L,
            metric,
            algorithm,
            distances=distances[metric],
            n_init=n_init,
            shrinkage=MEASURED_SHRINKAGE,
        )
        t2 = time.perf_counter()
        score = silhouette(distances[metric], result.labels)
        t3 = time.perf_counter()
        rows.append(
            {
                "metric": metric,
                "algorithm": algorithm,
                "distances_s": t1 - t0,
                "cluster_s": t2 - t1,
                "silhouette_s": t3 - t2,
                "total_s": t3 - t0,
                "n_iter": result.n_iter,
                "objective": result.objective,
                "silhouette": score,
                "sizes": result.sizes.tolist(),
                "ari_vs_planted": float(adjusted_rand_score(truth, result.labels)),
            }
        )
        print(f"  L={FIXED_L} {metric:>9} {algorithm:<13} {t3 - t0:6.2f} s", flush=True)
    three = sum(r["total_s"] for r in rows if r["algorithm"] == default_algorithm(r["metric"]))
    return {"rows": rows, "three_metrics_s": three, "wall_s": time.perf_counter() - started}


def sweep_all(ratings: object, values: list[int], n_init: int) -> dict:
    """The sweep for each metric with its default algorithm; the sweeps and their timings."""
    sweeps, seconds = {}, {}
    for metric in METRICS:
        started = time.perf_counter()
        D = sweep_distances(ratings, metric, shrinkage=MEASURED_SHRINKAGE)
        sweeps[metric] = sweep_n_clusters(
            ratings, metric, values, distances=D, n_init=n_init, shrinkage=MEASURED_SHRINKAGE
        )
        seconds[metric] = time.perf_counter() - started
        print(f"  sweep {metric:>9}: {seconds[metric]:6.2f} s", flush=True)
    return {"sweeps": sweeps, "seconds": seconds, "total_s": sum(seconds.values())}


def sweep_summary(sweeps: dict, seconds: dict, truth: np.ndarray | None) -> list[dict]:
    rows = []
    for metric, sweep in sweeps.items():
        chosen = sweep.point(sweep.suggested)
        row = {
            "metric": metric,
            "algorithm": sweep.algorithm,
            "suggested_L": sweep.suggested,
            "silhouette": chosen.silhouette,
            "sizes": chosen.clustering.sizes.tolist(),
            "seconds": seconds[metric],
            "silhouette_by_L": {p.n_clusters: p.silhouette for p in sweep.points},
            "objective_by_L": {p.n_clusters: p.clustering.objective for p in sweep.points},
        }
        if truth is not None:
            row["ari_vs_planted"] = float(adjusted_rand_score(truth, chosen.clustering.labels))
        rows.append(row)
    return rows


def evidence_for(ratings: object, sweeps: dict, truth: np.ndarray | None) -> dict:
    return metric_evidence(
        ratings,
        {m: s.point(s.suggested).clustering.labels for m, s in sweeps.items()},
        {m: s.distances for m, s in sweeps.items()},
        algorithms={m: s.algorithm for m, s in sweeps.items()},
        truth=truth,
    )


def write_figures(sweeps: dict, name: str) -> list[str]:
    paths = [
        save_figure(
            choose_n_clusters_figure(list(sweeps.values())),
            RESULTS / f"clustering_choose_L_{name}.png",
        )
    ]
    embeddings, labels, shares = {}, {}, {}
    for metric, sweep in sweeps.items():
        users, embeddings[metric], shares[metric] = embed_sweep(sweep)
        shown = pick_panels([p.n_clusters for p in sweep.points], sweep.suggested, 4)
        labels[metric] = {L: sweep.point(L).clustering.labels[users] for L in shown}
    figure = cluster_embedding_figure(embeddings, labels, axis_shares=shares)
    paths.append(save_figure(figure, RESULTS / f"clustering_2d_{name}.png"))
    return [str(p.relative_to(HERE.parent)) for p in paths]


# -- report ---------------------------------------------------------------------------------------


def render(results: dict) -> str:
    seed = results["seed"]
    lines = [
        f"# Clustering users ({results['machine']})",
        "",
        f"## Seed-size generated data: {seed['data']}",
        "",
        f"L = {FIXED_L}, each metric with its algorithm; three metrics together "
        f"**{seed['fixed']['three_metrics_s']:.1f} s** (target < 60 s).",
        "",
        "| metric | algorithm | distances s | cluster s | silhouette s | total s | iterations "
        "| silhouette | ARI vs planted | sizes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in seed["fixed"]["rows"]:
        lines.append(
            f"| {r['metric']} | {r['algorithm']} | {r['distances_s']:.2f} | {r['cluster_s']:.2f} "
            f"| {r['silhouette_s']:.2f} | {r['total_s']:.2f} | {r['n_iter']} "
            f"| {_f(r['silhouette'])} | {r['ari_vs_planted']:.3f} | {_sizes(r['sizes'])} |"
        )
    lines += [
        "",
        f"Sweep L = {results['sweep']}: three metrics **{seed['sweep_total_s']:.1f} s** "
        "(target < 300 s).",
        "",
        *_sweep_table(seed["sweep"], with_truth=True),
        "",
        *_evidence_tables(seed["evidence"]),
    ]
    if results.get("ml100k"):
        ml = results["ml100k"]
        lines += [
            "",
            f"## MovieLens-100K, all users: {ml['data']}",
            "",
            f"Sweep L = {results['sweep']}: three metrics {ml['sweep_total_s']:.1f} s.",
            "",
            *_sweep_table(ml["sweep"], with_truth=False),
            "",
            *_evidence_tables(ml["evidence"]),
        ]
    lines += ["", f"Suggested L: {results['rule']}. Figures: {', '.join(results['figures'])}."]
    return "\n".join(lines)


def _sweep_table(rows: list[dict], *, with_truth: bool) -> list[str]:
    head = "| metric | algorithm | L chosen | silhouette | sizes | sweep s | silhouette by L |"
    rule = "|---|---|---|---|---|---|---|"
    if with_truth:
        head, rule = head + " ARI vs planted |", rule + "---|"
    lines = [head, rule]
    for r in rows:
        by_L = " ".join(f"{L}:{_f(s, 3)}" for L, s in r["silhouette_by_L"].items())
        line = (
            f"| {r['metric']} | {r['algorithm']} | {r['suggested_L']} | {_f(r['silhouette'])} "
            f"| {_sizes(r['sizes'])} | {r['seconds']:.1f} | {by_L} |"
        )
        lines.append(line + (f" {r['ari_vs_planted']:.3f} |" if with_truth else ""))
    return lines


def _evidence_tables(evidence: dict) -> list[str]:
    lines = [
        "Evidence (pairs u < v; quantiles over pairs where the metric is defined; at the "
        "suggested L):",
        "",
        "| metric | no co-rated movie | undefined | at max | q05 | median | q95 | IQR/median "
        "| silhouette | size entropy | largest/smallest | Spearman vs co-rated |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in evidence["metrics"]:
        lines.append(
            f"| {r['metric']} | {r['no_co_rated_share']:.2%} | {r['undefined_share']:.2%} "
            f"| {r['at_max_share']:.2%} | {_f(r['q05'])} | {_f(r['median'])} | {_f(r['q95'])} "
            f"| {_f(r['relative_iqr'])} | {_f(r['silhouette'])} | {r['size_entropy']:.3f} "
            f"| {_f(r['largest_to_smallest'], 3)} | {_f(r['spearman_co_rated'])} |"
        )
    pairs = ", ".join(
        f"{a['metric_a']}/{a['metric_b']} {a['ari']:.3f}" for a in evidence["agreement"]
    )
    return [*lines, "", f"Agreement between the metrics' clusterings (ARI): {pairs}"]


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _sizes(sizes: list[int]) -> str:
    return " ".join(str(s) for s in sizes)


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", default="2-10", help="range of L to sweep (default 2-10)")
    parser.add_argument("--n-init", type=int, default=4, help="k-means restarts (default 4)")
    parser.add_argument("--no-figures", action="store_true")
    args = parser.parse_args()
    low, high = (int(x) for x in args.sweep.split("-"))
    values = list(range(low, high + 1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)

    ratings, truth = seed_data()
    print(f"seed data: {ratings}", flush=True)
    fixed = fixed_L(ratings, truth, args.n_init)
    swept = sweep_all(ratings, values, args.n_init)
    seed_evidence = evidence_for(ratings, swept["sweeps"], truth)
    write_evidence_csv(RESULTS / "clustering_evidence_seed.csv", seed_evidence["metrics"])
    figures = [] if args.no_figures else write_figures(swept["sweeps"], "seed")
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "sweep": args.sweep,
        "n_init": args.n_init,
        "rule": next(iter(swept["sweeps"].values())).rule,
        "seed": {
            "data": _describe(ratings),
            "fixed": fixed,
            "sweep": sweep_summary(swept["sweeps"], swept["seconds"], truth),
            "sweep_total_s": swept["total_s"],
            "evidence": seed_evidence,
        },
    }
    real = ml100k()
    if real is not None:
        print(f"MovieLens-100K: {real}", flush=True)
        ml_swept = sweep_all(real, values, args.n_init)
        ml_evidence = evidence_for(real, ml_swept["sweeps"], None)
        write_evidence_csv(RESULTS / "clustering_evidence_ml100k.csv", ml_evidence["metrics"])
        if not args.no_figures:
            figures += write_figures(ml_swept["sweeps"], "ml100k")
        results["ml100k"] = {
            "data": _describe(real),
            "sweep": sweep_summary(ml_swept["sweeps"], ml_swept["seconds"], None),
            "sweep_total_s": ml_swept["total_s"],
            "evidence": ml_evidence,
        }
    results["figures"] = figures
    (RESULTS / "clustering.json").write_text(json.dumps(results, indent=2, default=_plain) + "\n")
    table = render(results)
    (RESULTS / "clustering.md").write_text(table + "\n")
    print(table)


def _describe(ratings: object) -> str:
    return f"{ratings.n_users:,} users, {ratings.n_items:,} movies, {len(ratings):,} ratings"


def _plain(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    main()
