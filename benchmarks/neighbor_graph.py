"""The exact Jaccard top-k neighbour graph of every user of the full generated file.

    .venv/bin/python benchmarks/neighbor_graph.py [--k 20] [--sizes 100000,400000]
        [--repeats 3] [--sample 1000] [--memory-budget 1073741824] [--blocked-users 20000]

On ``default_dataset_path("full", 0)`` (4,685,016 ratings, 1,499,238 users, 351,450 movies),
every user kept (Rmin = 1), each measurement in a fresh subprocess:

1. **Full graph.** ``read_ratings`` of the file, ``Ratings.matrix()``, then
   ``nearest_neighbors(R, "jaccard", k, method="inverted", memory_budget=...)`` for all
   users, timed; the peak resident memory (VmHWM) of the reading and, after a reset
   (``/proc/self/clear_refs``), of the graph stage, which includes the data already held.
   Then the **brute-force check**: ``--sample`` users drawn at random (seed 0); for each, the
   Jaccard distance to every one of the 1.5M users (intersections from one scipy product
   ``M[sample] @ M.T``, independent of the inverted-index kernel), the k smallest
   (distance, index) keys by ``np.partition`` over all users; compared with the graph's
   rows: identical rows (indices and distances), and identical neighbour sets ties aside
   (the same distances, the same users strictly nearer than the k-th distance).
2. **Growth with n.** Random subsets of ``--sizes`` users (seed 0, every movie kept), the
   graph timed ``--repeats`` times each (median), threads as for the full graph; the slope
   of log(time) on log(n) and on log(pair work), the sum over movies of raters².
3. **Threads.** The largest subset with one numba thread, side by side with the default.
4. **Against the blocked search.** ``--blocked-users`` random users: ``method="blocked"``
   (row blocks against all users, O(n²)) and ``method="inverted"`` in one process, same
   result checked.

The reading is done once by the parent into ``benchmarks/data/full-seed0-matrix.npz``
(ignored by git) for parts 2 to 4; part 1 reads the ``.npy`` file itself. The numba kernel's
compilation is cached (``cache=True``); each child loads it before timing (reported).
Writes ``benchmarks/results/neighbor_graph.md`` and ``neighbor_graph.json``.
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
import scipy.sparse as sp
from benchmark_data import memory_status, reset_peak

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MATRIX = HERE / "data" / "full-seed0-matrix.npz"


# -- memory ---------------------------------------------------------------------------------------


# -- children -------------------------------------------------------------------------------------


def _warm_up() -> float:
    """Load (or compile, the first time) the numba kernel on a tiny matrix; seconds."""
    from clusterrec.distances.neighbors import nearest_neighbors

    started = time.perf_counter()
    nearest_neighbors(sp.csr_matrix(np.eye(3)), "jaccard", 2, method="inverted")
    return time.perf_counter() - started


def _subset(R: sp.csr_matrix, n_users: int) -> sp.csr_matrix:
    if n_users >= R.shape[0]:
        return R
    rows = np.sort(np.random.default_rng(0).choice(R.shape[0], n_users, replace=False))
    return R[rows]


def _pair_work(R: sp.csr_matrix) -> int:
    pop = np.bincount(R.indices, minlength=R.shape[1]).astype(np.int64)
    return int(pop @ pop)


def _graph(R: sp.csr_matrix, k: int, budget: int | None) -> tuple[dict, np.ndarray, np.ndarray]:
    import numba

    from clusterrec.distances import inverted
    from clusterrec.distances.neighbors import nearest_neighbors

    threads, rows = inverted._plan(R.shape[0], R.nnz, R.shape[1], k, budget)
    out = {"threads": threads, "block_rows": rows, "numba_threads": numba.get_num_threads()}
    before = reset_peak()
    cpu = os.times()
    started = time.perf_counter()
    indices, distances = nearest_neighbors(R, "jaccard", k, method="inverted", memory_budget=budget)
    out["seconds"] = time.perf_counter() - started
    done = os.times()
    out["cpu_s"] = done.user - cpu.user + done.system - cpu.system
    out["peak_mib"] = memory_status("VmHWM")
    out["stage_mib"] = out["peak_mib"] - before
    out["padded_slots"] = int((distances >= 1).sum())
    out["self_neighbours"] = int((indices == np.arange(len(indices))[:, None]).sum())
    return out, indices, distances


def brute_force_check(
    R: sp.csr_matrix, indices: np.ndarray, distances: np.ndarray, sample: int
) -> dict:
    """Each sampled user's k nearest by their distance to every user (see the docstring)."""
    n, k = indices.shape
    users = np.sort(np.random.default_rng(0).choice(n, sample, replace=False))
    M = sp.csr_matrix((np.ones(R.nnz), R.indices, R.indptr), shape=R.shape)
    sizes = np.diff(M.indptr).astype(np.float64)
    started = time.perf_counter()
    shared_rows = (M[users] @ M.T).tocsr()
    everyone = np.arange(n, dtype=np.uint64)
    identical = same_sets = 0
    mismatches = []
    for row, u in enumerate(users):
        shared = np.zeros(n)
        lo, hi = shared_rows.indptr[row], shared_rows.indptr[row + 1]
        shared[shared_rows.indices[lo:hi]] = shared_rows.data[lo:hi]
        union = sizes[u] + sizes - shared
        d = np.where(union > 0, 1.0 - shared / np.maximum(union, 1), 1.0).astype(np.float32)
        keys = (d.view(np.uint32).astype(np.uint64) << np.uint64(32)) | everyone
        keys[u] = np.uint64(0xFFFFFFFF_FFFFFFFF)  # never one's own neighbour
        best = np.sort(np.partition(keys, k - 1)[:k])
        ref_idx = (best & np.uint64(0xFFFFFFFF)).astype(np.int64)
        ref_d = (best >> np.uint64(32)).astype(np.uint32).view(np.float32)
        if np.array_equal(ref_idx, indices[u]) and np.array_equal(ref_d, distances[u]):
            identical += 1
        kth = ref_d[-1]
        if np.array_equal(ref_d, distances[u]) and set(ref_idx[ref_d < kth]) == set(
            indices[u][distances[u] < kth]
        ):
            same_sets += 1
        elif len(mismatches) < 5:
            mismatches.append(int(u))
    return {
        "sample": sample,
        "identical_rows": identical,
        "same_sets_ties_aside": same_sets,
        "mismatched_users": mismatches,
        "seconds": time.perf_counter() - started,
    }


def full_child(k: int, budget: int | None, sample: int) -> dict:
    from clusterrec.data.readers import read_ratings
    from clusterrec.data.synthetic import default_dataset_path

    out: dict = {"warm_up_s": _warm_up()}
    started = time.perf_counter()
    ratings = read_ratings(default_dataset_path("full", 0))
    R = ratings.matrix().tocsr()
    del ratings
    out["read_s"] = time.perf_counter() - started
    out["read_peak_mib"] = memory_status("VmHWM")
    out["shape"] = [R.shape[0], R.shape[1], R.nnz]
    out["pair_work"] = _pair_work(R)
    out["max_popularity"] = int(np.bincount(R.indices).max())
    graph, indices, distances = _graph(R, k, budget)
    out |= graph
    if sample:
        out["check"] = brute_force_check(R, indices, distances, sample)
    return out


def subset_child(n_users: int, k: int, budget: int | None, repeats: int) -> dict:
    R = _subset(sp.load_npz(MATRIX).tocsr(), n_users)
    out: dict = {"warm_up_s": _warm_up(), "users": R.shape[0], "pair_work": _pair_work(R)}
    runs = [_graph(R, k, budget)[0] for _ in range(repeats)]
    out |= runs[-1]
    out["runs_s"] = [r["seconds"] for r in runs]
    out["seconds"] = statistics.median(out["runs_s"])
    out["cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
    return out


def blocked_child(n_users: int, k: int) -> dict:
    from clusterrec.distances.neighbors import nearest_neighbors

    R = _subset(sp.load_npz(MATRIX).tocsr(), n_users)
    out: dict = {"warm_up_s": _warm_up(), "users": R.shape[0]}
    results = {}
    for method in ("blocked", "inverted"):
        started = time.perf_counter()
        results[method] = nearest_neighbors(R, "jaccard", k, method=method)
        out[f"{method}_s"] = time.perf_counter() - started
    out["identical"] = bool(
        np.array_equal(results["blocked"][0], results["inverted"][0])
        and np.array_equal(results["blocked"][1], results["inverted"][1])
    )
    return out


# -- parent ---------------------------------------------------------------------------------------


def run_child(*args: str, threads: int | None = None) -> dict:
    env = dict(os.environ)
    if threads is not None:
        env["NUMBA_NUM_THREADS"] = str(threads)
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def slope(x: list[float], y: list[float]) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def render(r: dict, command: str) -> str:
    full, check = r["full"], r["full"]["check"]
    budget = r["memory_budget"]
    lines = [
        "# The exact Jaccard neighbour graph of every user (full generated file)",
        "",
        f"Written by `benchmarks/neighbor_graph.py` (`{command}`). Machine: {r['machine']}, "
        "shared with other engineers' work while it ran (seconds are as steady as that load). "
        f'Data: `default_dataset_path("full", 0)`, {full["shape"][0]:,} users x '
        f"{full['shape'][1]:,} movies, {full['shape'][2]:,} ratings, every user kept "
        f"(Rmin = 1); largest movie popularity {full['max_popularity']:,}; pair work (sum over "
        f"movies of raters²) {full['pair_work']:.3g}. "
        f'`nearest_neighbors(R, "jaccard", {r["k"]}, method="inverted", '
        f"memory_budget={budget})`, numba with {full['threads']} threads (`NUMBA_NUM_THREADS`), "
        f"{full['block_rows']:,} query users per kernel call (at most 65,536; fewer when the "
        "budget asks).",
        "",
        "## All users",
        "",
        "| | value |",
        "|---|---:|",
        f"| users | {full['shape'][0]:,} |",
        f"| graph seconds (k = {r['k']}) | {full['seconds']:.1f} |",
        f"| graph CPU seconds, all threads (steadier than the wall clock on a shared machine) | "
        f"{full['cpu_s']:.1f} |",
        f"| peak RSS during the graph, MiB (data included) | {full['peak_mib']:,.0f} |",
        f"| of which the graph stage added, MiB | {full['stage_mib']:,.0f} |",
        f"| peak RSS of reading the file, MiB | {full['read_peak_mib']:,.0f} |",
        f"| reading seconds | {full['read_s']:.1f} |",
        f"| numba kernel load before timing, s | {full['warm_up_s']:.2f} |",
        f"| neighbour slots at distance 1 (padding: fewer than k users share a movie) | "
        f"{full['padded_slots']:,} |",
        f"| self-neighbours | {full['self_neighbours']} |",
        "",
        f"**Brute-force check** on {check['sample']:,} random users (each one's distance to "
        f"all {full['shape'][0]:,} users, {check['seconds']:.0f} s): "
        f"**{check['identical_rows']:,} / {check['sample']:,} rows identical** (indices and "
        f"distances, ties to the smaller index), {check['same_sets_ties_aside']:,} / "
        f"{check['sample']:,} identical neighbour sets ties aside"
        + (f"; mismatched users: {check['mismatched_users']}" if check["mismatched_users"] else "")
        + ".",
        "",
        *_small_budget_lines(r),
        "## Growth with the number of users (random subsets, every movie kept)",
        "",
        "| users | pair work | seconds (median) | runs | CPU s | peak MiB | stage MiB |",
        "|---:|---:|---:|---|---:|---:|---:|",
    ]
    for g in r["growth"]:
        runs = ", ".join(f"{s:.1f}" for s in g["runs_s"])
        lines.append(
            f"| {g['users']:,} | {g['pair_work']:.3g} | {g['seconds']:.1f} | {runs} | "
            f"{g['cpu_s']:.1f} | {g['peak_mib']:,.0f} | {g['stage_mib']:,.0f} |"
        )
    lines += [
        "",
        f"Time ∝ n^{r['slope_n']:.2f} and ∝ (pair work)^{r['slope_work']:.2f} (least squares "
        "over the subsets and the full graph). The pair work of a random subset grows as n²; "
        "the all-pairs blocked search does n² pairs plus the same products.",
        "",
        "## Threads and the blocked search, side by side",
        "",
    ]
    t = r["threads"]
    lines.append(
        f"{t['users']:,} users: {t['one_s']:.1f} s with 1 numba thread, {t['default_s']:.1f} s "
        f"with {t['default_threads']} (ratio {t['one_s'] / t['default_s']:.2f}; CPU "
        f"{t['one_cpu_s']:.1f} s and {t['default_cpu_s']:.1f} s; the machine is shared, so "
        "the second core is not always free)."
    )
    b = r["blocked"]
    lines += [
        "",
        f'{b["users"]:,} users: `method="blocked"` {b["blocked_s"]:.2f} s, '
        f'`method="inverted"` {b["inverted_s"]:.2f} s '
        f"({b['blocked_s'] / b['inverted_s']:.0f}x), results identical: {b['identical']}.",
        "",
    ]
    return "\n".join(lines)


def _small_budget_lines(r: dict) -> list[str]:
    small = r.get("small_budget")
    if not small:
        return []
    return [
        f"Under `memory_budget={small['memory_budget']:,}` ({small['memory_budget'] / 1024**2:.0f} "
        f"MiB): {small['threads']} threads, {small['block_rows']:,} query users per kernel call, "
        f"{small['seconds']:.1f} s ({small['cpu_s']:.1f} s CPU), peak {small['peak_mib']:,.0f} "
        f"MiB, the stage added {small['stage_mib']:,.0f} MiB (the result, 12·n·k bytes = "
        f"{12 * small['shape'][0] * r['k'] / 1024**2:,.0f} MiB, included).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--sizes", default="100000,400000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--memory-budget", type=int, default=1024**3)
    parser.add_argument("--blocked-users", type=int, default=20_000)
    parser.add_argument(
        "--small-budget",
        type=int,
        default=512 * 1024**2,
        help="also build the full graph under this budget (no check); 0: skip",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument(
        "--render", action="store_true", help="rewrite the .md from the saved .json only"
    )
    args = parser.parse_args()
    budget = args.memory_budget or None
    if args.child:
        kind, *rest = args.child
        if kind == "full":
            result = full_child(args.k, budget, args.sample)
        elif kind == "subset":
            result = subset_child(int(rest[0]), args.k, budget, int(rest[1]))
        else:
            result = blocked_child(args.blocked_users, args.k)
        print(json.dumps(result))
        return

    if args.render:
        saved = json.loads((RESULTS / "neighbor_graph.json").read_text())
        (RESULTS / "neighbor_graph.md").write_text(render(saved, saved["command"]))
        return

    from clusterrec.data.readers import read_ratings
    from clusterrec.data.synthetic import default_dataset_path

    command = "python benchmarks/neighbor_graph.py " + " ".join(sys.argv[1:])
    if not MATRIX.is_file():
        MATRIX.parent.mkdir(parents=True, exist_ok=True)
        sp.save_npz(MATRIX, read_ratings(default_dataset_path("full", 0)).matrix().tocsr())
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "k": args.k,
        "memory_budget": budget,
        "command": command,
    }
    results["full"] = run_child("full", *sys.argv[1:])
    print(f"  full: {results['full']['seconds']:.1f} s", flush=True)
    if args.small_budget:
        small = ["--memory-budget", str(args.small_budget), "--sample", "0"]
        results["small_budget"] = run_child("full", *sys.argv[1:], *small)
        results["small_budget"]["memory_budget"] = args.small_budget
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results["growth"] = [
        run_child("subset", str(n), str(args.repeats), *sys.argv[1:]) for n in sizes
    ]
    full = results["full"]
    points = [(g["users"], g["pair_work"], g["seconds"]) for g in results["growth"]]
    points.append((full["shape"][0], full["pair_work"], full["seconds"]))
    results["growth"].append(
        {
            "users": full["shape"][0],
            "pair_work": full["pair_work"],
            "seconds": full["seconds"],
            "runs_s": [full["seconds"]],
            "cpu_s": full["cpu_s"],
            "peak_mib": full["peak_mib"],
            "stage_mib": full["stage_mib"],
        }
    )
    results["slope_n"] = slope([p[0] for p in points], [p[2] for p in points])
    results["slope_work"] = slope([p[1] for p in points], [p[2] for p in points])
    largest = max(sizes)
    one = run_child("subset", str(largest), str(args.repeats), *sys.argv[1:], threads=1)
    default = next(g for g in results["growth"] if g["users"] == largest)
    results["threads"] = {
        "users": largest,
        "one_s": one["seconds"],
        "default_s": default["seconds"],
        "one_cpu_s": one["cpu_s"],
        "default_cpu_s": default["cpu_s"],
        "default_threads": default["threads"],
    }
    results["blocked"] = run_child("blocked", *sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "neighbor_graph.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "neighbor_graph.md").write_text(render(results, command))
    print((RESULTS / "neighbor_graph.md").read_text())


if __name__ == "__main__":
    main()
