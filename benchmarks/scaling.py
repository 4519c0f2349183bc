"""How time and memory grow with the number of users, and the full-size generated set.

    .venv/bin/python benchmarks/scaling.py [--sizes 1000,5000,20000] [--repeats 3]
        [--no-full] [--no-min20]

1. **Growth with n.** Generated users (``make_ratings`` below: ~208 ratings each, 150..300
   from a power law as in the assignment's kept users, over 68,084 movies with heavy-tailed
   Zipf-Mandelbrot popularity, ratings 1..10 around 7 from user and movie biases plus noise)
   for n = 1,000, 5,000 and 20,000. Each (stage, n) runs in a fresh subprocess that generates
   the data, prepares the stage's inputs, resets its peak-memory mark
   (``/proc/self/clear_refs``) and runs the stage:

   * **distances**: ``pairwise_distances(R, ("jaccard", "cosine", "euclidean"))``, three dense
     n x n float32 matrices (no memory budget);
   * **k-medoids (Jaccard)**: ``kmedoids_precomputed`` (FasterPAM, L = 5) on the Jaccard matrix
     (computed before the stage, untimed);
   * **masked k-means (cosine)**: ``masked_kmeans(R, 5, "cosine")`` (4 restarts);
   * **top-k neighbours**: ``nearest_neighbors(R, "jaccard", 6)`` in row blocks (no n x n);
   * **training**: ``ClusterNeighborRecommender(n_clusters=5, preset="default").fit``, the
     whole method (Jaccard clusters, neighbours, bias baseline, rows, 5 networks); the
     networks' own share is reported too.

   Seconds are medians of ``--repeats`` runs for n < 20,000 and one run at 20,000. Memory: the
   process's peak resident memory during the stage (VmHWM after the reset, so it includes the
   data and the stage's inputs) and the stage's own increase over the resident memory before
   it. The growth exponent is the slope of log(time) on log(n) by least squares; a plot of
   both is ``benchmarks/results/scaling.png``.
2. **Full size.** The full generated ``Dataset.npy`` (``default_dataset_path("full", 0)``,
   4.69M records, 1.5M users), in one fresh subprocess: ``read_ratings``, ``filter_users``
   to 150..300 and top-k (Jaccard, k = 6) among the kept users; then, in another,
   ``filter_users`` to users with >= 20 ratings and top-k among all of them.

Writes ``benchmarks/results/scaling.md``, ``scaling.json`` and ``scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from benchmark_data import memory_status, reset_peak

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

N_ITEMS = 68_084
K = 6
L = 5
#: A stage whose memory increase stays below this at some size gets no memory exponent.
NEGLIGIBLE_MIB = 5.0
STAGES = {
    "distances": "dense Jaccard + cosine + euclidean",
    "kmedoids": "k-medoids (FasterPAM) on Jaccard, L=5",
    "kmeans": "masked k-means, cosine, L=5",
    "topk": "top-k neighbours, Jaccard, k=6",
    "training": "fit, default preset, L=5 (whole method)",
}


# -- data -----------------------------------------------------------------------------------------


def make_ratings(n_users: int, seed: int = 0):
    """n_users x 68,084 generated ratings as `Ratings` (see the module docstring)."""
    from clusterrec.data.ratings import Ratings, RatingScale

    rng = np.random.default_rng(seed)
    popularity = (np.arange(N_ITEMS) + 50.0) ** -1.0
    cdf = np.cumsum(popularity / popularity.sum())
    sizes = np.arange(150, 301)
    size_p = sizes**-1.94
    counts = rng.choice(sizes, size=n_users, p=size_p / size_p.sum())
    picks = [_distinct(rng, cdf, int(k)) for k in counts]
    users = np.repeat(np.arange(n_users), counts)
    items = rng.permutation(N_ITEMS)[np.concatenate(picks)]  # popularity not tied to ids
    user_bias = rng.normal(0.0, 1.0, n_users)
    item_bias = rng.normal(0.0, 0.8, N_ITEMS)
    raw = 7.0 + user_bias[users] + item_bias[items] + rng.normal(0.0, 1.3, users.size)
    ratings = np.clip(np.round(raw), 1, 10)
    return Ratings.from_records(users, items, ratings, scale=RatingScale(1, 10, 1))


def _distinct(rng: np.random.Generator, cdf: np.ndarray, k: int) -> np.ndarray:
    """k distinct items drawn by popularity."""
    items = np.unique(np.searchsorted(cdf, rng.random(2 * k)))
    while items.size < k:
        items = np.union1d(items, np.searchsorted(cdf, rng.random(k)))
    return rng.permutation(items)[:k]


# -- memory ---------------------------------------------------------------------------------------


# -- children -------------------------------------------------------------------------------------


def stage_child(stage: str, n_users: int) -> dict:
    """Run in a fresh subprocess: one stage on n generated users; seconds and memory."""
    from clusterrec.clustering.kmeans import masked_kmeans
    from clusterrec.clustering.medoids import kmedoids_precomputed
    from clusterrec.distances.neighbors import nearest_neighbors
    from clusterrec.distances.pairwise import pairwise_distances
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    ratings = make_ratings(n_users)
    R = ratings.matrix()
    extra: dict = {}
    if stage == "distances":
        run = lambda: pairwise_distances(  # noqa: E731
            R, ("jaccard", "cosine", "euclidean"), memory_budget=None
        )
    elif stage == "kmedoids":
        D = pairwise_distances(R, "jaccard", memory_budget=None)
        run = lambda: kmedoids_precomputed(D, L, seed=0)  # noqa: E731
    elif stage == "kmeans":
        run = lambda: masked_kmeans(R, L, "cosine", seed=0)  # noqa: E731
    elif stage == "topk":
        run = lambda: nearest_neighbors(R, "jaccard", K)  # noqa: E731
    elif stage == "training":
        run = lambda: ClusterNeighborRecommender(n_clusters=L, preset="default", seed=0).fit(  # noqa: E731
            ratings
        )
    else:
        raise SystemExit(f"unknown stage {stage}")
    before = reset_peak()
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    peak = memory_status("VmHWM")
    if stage in ("kmedoids", "kmeans"):
        extra["iterations"] = int(result.n_iter)
    if stage == "training":
        extra["networks_seconds"] = float(sum(s.seconds for s in result.summaries_))
        extra["rows"] = int(sum(s.rows for s in result.summaries_))
        extra["epochs"] = [s.epochs for s in result.summaries_]
    return {
        "stage": stage,
        "users": n_users,
        "items": int(ratings.n_items),
        "ratings": len(ratings),
        "seconds": seconds,
        "rss_before_mib": before,
        "peak_mib": peak,
        "stage_mib": peak - before,
        **extra,
    }


def full_child(part: str) -> dict:
    """Run in a fresh subprocess: the full generated set, read, filtered and top-k."""
    from clusterrec.data.filtering import filter_users
    from clusterrec.data.readers import read_ratings
    from clusterrec.data.synthetic import default_dataset_path
    from clusterrec.distances.neighbors import nearest_neighbors

    path = default_dataset_path("full", 0)
    out: dict = {"part": part}
    started = time.perf_counter()
    ratings = read_ratings(path)
    out["read_s"] = time.perf_counter() - started
    out["input"] = [len(ratings), ratings.n_users, ratings.n_items]
    bounds = (150, 300) if part == "band" else (20, None)
    started = time.perf_counter()
    kept, _ = filter_users(ratings, *bounds)
    out["filter_s"] = time.perf_counter() - started
    out["kept"] = [len(kept), kept.n_users, kept.n_items]
    del ratings
    R = kept.matrix()
    out["peak_before_topk_mib"] = memory_status("VmHWM")
    before = reset_peak()
    started = time.perf_counter()
    indices, distances = nearest_neighbors(R, "jaccard", K)
    out["topk_s"] = time.perf_counter() - started
    out["topk_peak_mib"] = memory_status("VmHWM")
    out["topk_stage_mib"] = out["topk_peak_mib"] - before
    out["self_neighbours"] = int((indices == np.arange(len(indices))[:, None]).sum())
    out["padded"] = int((indices < 0).sum())
    out["median_nearest_distance"] = float(np.median(distances[:, 0]))
    return out


# -- parent ---------------------------------------------------------------------------------------


def run_child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def growth(sizes: list[int], repeats: int, largest_once: int) -> dict:
    runs: dict[str, list[dict]] = {stage: [] for stage in STAGES}
    for n in sizes:
        for stage in STAGES:
            times = repeats if n < largest_once else 1
            measured = [run_child("--stage", stage, str(n)) for _ in range(times)]
            row = dict(measured[0])
            row["seconds"] = statistics.median(m["seconds"] for m in measured)
            row["peak_mib"] = max(m["peak_mib"] for m in measured)
            row["stage_mib"] = max(m["stage_mib"] for m in measured)
            row["repeats"] = times
            for key in ("networks_seconds", "iterations"):
                if key in row:
                    row[key] = statistics.median(m[key] for m in measured)
            runs[stage].append(row)
            print(
                f"  n={n:>6,} {stage:<10} {row['seconds']:8.2f} s  peak {row['peak_mib']:7.0f} MiB",
                flush=True,
            )
    fits = {}
    for stage, rows in runs.items():
        n = np.log([r["users"] for r in rows])
        memory = [r["stage_mib"] for r in rows]
        fits[stage] = {
            "time": float(np.polyfit(n, np.log([r["seconds"] for r in rows]), 1)[0]),
            # None: the stage allocates next to nothing beyond its inputs at every size.
            "memory": float(np.polyfit(n, np.log(memory), 1)[0])
            if min(memory) >= NEGLIGIBLE_MIB
            else None,
        }
    return {"runs": runs, "exponents": fits}


def plot(result: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), layout="constrained")
    time_axes, memory_axes = figure.subplots(1, 2)
    for stage, rows in result["runs"].items():
        n = np.array([r["users"] for r in rows], dtype=float)
        seconds = np.array([r["seconds"] for r in rows])
        memory = np.array([r["stage_mib"] for r in rows])
        slope = result["exponents"][stage]["time"]
        (line,) = time_axes.loglog(n, seconds, "o-", label=f"{stage} (n^{slope:.2f})")
        mem_slope = result["exponents"][stage]["memory"]
        memory_axes.loglog(
            n, np.maximum(memory, 1e-1), "o-", color=line.get_color(),
            label=f"{stage} (n^{mem_slope:.2f})" if mem_slope is not None else f"{stage} (no fit)",
        )  # fmt: skip
    time_axes.set(xlabel="users n", ylabel="seconds", title="Time per stage")
    memory_axes.set(
        xlabel="users n", ylabel="MiB above data and inputs", title="Peak memory of the stage"
    )
    for axes in (time_axes, memory_axes):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle(
        "clusterrec: growth with the number of users (~208 ratings each, 68,084 movies)"
    )
    figure.savefig(path, dpi=110)


def render(r: dict) -> str:
    g = r["growth"]
    lines = [
        "# Scaling with the number of users",
        "",
        f"Written by `benchmarks/scaling.py`. Machine: {r['machine']}. Generated users with "
        "~208 ratings each (150..300, power law) over 68,084 movies (heavy-tailed popularity), "
        "ratings 1..10. Each (stage, n) in a fresh subprocess; seconds are medians of "
        f"{r['repeats']} runs below 20,000 users, one run at 20,000. Peak: the process's "
        "VmHWM during the stage (data and inputs included); stage: its increase over the "
        "resident memory before the stage.",
        "",
        "| stage | users | ratings | seconds | peak MiB | stage MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage, rows in g["runs"].items():
        for row in rows:
            note = ""
            if "networks_seconds" in row:
                note = f" (networks {row['networks_seconds']:.1f})"
            if "iterations" in row:
                note = f" ({row['iterations']:.0f} iter.)"
            lines.append(
                f"| {STAGES[stage]} | {row['users']:,} | {row['ratings']:,} | "
                f"{row['seconds']:.2f}{note} | {row['peak_mib']:,.0f} | {row['stage_mib']:,.0f} |"
            )
    lines += [
        "",
        "Fitted growth (slope of log-log least squares over the sizes):",
        "",
        "| stage | time ∝ n^ | stage memory ∝ n^ |",
        "|---|---:|---:|",
    ]
    for stage, fit in g["exponents"].items():
        memory = "-" if fit["memory"] is None else f"{fit['memory']:.2f}"
        lines.append(f"| {STAGES[stage]} | {fit['time']:.2f} | {memory} |")
    lines += [
        "",
        f"-: the stage added less than {NEGLIGIBLE_MIB:g} MiB at some size, so no memory "
        "exponent is fitted (k-medoids works inside the distance matrix it is given; top-k "
        "works in row blocks sized to a fixed working-memory target, so its memory does not "
        "grow as a power of n).",
        "",
        "Plot: `benchmarks/results/scaling.png`.",
    ]
    full = r.get("full") or {}
    if full:
        lines += [
            "",
            '## Full-size generated Dataset.npy (`default_dataset_path("full", 0)`)',
            "",
            "| users kept | read s | filter s | kept ratings / users / movies | top-k s "
            "(Jaccard, k=6) | peak MiB reading + filtering | peak MiB during top-k "
            "| top-k stage MiB |",
            "|---|---:|---:|---|---:|---:|---:|---:|",
        ]
        for label, part in (("150..300 ratings", "band"), (">= 20 ratings", "min20")):
            f = full.get(part)
            if not f:
                continue
            kept = f["kept"]
            lines.append(
                f"| {label} | {f['read_s']:.1f} | {f['filter_s']:.2f} | {kept[0]:,} / "
                f"{kept[1]:,} / {kept[2]:,} | {f['topk_s']:.2f} | {f['peak_before_topk_mib']:,.0f} "
                f"| {f['topk_peak_mib']:,.0f} | {f['topk_stage_mib']:,.0f} |"
            )
        first = full.get("band") or full.get("min20")
        lines += [
            "",
            f"Input: {first['input'][0]:,} records, {first['input'][1]:,} users, "
            f"{first['input'][2]:,} movies. No user was their own neighbour "
            f"({sum(f['self_neighbours'] for f in full.values())} self-matches).",
        ]
    lines += ["", f"Total run time {r['wall_seconds'] / 60:.1f} min."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-full", action="store_true", help="skip the full-size set")
    parser.add_argument("--no-min20", action="store_true", help="skip users with >= 20 ratings")
    parser.add_argument("--stage", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--full", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage_child(args.stage[0], int(args.stage[1]))))
        return
    if args.full:
        print(json.dumps(full_child(args.full)))
        return
    started = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "sizes": sizes,
        "repeats": args.repeats,
        "growth": growth(sizes, args.repeats, largest_once=20_000),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(results["growth"], RESULTS / "scaling.png")
    if not args.no_full:
        from clusterrec.data.synthetic import default_dataset_path

        default_dataset_path("full", 0)  # generated once, outside the timed children
        results["full"] = {"band": run_child("--full", "band")}
        print(f"  full, 150..300: top-k {results['full']['band']['topk_s']:.1f} s", flush=True)
        if not args.no_min20:
            results["full"]["min20"] = run_child("--full", "min20")
            print(f"  full, >= 20: top-k {results['full']['min20']['topk_s']:.1f} s", flush=True)
    results["wall_seconds"] = time.perf_counter() - started
    (RESULTS / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")
    table = render(results)
    (RESULTS / "scaling.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
