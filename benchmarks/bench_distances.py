"""User-user distances: accuracy, speed against R @ R.T and the notebook, top-k at scale, defaults.

    .venv/bin/python benchmarks/bench_distances.py [--repeats 9] [--skip-20k] [--only SECTION]

Measures, in one run on this machine (2 shared cores: every time is a median of repeats):

1. **Accuracy**: the largest absolute difference between :mod:`clusterrec.distances` and the
   naive loops of ``tests/naive.py`` on random small sparse matrices (integer, half-star and
   arbitrary float ratings; every metric; with and without ``min_overlap`` and shrinkage).
2. **Seed size** (``generate_dataset("seed", 0)``, users with 150..300 ratings: about 1,079
   users x 68K movies, 225K ratings): the three matrices in one ``pairwise_distances`` call
   against one scipy ``R @ R.T`` on the same matrix (target: < 4x; the two take turns, so
   they share the machine's noise), and against the notebook's approach, a Python double
   loop over dense 68K-long rows (``mask = (a > 0) & (b > 0)`` ...), timed on a subsample of
   users and scaled by n² (the number of pairs it visits).
3. **Few co-rated movies** (how the defaults were chosen): 20,000 generated users (Zipf-like
   popularity over 68,084 movies, 150..300 ratings each, ratings 1..10 with mean ~7); for the
   first 2,000 users (a random sample: users are generated independently) their k = 6 nearest
   among all 20,000, under each candidate ``min_overlap`` / ``shrinkage``: the share of users
   whose 6 neighbours are all at distance 0, the share of neighbours at 0, the mean number of
   movies shared with a neighbour, and the mean |bias_u - bias_v| of the generated user biases
   (a neighbour who rates like the user has a similar bias; random pairs: ~1.13).
4. **Top-k** ``nearest_neighbors(R, "cosine", 6)`` for 1,000, 5,000 and 20,000 generated users,
   each in a fresh subprocess: seconds and peak resident memory of the subprocess (VmHWM from
   /proc/self/status; it includes the generated data and the Python runtime), and the growth
   exponent fitted by least squares on log(time) against log(n).

Prints the tables and writes ``benchmarks/results/distances.md`` and ``distances.json``.
Section 3 calls the module's private block functions so that all candidates share one set of
sparse products; they are the same functions ``nearest_neighbors`` runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from clusterrec import distances
from clusterrec.data.filtering import filter_users
from clusterrec.data.readers import read_ratings
from clusterrec.data.synthetic import generate_records, write_dataset_npy
from clusterrec.distances import engine as D
from clusterrec.distances import neighbors as N

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent / "tests"))
import naive  # noqa: E402  (the reference loops live with the tests)

N_ITEMS = 68_084
K = 6
THREE = ("euclidean", "cosine", "jaccard")
# Candidates for the protection against few co-rated movies: (min_overlap, shrinkage).
CANDIDATES = (
    (1, 0.0),
    (2, 0.0),
    (3, 0.0),
    (5, 0.0),
    (10, 0.0),
    (1, 1.0),
    (1, 2.0),
    (1, 5.0),
    (1, 10.0),
    (1, 20.0),
    (3, 5.0),
)
CANDIDATE_METRICS = ("euclidean", "euclidean_rms", "cosine")


# -- data -----------------------------------------------------------------------------------------


def seed_matrix() -> sp.csr_matrix:
    """The seed-size generated data, users with 150..300 ratings, as a CSR matrix."""
    path = DATA / "seed-seed0.npy"
    if not path.exists():
        write_dataset_npy(path, generate_records("seed", seed=0))
    kept, _ = filter_users(read_ratings(path), 150, 300)
    return kept.matrix()


def zipf_matrix(n_users: int, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """n_users x 68,084 ratings with Zipf-like popularity; also each user's rating bias.

    Popularity P(rank) ∝ (rank + 50)^-1 (the top movie is rated by ~40 % of users); numbers
    of ratings from P(k) ∝ k^-1.94 on 150..300 (mean ~208, as in the assignment's data);
    rating = round(7 + user bias + movie bias + noise) clipped to 1..10.
    """
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / (np.arange(N_ITEMS) + 51.0))
    cdf /= cdf[-1]
    sizes = np.arange(150, 301)
    size_p = sizes**-1.94
    counts = rng.choice(sizes, size=n_users, p=size_p / size_p.sum())
    items = [_distinct_draws(rng, cdf, int(k)) for k in counts]
    rows = np.repeat(np.arange(n_users), counts)
    cols = rng.permutation(N_ITEMS)[np.concatenate(items)]
    user_bias = rng.normal(0.0, 1.0, n_users)
    movie_bias = rng.normal(0.0, 0.8, N_ITEMS)
    raw = 7.0 + user_bias[rows] + movie_bias[cols] + rng.normal(0.0, 1.3, rows.size)
    ratings = np.clip(np.round(raw), 1, 10).astype(np.float32)
    matrix = sp.csr_matrix((ratings, (rows, cols)), shape=(n_users, N_ITEMS))
    matrix.sort_indices()
    return matrix, user_bias


def _distinct_draws(rng: np.random.Generator, cdf: np.ndarray, k: int) -> np.ndarray:
    """k distinct items drawn by popularity (repeats redrawn)."""
    items = np.unique(np.searchsorted(cdf, rng.random(2 * k)))
    while items.size < k:
        items = np.union1d(items, np.searchsorted(cdf, rng.random(k)))
    return rng.permutation(items)[:k]


# -- 1. accuracy ----------------------------------------------------------------------------------


def accuracy(n_matrices: int = 60, seed: int = 0) -> dict:
    """Largest |library - naive| over random small matrices, metrics and options."""
    rng = np.random.default_rng(seed)
    worst = {name: 0.0 for name in D.METRICS}
    kinds = ("integer 1..10", "half stars 0.5..5", "floats 0.1..10")
    for i in range(n_matrices):
        kind = kinds[i % 3]
        R = _random_ratings(rng, kind)
        options = ((1, 0.0), (3, 0.0), (1, 4.0), (2, 1.5))[i % 4]
        got = distances.pairwise_distances(
            R, D.METRICS, min_overlap=options[0], shrinkage=options[1]
        )
        for name in D.METRICS:
            ref = naive.pairwise_distances(R, name, min_overlap=options[0], shrinkage=options[1])
            worst[name] = max(worst[name], float(np.abs(got[name] - ref).max()))
    return {"matrices": n_matrices, "kinds": kinds, "max_abs_diff": worst}


def _random_ratings(rng: np.random.Generator, kind: str) -> sp.csr_matrix:
    n_users, n_items = int(rng.integers(2, 30)), int(rng.integers(1, 60))
    rated = rng.random((n_users, n_items)) < rng.uniform(0.05, 0.6)
    if kind.startswith("integer"):
        values = rng.integers(1, 11, rated.shape)
    elif kind.startswith("half"):
        values = rng.integers(1, 11, rated.shape) / 2
    else:
        values = rng.uniform(0.1, 10.0, rated.shape)
    return sp.csr_matrix(np.where(rated, values, 0.0).astype(np.float32))


# -- 2. seed size ---------------------------------------------------------------------------------


def _three_as_the_run(R: sp.csr_matrix) -> dict:
    """The three matrices with the shrinkage the run uses (MEASURED_SHRINKAGE)."""
    return distances.pairwise_distances(R, THREE, shrinkage=D.MEASURED_SHRINKAGE)


def seed_speed(R: sp.csr_matrix, repeats: int, loop_users: int = 40) -> dict:
    """The three matrices in one call against R @ R.T and against the notebook's loops."""
    medians = _interleaved_medians(
        {"product": lambda: R @ R.T, "three": lambda: _three_as_the_run(R)}, repeats
    )
    product, three = medians["product"], medians["three"]
    n = R.shape[0]
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=min(loop_users, n), replace=False))
    dense = R[sample].toarray()
    loop = _median_seconds(lambda: _notebook_loops(dense), max(1, repeats // 2))
    loop_scaled = loop * (n / len(sample)) ** 2
    return {
        "users": n,
        "items": R.shape[1],
        "ratings": int(R.nnz),
        "product_s": product,
        "three_s": three,
        "ratio_to_product": three / product,
        "loop_users": len(sample),
        "loop_sample_s": loop,
        "loop_scaled_s": loop_scaled,
        "speedup_over_loops": loop_scaled / three,
    }


def _notebook_loops(rows: np.ndarray) -> np.ndarray:
    """The notebook's approach: every ordered pair, numpy on dense 68K-long rows."""
    n = len(rows)
    out = np.zeros((3, n, n), dtype=np.float32)
    for i in range(n):
        a = rows[i]
        for j in range(n):
            b = rows[j]
            mask = (a > 0) & (b > 0)
            x, y = a[mask], b[mask]
            out[0, i, j] = np.sqrt(np.sum((x - y) ** 2))
            denominator = np.sqrt(np.sum(x**2)) * np.sqrt(np.sum(y**2))
            out[1, i, j] = 1 - np.sum(x * y) / denominator if denominator else 1.0
            union = np.sum((a > 0) | (b > 0))
            out[2, i, j] = 1 - np.sum(mask) / union if union else 1.0
    return out


def _interleaved_medians(runs: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each run, the runs taking turns so that they share the noise."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: float(np.median(values)) for name, values in times.items()}


def _median_seconds(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


# -- 3. few co-rated movies -----------------------------------------------------------------------


def few_overlap(n_users: int = 20_000, n_queries: int = 2_000) -> dict:
    """Every candidate default on the same neighbour searches (one set of sparse products)."""
    R, bias = zipf_matrix(n_users, seed=1)
    matrix, spread = D.as_rating_matrix(R)
    operands = D._Operands.build(matrix, with_values=True)
    columns = operands.as_columns()
    policies = {
        (metric, mo, beta): D._Policy.build(matrix, spread, (metric,), mo, beta, "max")
        for metric in CANDIDATE_METRICS
        for mo, beta in CANDIDATES
    }
    found = {key: [] for key in policies}
    started = time.perf_counter()
    with D._single_threaded_blas():
        for start, stop in D._blocks(n_queries, n_users, None):
            sums = D._BlockSums.compute(operands.rows(start, stop), columns, with_values=True)
            rows = np.arange(stop - start)
            for (metric, mo, beta), policy in policies.items():
                weight = D._evidence_weight(sums.overlap, policy)
                keys = N._candidate_keys(D._distances_from_sums(sums, metric, policy, weight), 0)
                keys[rows, rows + start] = N._NO_CANDIDATE
                nearest = N._Nearest(stop - start, K)
                nearest.offer(slice(None), keys)
                idx, dist = nearest.result()
                overlap = np.take_along_axis(sums.overlap, idx, axis=1)
                found[(metric, mo, beta)].append((idx, dist, overlap, start))
    rows_out = []
    for (metric, mo, beta), parts in found.items():
        idx = np.concatenate([p[0] for p in parts])
        dist = np.concatenate([p[1] for p in parts])
        overlap = np.concatenate([p[2] for p in parts])
        users = np.arange(len(idx))
        rows_out.append(
            {
                "metric": metric,
                "min_overlap": mo,
                "shrinkage": beta,
                "all_6_at_zero": float((dist == 0).all(axis=1).mean()),
                "neighbours_at_zero": float((dist == 0).mean()),
                "mean_overlap": float(overlap.mean()),
                "neighbours_overlap_le_2": float((overlap <= 2).mean()),
                "bias_gap": float(np.abs(bias[users, None] - bias[idx]).mean()),
            }
        )
    pairs = np.random.default_rng(2).integers(0, n_users, (2, 100_000))
    return {
        "users": n_users,
        "queries": n_queries,
        "ratings": int(R.nnz),
        "mean_rating": float(R.data.mean()),
        "seconds": time.perf_counter() - started,
        "random_pair_bias_gap": float(np.abs(bias[pairs[0]] - bias[pairs[1]]).mean()),
        "rows": rows_out,
    }


# -- 4. top-k at scale ----------------------------------------------------------------------------


def topk_child(n_users: int) -> dict:
    """Run in a fresh subprocess: top-k for n generated users, time and peak memory."""
    R, _ = zipf_matrix(n_users, seed=3)
    started = time.perf_counter()
    indices, found = distances.nearest_neighbors(R, "cosine", K, shrinkage=D.MEASURED_SHRINKAGE)
    seconds = time.perf_counter() - started
    assert (indices != np.arange(n_users)[:, None]).all()
    return {
        "users": n_users,
        "ratings": int(R.nnz),
        "seconds": seconds,
        "peak_rss_mib": _peak_rss_mib(),
        "neighbours_at_zero": float((found == 0).mean()),
    }


def _peak_rss_mib() -> float:
    """Peak resident memory of this process: VmHWM (Linux), else ru_maxrss.

    VmHWM belongs to the process image and starts afresh at exec; ru_maxrss of an exec'd child
    can keep the parent's peak from before the fork, which is why it is only the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def topk_growth(sizes: list[int]) -> dict:
    runs = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--topk-child", str(n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  top-k n={n:,}: {runs[-1]['seconds']:.1f} s", flush=True)
    n = np.log([r["users"] for r in runs])
    t = np.log([r["seconds"] for r in runs])
    exponent = float(np.polyfit(n, t, 1)[0]) if len(runs) > 1 else float("nan")
    return {"runs": runs, "exponent": exponent}


# -- output ---------------------------------------------------------------------------------------


def render(results: dict) -> str:
    lines = ["# Distances benchmark", "", f"Machine: {results['machine']}", ""]
    acc = results["accuracy"]
    lines += [
        "## 1. Accuracy against the naive loops (tests/naive.py)",
        "",
        f"{acc['matrices']} random matrices ({', '.join(acc['kinds'])}), every metric, with "
        "and without min_overlap and shrinkage.",
        "",
        "| metric | max abs diff |",
        "|---|---|",
    ]
    lines += [f"| {name} | {diff:.2e} |" for name, diff in acc["max_abs_diff"].items()]
    seed = results.get("seed")
    if seed:
        lines += [
            "",
            f"## 2. Seed size: {seed['users']:,} users x {seed['items']:,} movies, "
            f"{seed['ratings']:,} ratings (medians)",
            "",
            "| what | seconds | ratio |",
            "|---|---|---|",
            f"| scipy `R @ R.T` (float32) | {seed['product_s']:.3f} | 1 |",
            f"| `pairwise_distances(R, ('euclidean', 'cosine', 'jaccard'))` | "
            f"{seed['three_s']:.3f} | {seed['ratio_to_product']:.2f}x |",
            f"| notebook loops over dense rows, {seed['loop_users']} users "
            f"({seed['loop_users'] ** 2:,} pairs) | {seed['loop_sample_s']:.2f} | |",
            f"| notebook loops scaled by n² to {seed['users']:,} users | "
            f"{seed['loop_scaled_s']:.0f} | {seed['speedup_over_loops']:,.0f}x slower |",
        ]
    few = results.get("few_overlap")
    if few:
        lines += [
            "",
            f"## 3. Few co-rated movies: {few['users']:,} generated users, "
            f"{few['ratings']:,} ratings (mean {few['mean_rating']:.2f}); k = {K} nearest of "
            f"the first {few['queries']:,} users",
            "",
            "all0 = share of users whose 6 neighbours are all at distance 0; at0 = share of "
            "neighbours at 0; overlap = mean movies shared with a neighbour; <=2 = share of "
            "neighbours sharing at most 2 movies; bias gap = mean |bias_u - bias_v| "
            f"(random pairs: {few['random_pair_bias_gap']:.2f}).",
            "",
            "| metric | min_overlap | shrinkage | all0 | at0 | overlap | <=2 | bias gap |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in few["rows"]:
            lines.append(
                f"| {r['metric']} | {r['min_overlap']} | {r['shrinkage']:g} | "
                f"{r['all_6_at_zero']:.1%} | {r['neighbours_at_zero']:.1%} | "
                f"{r['mean_overlap']:.1f} | {r['neighbours_overlap_le_2']:.1%} | "
                f"{r['bias_gap']:.3f} |"
            )
    topk = results.get("topk")
    if topk:
        lines += [
            "",
            f"## 4. Top-k: nearest_neighbors(R, 'cosine', {K}), fresh subprocess per size",
            "",
            "| users | ratings | seconds | peak RSS of the process (MiB, VmHWM) |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['users']:,} | {r['ratings']:,} | {r['seconds']:.1f} | {r['peak_rss_mib']:.0f} |"
            for r in topk["runs"]
        ]
        lines += ["", f"Fitted growth: time ∝ n^{topk['exponent']:.2f} (log-log least squares)."]
    lines += [
        "",
        f"Defaults of the functions: min_overlap={D.DEFAULT_MIN_OVERLAP}, "
        f"shrinkage={D.DEFAULT_SHRINKAGE:g} (the formulas as stated), undefined='max'; "
        f"sections 2 and 4 pass shrinkage={D.MEASURED_SHRINKAGE:g} (MEASURED_SHRINKAGE), "
        "as the run does.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--skip-20k", action="store_true", help="top-k only for 1k and 5k")
    parser.add_argument("--only", choices=("accuracy", "seed", "few", "topk"), default=None)
    parser.add_argument("--topk-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.topk_child:
        print(json.dumps(topk_child(args.topk_child)))
        return
    results: dict = {"machine": f"{platform.platform()}, {platform.python_version()}"}
    wanted = (args.only,) if args.only else ("accuracy", "seed", "few", "topk")
    results["accuracy"] = accuracy()
    print("accuracy:", results["accuracy"]["max_abs_diff"], flush=True)
    if "seed" in wanted:
        results["seed"] = seed_speed(seed_matrix(), args.repeats)
    if "few" in wanted:
        results["few_overlap"] = few_overlap()
    if "topk" in wanted:
        results["topk"] = topk_growth([1_000, 5_000] if args.skip_20k else [1_000, 5_000, 20_000])
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = render(results)
    suffix = "" if args.only is None else f"_{args.only}"
    (RESULTS / f"distances{suffix}.md").write_text(text)
    (RESULTS / f"distances{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
