"""Accuracy on real MovieLens-100K: clusterrec next to scikit-surprise, on the very same 5 folds.

    .venv/bin/python benchmarks/accuracy_ml100k.py [--only-clusterrec] [--only-surprise]

1. **The folds.** ``kfold_assignments(100_000, 5, seed=0)``: one fold number (0..4) per line of
   ``u.data``, saved as ``benchmarks/results/ml100k_folds.npy`` (int8, ``allow_pickle=False``
   loads it; ``clusterrec evaluate u.data --split-file`` takes it too). Every system below is
   trained on four folds and scored on the fifth, five times.
2. **clusterrec** (this environment): ``cross_validate(ratings, models, 5,
   assignments=folds)`` with the method under the ``default`` and the ``notebook`` presets
   (L = 5, model seed 0) and the baselines ``mean`` (global mean), ``bias`` (mu + b_u + b_i)
   and ``userknn`` (Pearson, k = 40).
3. **scikit-surprise** in its own virtual environment, ``benchmarks/data/venv-surprise``
   (``benchmarks/data/`` is ignored by git), created on first use with
   ``python3 -m venv`` and ``pip install scikit-surprise pandas`` from the package index. The
   script ``benchmarks/surprise_ml100k.py`` runs there as a subprocess on the same ``u.data``
   and the same folds file: NormalPredictor, BaselineOnly, KNNBasic, KNNWithMeans,
   KNNBaseline, SVD, SVDpp, NMF, SlopeOne and CoClustering with Surprise's default
   parameters (``random_state=0``), each fold's trainset built with
   ``Dataset.load_from_df(...).construct_trainset`` from the fold's complement and its testset
   with ``construct_testset``; scores by ``surprise.accuracy.rmse`` / ``mae``. The fold sizes
   and a checksum of each fold's test lines are compared with clusterrec's, so the folds are
   provably identical.

The table: RMSE and MAE as mean ± standard deviation over the 5 folds (ddof=1), the median
seconds per fold to fit and to predict the held-out ratings (one process, one after the
other, on this shared 2-core machine: indicative), and the share of held-out ratings that fell
back (clusterrec: no neighbour evidence or unknown user/movie, predicted by the bias
baseline; Surprise: ``was_impossible``, predicted by the global mean), sorted by RMSE. Next to
it, Surprise's own published ML-100K figures (its README, 5-fold CV on its own random folds).

Writes ``benchmarks/results/accuracy_ml100k.md`` and ``accuracy_ml100k.json`` (per-fold rows).
Runtime about 10 minutes (SVD++ is most of Surprise's share).
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
import venv
from pathlib import Path

import numpy as np

from clusterrec.data.readers import read_ratings
from clusterrec.evaluation.cross_validation import cross_validate
from clusterrec.evaluation.splits import assignments_for_kept_records, kfold_assignments
from clusterrec.models.baselines import BiasBaseline, GlobalMean, UserKNN
from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
FETCH_ML100K = HERE.parent.parent / "shared" / "datasets" / "fetch-ml100k"
FOLDS_FILE = RESULTS / "ml100k_folds.npy"
SURPRISE_VENV = DATA / "venv-surprise"
SURPRISE_SCRIPT = HERE / "surprise_ml100k.py"

#: Run in Surprise's environment: the wheel tags of the installed scikit-surprise.
WHEEL_TAGS = (
    "from importlib.metadata import distribution as d; "
    "print(' '.join(l for l in d('scikit-surprise').read_text('WHEEL').splitlines() "
    "if l.startswith('Tag')))"
)

FOLDS = 5
FOLD_SEED = 0
MODEL_SEED = 0
N_CLUSTERS = 5

CLUSTERREC_MODELS = {
    "clusterrec default": lambda: ClusterNeighborRecommender(
        n_clusters=N_CLUSTERS, preset="default", seed=MODEL_SEED
    ),
    "clusterrec notebook": lambda: ClusterNeighborRecommender(
        n_clusters=N_CLUSTERS, preset="notebook", seed=MODEL_SEED
    ),
    "clusterrec mean": GlobalMean,
    "clusterrec bias": BiasBaseline,
    "clusterrec userknn": UserKNN,
}

#: What each clusterrec row is, for the table.
WHAT = {
    "clusterrec default": "Jaccard k-medoids L=5, k=20 neighbours, centred inputs, residual net",
    "clusterrec notebook": "the notebook's method: L=5, k=6 raw neighbour ratings, 12-24-48 net",
    "clusterrec mean": "global mean",
    "clusterrec bias": "mu + b_u + b_i (regularised, 10 ALS sweeps)",
    "clusterrec userknn": "user k-NN, Pearson, k=40, mean-centred",
    "NormalPredictor": "random from N(mu, sigma) of the training ratings",
    "BaselineOnly": "mu + b_u + b_i (ALS)",
    "KNNBasic": "user k-NN, MSD similarity, k=40",
    "KNNWithMeans": "user k-NN, MSD, k=40, mean-centred",
    "KNNBaseline": "user k-NN, MSD, k=40, on baseline residuals",
    "SVD": "biased matrix factorisation (Funk SVD), 100 factors, SGD",
    "SVDpp": "SVD++ (implicit feedback), 20 factors",
    "NMF": "non-negative matrix factorisation, 15 factors",
    "SlopeOne": "Slope One",
    "CoClustering": "co-clustering 3x3",
}

#: scikit-surprise 1.1.5 README, "Benchmarks": 5-fold CV on ML-100K with default parameters,
#: its own folds (the same for every algorithm), total time on an i5 11th Gen laptop.
PUBLISHED = {
    "SVD": (0.934, 0.737, "0:00:06"),
    "SVDpp": (0.919, 0.721, "0:01:39"),
    "NMF": (0.963, 0.758, "0:00:06"),
    "SlopeOne": (0.946, 0.743, "0:00:09"),
    "KNNBasic": (0.980, 0.774, "0:00:08"),
    "KNNWithMeans": (0.951, 0.749, "0:00:09"),
    "KNNBaseline": (0.931, 0.733, "0:00:13"),
    "CoClustering": (0.963, 0.753, "0:00:06"),
    "BaselineOnly": (0.944, 0.748, "0:00:02"),
    "NormalPredictor": (1.518, 1.219, "0:00:01"),
}


# -- data and folds -------------------------------------------------------------------------------


def ml100k_u_data() -> Path:
    out = subprocess.run([str(FETCH_ML100K)], capture_output=True, text=True, check=True).stdout
    return Path(out.strip().splitlines()[-1]) / "u.data"


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def write_folds(n_lines: int) -> np.ndarray:
    """One fold number per line of u.data (seeded), saved as the shared folds file."""
    folds = kfold_assignments(n_lines, FOLDS, seed=FOLD_SEED)
    RESULTS.mkdir(parents=True, exist_ok=True)
    temporary = FOLDS_FILE.with_suffix(".tmp.npy")
    np.save(temporary, folds.astype(np.int8), allow_pickle=False)  # 100 KB, not 800
    os.replace(temporary, FOLDS_FILE)
    return folds


# -- clusterrec -----------------------------------------------------------------------------------


def run_clusterrec(u_data: Path, folds: np.ndarray) -> tuple[list[dict], dict]:
    ratings = read_ratings(u_data)
    assignments = assignments_for_kept_records(folds, ratings.record)
    started = time.perf_counter()
    result = cross_validate(ratings, CLUSTERREC_MODELS, FOLDS, assignments=assignments)
    seconds = time.perf_counter() - started
    rows = []
    for record in result.folds.to_dict("records"):
        test = np.flatnonzero(assignments == record["fold"])
        rows.append(
            {
                "fold": int(record["fold"]),
                "model": record["model"],
                "rmse": float(record["rmse"]),
                "mae": float(record["mae"]),
                "fit_seconds": float(record["fit_seconds"]),
                "predict_seconds": float(record["predict_seconds"]),
                "fallback_share": float(record["fallback_share"]),
                "ndcg_at_10": float(record["ndcg_at_10"]),
                "n_train": int(record["n_train"]),
                "n_test": int(record["n_test"]),
                "test_rows_checksum": int(np.sum(ratings.record[test], dtype=np.int64)),
            }
        )
    info = {"wall_seconds": seconds, "protocol": result.protocol, "data": repr(ratings)}
    return rows, info


# -- Surprise -------------------------------------------------------------------------------------


def surprise_python() -> tuple[Path, str]:
    """The Surprise environment's interpreter, creating the environment on first use."""
    python = SURPRISE_VENV / "bin" / "python"
    how = "existing environment"
    if not python.exists():
        print(f"creating {SURPRISE_VENV} and installing scikit-surprise ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(SURPRISE_VENV)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        attempt = subprocess.run([*pip, "scikit-surprise", "pandas"])
        how = "pip install scikit-surprise pandas"
        if attempt.returncode != 0:  # the Cython build can fail against NumPy 2
            subprocess.run([*pip, "numpy<2", "scikit-surprise", "pandas"], check=True)
            how = "pip install 'numpy<2' scikit-surprise pandas"
    return python, how


def run_surprise(u_data: Path) -> tuple[list[dict], dict]:
    python, how = surprise_python()
    started = time.perf_counter()
    out = subprocess.run(
        [str(python), str(SURPRISE_SCRIPT), str(u_data), str(FOLDS_FILE)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout
    seconds = time.perf_counter() - started
    payload = json.loads(out.strip().splitlines()[-1])
    wheel = subprocess.run(
        [str(python), "-c", WHEEL_TAGS], capture_output=True, text=True, check=True
    ).stdout
    built = (
        "prebuilt manylinux wheel from the package index (no compiling)"
        if "manylinux" in wheel
        else f"wheel built here from source ({wheel.strip()})"
    )
    info = {
        "versions": payload["versions"],
        "install": how,
        "installed_as": built,
        "venv": str(SURPRISE_VENV.relative_to(HERE.parent)),
        "wall_seconds": seconds,
    }
    return payload["rows"], info


# -- summary --------------------------------------------------------------------------------------


def summarise(rows: list[dict]) -> list[dict]:
    by_model: dict[str, list[dict]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    out = []
    for model, runs in by_model.items():
        rmse = [r["rmse"] for r in runs]
        mae = [r["mae"] for r in runs]
        fallback = [r.get("fallback_share", r.get("impossible_share")) for r in runs]
        out.append(
            {
                "model": model,
                "system": "clusterrec" if model.startswith("clusterrec") else "surprise",
                "folds": len(runs),
                "rmse": statistics.fmean(rmse),
                "rmse_std": statistics.stdev(rmse),
                "mae": statistics.fmean(mae),
                "mae_std": statistics.stdev(mae),
                "fit_s": statistics.median(r["fit_seconds"] for r in runs),
                "predict_s": statistics.median(r["predict_seconds"] for r in runs),
                "fallback_share": statistics.fmean(fallback),
            }
        )
    return sorted(out, key=lambda r: r["rmse"])


def check_same_folds(ours: list[dict], theirs: list[dict]) -> str:
    """Both sides' per-fold test sizes and test-line checksums must agree."""
    mine = {(r["fold"], r["n_test"], r["test_rows_checksum"]) for r in ours}
    other = {(r["fold"], r["n_test"], r["test_rows_checksum"]) for r in theirs}
    if mine != other:
        raise SystemExit(f"the two sides did not use the same folds: {mine} vs {other}")
    return "identical (per-fold test sizes and test-line checksums agree)"


def render(results: dict) -> str:
    lines = [
        "# Accuracy on MovieLens-100K: clusterrec next to scikit-surprise",
        "",
        f"Written by `benchmarks/accuracy_ml100k.py`. Machine: {results['machine']}. "
        f"Data: {results['data']}.",
        "",
        f"Protocol: {FOLDS}-fold cross-validation over ratings; the folds are "
        f"`kfold_assignments(100000, {FOLDS}, seed={FOLD_SEED})`, saved as "
        "`benchmarks/results/ml100k_folds.npy` (one fold number per `u.data` line) and used by "
        "every system; each model is fitted on four folds and scores the fifth. Folds: "
        f"{results['same_folds']}. RMSE and MAE: mean ± std over the folds (ddof=1). Seconds: "
        "median per fold, fitting on 80,000 ratings and predicting 20,000, one process at a "
        "time on a shared 2-core machine (indicative). Fallback: share of held-out ratings "
        "predicted without the model's evidence (clusterrec: no neighbour rated the movie, or "
        "an unknown user or movie, so mu + b_u + b_i; Surprise: `was_impossible`, so the "
        "global mean). Published: Surprise's own README figures for the same algorithm "
        "(5-fold CV on its own folds, defaults).",
        "",
        "| rank | system | model | RMSE | MAE | fit s | predict s | fallback | published "
        "RMSE / MAE | what |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for rank, r in enumerate(results["summary"], start=1):
        published = PUBLISHED.get(r["model"])
        pub = f"{published[0]:.3f} / {published[1]:.3f}" if published else ""
        lines.append(
            f"| {rank} | {r['system']} | {r['model']} | {r['rmse']:.4f} ± {r['rmse_std']:.4f} "
            f"| {r['mae']:.4f} ± {r['mae_std']:.4f} | {r['fit_s']:.2f} | {r['predict_s']:.2f} "
            f"| {r['fallback_share']:.1%} | {pub} | {WHAT.get(r['model'], '')} |"
        )
    s = results.get("surprise_info")
    if s:
        v = s["versions"]
        lines += [
            "",
            f"Surprise: scikit-surprise {v['scikit-surprise']} with NumPy {v['numpy']}, pandas "
            f"{v['pandas']}, Python {v['python']}, in `{s['venv']}` (`{s['install']}`; "
            f"installed as a {s['installed_as']}). Its whole run took {s['wall_seconds']:.0f} s.",
            "",
            "Checked by hand on this machine, not by this script: `pip install --no-binary "
            "scikit-surprise scikit-surprise` also builds from source (Cython) against NumPy "
            "2.4.6 on Python 3.11.7, and its SVD and KNNBasic gave the wheel's figures on these "
            "folds; no `numpy<2` pin is needed. "
            "The script pins `numpy<2` only if the plain install fails.",
        ]
    c = results.get("clusterrec_info")
    if c:
        lines += [
            "",
            f"clusterrec: `cross_validate` took {c['wall_seconds']:.0f} s for all five models "
            "and folds, including top-10 ranking of every unrated movie for every user (not "
            "part of the seconds above; NDCG@10 per fold is in the JSON).",
        ]
    lines += ["", f"Total run time {results['wall_seconds'] / 60:.1f} min."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only-clusterrec", action="store_true")
    parser.add_argument("--only-surprise", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    u_data = ml100k_u_data()
    folds = write_folds(count_lines(u_data))
    print(f"folds: {FOLDS_FILE} ({len(folds):,} lines)", flush=True)
    rows: list[dict] = []
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "data": f"{u_data.name}, {len(folds):,} ratings",
        "folds_file": str(FOLDS_FILE.relative_to(HERE.parent)),
        "fold_seed": FOLD_SEED,
    }
    ours: list[dict] = []
    theirs: list[dict] = []
    if not args.only_surprise:
        print("clusterrec ...", flush=True)
        ours, results["clusterrec_info"] = run_clusterrec(u_data, folds)
        results["data"] = results["clusterrec_info"]["data"]
        rows += ours
    if not args.only_clusterrec:
        print("scikit-surprise ...", flush=True)
        theirs, results["surprise_info"] = run_surprise(u_data)
        rows += theirs
    results["same_folds"] = (
        check_same_folds(ours, theirs) if ours and theirs else "one side only in this run"
    )
    results["summary"] = summarise(rows)
    results["published_surprise_ml100k"] = {
        k: {"rmse": v[0], "mae": v[1], "time_5_folds": v[2]} for k, v in PUBLISHED.items()
    }
    results["rows"] = rows
    results["wall_seconds"] = time.perf_counter() - started
    (RESULTS / "accuracy_ml100k.json").write_text(json.dumps(results, indent=2) + "\n")
    table = render(results)
    (RESULTS / "accuracy_ml100k.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
