"""Accuracy next to the strongest rating predictors, on the very same folds, on three data sets.

    .venv/bin/python benchmarks/accuracy.py [--data ml100k,ml-latest-small,seed]
        [--only clusterrec|surprise|myfm] [--models NAME,...]

1. **The data and folds.** ``ml100k``: real MovieLens-100K (``../shared/datasets/fetch-ml100k``),
   folds ``benchmarks/results/ml100k_folds.npy`` (one fold number per line of ``u.data``,
   ``kfold_assignments(100_000, 5, seed=0)``), the folds of every earlier accuracy table.
   ``ml-latest-small``: MovieLens latest-small (2016, half stars, 100,004 ratings), and
   ``seed``: the generated data in the assignment's shape (users with 150..300 ratings, 1..10
   stars); both with ``kfold_assignments(n, 5, seed=0)``. Every system is trained on four
   folds and scored on the fifth, five times; the per-fold test sizes and checksums of the
   test lines are compared across systems, so the folds are provably identical.
2. **clusterrec** (this environment): ``cross_validate(ratings, models, 5,
   assignments=folds)`` with the models of :mod:`clusterrec.models.registry`, every one
   fitted on the training folds only (its own validation slices, early stopping and
   hyper-parameters inside them).
3. **scikit-surprise** in ``benchmarks/data/venv-surprise`` (``pip install scikit-surprise
   pandas``, created on first use) runs ``benchmarks/peers/surprise_peer.py``: BaselineOnly,
   KNNBaseline (user, MSD) and item-based KNNBaseline with pearson_baseline, SVD, SVD++ with
   its defaults and SVD++ tuned (the gorse project's published ML-100K settings).
4. **myFM** in ``benchmarks/data/venv-myfm`` (``pip install myfm``, created on first use) runs
   ``benchmarks/peers/myfm_peer.py``: Bayesian FMs, rank 10, users and items one-hot, then
   with the training fold's "who rated what" as relation blocks, then the same as an ordered
   probit.

Both peers read a neutral file (user code, item code, rating) written from clusterrec's
``Ratings`` in record order, with one fold number per line. Writes
``benchmarks/results/accuracy_<data>.md`` and ``.json`` (per-fold rows) for each data set.
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
from collections.abc import Callable
from pathlib import Path

import numpy as np

from clusterrec.data.filtering import filter_users
from clusterrec.data.ratings import Ratings
from clusterrec.data.readers import read_ratings
from clusterrec.data.synthetic import default_dataset_path
from clusterrec.evaluation.cross_validation import cross_validate
from clusterrec.evaluation.splits import assignments_for_kept_records, kfold_assignments
from clusterrec.models.registry import comparison_models

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
SHARED = HERE.parent.parent / "shared" / "datasets"
FOLDS = 5
FOLD_SEED = 0

#: The models of the registry compared here, in table order.
CLUSTERREC_MODELS = ("clusterrec", "network", "notebook", "bias", "userknn", "mean")
SURPRISE_MODELS = (
    "BaselineOnly",
    "KNNBaseline",
    "KNNBaseline item",
    "SVD",
    "SVDpp",
    "SVDpp tuned",
)
MYFM_MODELS = ("myFM one-hot", "myFM relation blocks", "myFM relation blocks, ordered probit")

#: What each row is, for the table.
WHAT = {
    "BaselineOnly": "mu + b_u + b_i (ALS)",
    "KNNBaseline": "user k-NN, MSD, k=40, on baseline residuals",
    "KNNBaseline item": "item k-NN, pearson_baseline, k=40, on baseline residuals",
    "SVD": "biased MF (Funk SVD), 100 factors, SGD",
    "SVDpp": "SVD++ defaults (20 factors, 20 epochs)",
    "SVDpp tuned": "SVD++ 50 factors, 100 epochs, lr 0.005, reg 0.05, init std 0.001",
    "myFM one-hot": "Bayesian FM rank 10, users and items one-hot, 512 Gibbs samples",
    "myFM relation blocks": "the same with training-fold implicit feedback on both sides",
    "myFM relation blocks, ordered probit": "the same, ordered probit output",
}


# -- data and folds -------------------------------------------------------------------------------


def load_data(name: str) -> tuple[Ratings, np.ndarray, str]:
    """(ratings, one fold number per record, a description) of a benchmark data set."""
    if name == "ml100k":
        out = subprocess.run(
            [str(SHARED / "fetch-ml100k")], capture_output=True, text=True, check=True
        ).stdout
        ratings = read_ratings(Path(out.strip().splitlines()[-1]) / "u.data")
        folds_file = RESULTS / "ml100k_folds.npy"
        file_folds = np.load(folds_file, allow_pickle=False).astype(np.int64)
        folds = assignments_for_kept_records(file_folds, ratings.record)
        return ratings, folds, f"MovieLens-100K, folds {folds_file.relative_to(HERE.parent)}"
    if name == "ml-latest-small":
        ratings = read_ratings(SHARED / "ml-latest-small-2016" / "ratings.csv")
        how = "MovieLens latest-small (2016)"
    elif name == "seed":
        ratings, _ = filter_users(read_ratings(default_dataset_path("seed")), 150, 300)
        how = "generated seed-size data, users with 150..300 ratings"
    else:
        raise SystemExit(f"unknown data set {name!r}; accepted: ml100k, ml-latest-small, seed")
    folds = kfold_assignments(len(ratings), FOLDS, seed=FOLD_SEED)
    return ratings, folds, f"{how}, folds kfold_assignments(n, {FOLDS}, seed={FOLD_SEED})"


def write_neutral_files(ratings: Ratings, folds: np.ndarray, name: str) -> tuple[Path, Path]:
    """The ratings as (user code, item code, rating) lines and the folds, for the peers."""
    folder = DATA / "accuracy" / name
    folder.mkdir(parents=True, exist_ok=True)
    table, folds_path = folder / "ratings.tsv", folder / "folds.npy"
    columns = np.column_stack([ratings.user, ratings.item, ratings.rating])
    np.savetxt(table, columns, fmt=["%d", "%d", "%g"], delimiter="\t")
    np.save(folds_path, folds.astype(np.int8), allow_pickle=False)
    return table, folds_path


def checksum_rows(folds: np.ndarray) -> dict[int, tuple[int, int]]:
    """Per fold: (test size, sum of the test lines' positions)."""
    return {
        int(f): (int((folds == f).sum()), int(np.flatnonzero(folds == f).sum()))
        for f in np.unique(folds)
    }


# -- clusterrec -----------------------------------------------------------------------------------


def run_clusterrec(
    ratings: Ratings, folds: np.ndarray, names: tuple[str, ...], rank_items: int = 0
) -> list[dict]:
    factories: dict[str, Callable] = comparison_models(names)
    result = cross_validate(
        ratings, factories, FOLDS, assignments=folds, rank_users=200, rank_items=rank_items
    )
    rows = []
    for record in result.folds.to_dict("records"):
        test = np.flatnonzero(folds == record["fold"])
        rows.append(
            {
                "fold": int(record["fold"]),
                "model": _label(record["model"]),
                "system": "clusterrec",
                "rmse": float(record["rmse"]),
                "mae": float(record["mae"]),
                "fit_seconds": float(record["fit_seconds"]),
                "predict_seconds": float(record["predict_seconds"]),
                "fallback_share": float(record["fallback_share"]),
                "n_test": int(record["n_test"]),
                "test_rows_checksum": int(test.sum()),
            }
        )
    return rows


def _label(name: str) -> str:
    """The table's name of a registry model: ``clusterrec`` is the default model."""
    return "clusterrec (default model)" if name == "clusterrec" else f"clusterrec {name}"


# -- peers in their own environments --------------------------------------------------------------


def peer_python(folder: Path, packages: list[str]) -> Path:
    """The interpreter of a peer's own environment, created with ``pip install`` on first use."""
    python = folder / "bin" / "python"
    if not python.exists():
        print(f"creating {folder} and installing {' '.join(packages)} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, *packages], check=True)
    return python


def run_peer(system: str, command: list[str]) -> tuple[list[dict], dict]:
    environment = {**os.environ, "TQDM_DISABLE": "1"}  # myFM draws a bar per fit
    out = subprocess.run(
        command, stdout=subprocess.PIPE, text=True, check=True, env=environment
    ).stdout
    payload = json.loads(out.strip().splitlines()[-1])
    rows = payload.pop("rows")
    for row in rows:
        row["system"] = system
        row.setdefault("fallback_share", row.pop("impossible_share", 0.0))
    return rows, payload


def run_surprise(table: Path, folds: Path, ratings: Ratings, names: tuple[str, ...]):
    python = peer_python(DATA / "venv-surprise", ["scikit-surprise", "pandas"])
    scale = ratings.scale
    script = HERE / "peers" / "surprise_peer.py"
    command = [str(python), str(script), str(table), str(folds), str(scale.low), str(scale.high)]
    return run_peer("surprise", [*command, ";".join(names)])


def run_myfm(table: Path, folds: Path, ratings: Ratings, names: tuple[str, ...]):
    python = peer_python(DATA / "venv-myfm", ["myfm"])
    scale = ratings.scale
    step = scale.step or 0.5
    script = HERE / "peers" / "myfm_peer.py"
    command = [str(python), str(script), str(table), str(folds)]
    command += [str(scale.low), str(scale.high), str(step), ";".join(names)]
    return run_peer("myfm", command)


# -- summary --------------------------------------------------------------------------------------


def summarise(rows: list[dict]) -> list[dict]:
    by_model: dict[str, list[dict]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    out = []
    for model, runs in by_model.items():
        rmse = [r["rmse"] for r in runs]
        mae = [r["mae"] for r in runs]
        out.append(
            {
                "model": model,
                "system": runs[0]["system"],
                "folds": len(runs),
                "rmse": statistics.fmean(rmse),
                "rmse_std": statistics.stdev(rmse) if len(rmse) > 1 else float("nan"),
                "mae": statistics.fmean(mae),
                "mae_std": statistics.stdev(mae) if len(mae) > 1 else float("nan"),
                "fit_s": statistics.median(r["fit_seconds"] for r in runs),
                "fit_s_max": max(r["fit_seconds"] for r in runs),
                "predict_s": statistics.median(r["predict_seconds"] for r in runs),
                "fallback_share": statistics.fmean(r.get("fallback_share", 0.0) for r in runs),
            }
        )
    return sorted(out, key=lambda r: r["rmse"])


def check_same_folds(rows: list[dict], expected: dict[int, tuple[int, int]]) -> str:
    """Every system's per-fold test sizes and test-line checksums must be the expected ones."""
    for row in rows:
        if expected[row["fold"]] != (row["n_test"], row["test_rows_checksum"]):
            raise SystemExit(f"{row['model']} fold {row['fold']} used other test lines")
    return "identical for every system (per-fold test sizes and test-line checksums agree)"


def render(results: dict) -> str:
    lines = [
        f"# Accuracy on {results['data']}",
        "",
        f"Written by `benchmarks/accuracy.py --data {results['name']}`. Machine: "
        f"{results['machine']}. Ratings: {results['ratings']}.",
        "",
        f"Protocol: {FOLDS}-fold cross-validation over ratings; {results['folds']}. Every "
        "model is fitted on four folds and scores the fifth; hyper-parameters, validation "
        "slices and early stopping stay inside the training folds. Folds: "
        f"{results['same_folds']}. RMSE and MAE: mean ± std over the folds (ddof=1). Seconds: "
        "median (and largest) per fold to fit, median to predict the held-out fold, one "
        "process at a time on a shared 2-core machine. Fallback: share of held-out ratings "
        "predicted without the model's evidence (Surprise: `was_impossible`).",
        "",
        "| rank | system | model | RMSE | MAE | fit s (max) | predict s | fallback | what |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for rank, r in enumerate(results["summary"], start=1):
        lines.append(
            f"| {rank} | {r['system']} | {r['model']} | {r['rmse']:.4f} ± {r['rmse_std']:.4f} "
            f"| {r['mae']:.4f} ± {r['mae_std']:.4f} | {r['fit_s']:.1f} ({r['fit_s_max']:.1f}) "
            f"| {r['predict_s']:.2f} | {r['fallback_share']:.1%} "
            f"| {WHAT.get(r['model'], results['what'].get(r['model'], ''))} |"
        )
    for system, info in results["peers"].items():
        lines += ["", f"{system}: {json.dumps(info)}"]
    lines += ["", f"Total run time {results['wall_seconds'] / 60:.1f} min."]
    return "\n".join(lines)


def describe_models(names: tuple[str, ...]) -> dict[str, str]:
    """One line per clusterrec model, from the registry's descriptions."""
    from clusterrec.models.registry import MODEL_DESCRIPTIONS

    return {_label(n): MODEL_DESCRIPTIONS.get(n, "") for n in names}


def earlier_rows(name: str, rows: list[dict]) -> tuple[list[dict], dict]:
    """The rows (and peer notes) of an earlier run of this data set for the models not run
    now, so one system can be rerun without the others (``--merge``)."""
    path = RESULTS / f"accuracy_{name}.json"
    if not path.exists():
        return [], {}
    earlier = json.loads(path.read_text())
    now = {row["model"] for row in rows}
    for row in earlier["rows"]:
        row["model"] = {"clusterrec clusterrec": _label("clusterrec")}.get(
            row["model"], row["model"]
        )
    kept = [row for row in earlier["rows"] if row["model"] not in now]
    return kept, earlier.get("peers", {})


def benchmark(
    name: str, only: set[str], models: tuple[str, ...], merge: bool = False, rank_items: int = 0
) -> None:
    started = time.perf_counter()
    ratings, folds, how = load_data(name)
    print(f"{name}: {ratings!r}", flush=True)
    table, folds_path = write_neutral_files(ratings, folds, name)
    rows: list[dict] = []
    peers: dict[str, dict] = {}
    if "clusterrec" in only:
        rows += run_clusterrec(ratings, folds, models, rank_items)
    if "surprise" in only:
        theirs, peers["Surprise"] = run_surprise(table, folds_path, ratings, SURPRISE_MODELS)
        rows += theirs
    if "myfm" in only:
        theirs, peers["myFM"] = run_myfm(table, folds_path, ratings, MYFM_MODELS)
        rows += theirs
    if merge:
        kept, earlier_peers = earlier_rows(name, rows)
        rows += kept
        peers = {**earlier_peers, **peers}
    results = {
        "name": name,
        "data": how.split(",")[0],
        "folds": how,
        "ratings": repr(ratings),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "same_folds": check_same_folds(rows, checksum_rows(folds)),
        "summary": summarise(rows),
        "what": describe_models(models),
        "peers": peers,
        "rows": rows,
        "wall_seconds": time.perf_counter() - started,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"accuracy_{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    text = render(results)
    (RESULTS / f"accuracy_{name}.md").write_text(text + "\n")
    print(text, flush=True)


def main() -> None:
    global MYFM_MODELS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="ml100k,ml-latest-small,seed")
    parser.add_argument("--only", default="clusterrec,surprise,myfm")
    parser.add_argument("--models", default=",".join(CLUSTERREC_MODELS))
    parser.add_argument("--myfm-models", default=";".join(MYFM_MODELS), help="separated by ;")
    parser.add_argument(
        "--merge", action="store_true", help="keep an earlier run's rows of the models not run now"
    )
    parser.add_argument(
        "--rank-items",
        type=int,
        default=0,
        help="clusterrec's top-N ranks among this many most-rated items (0: all; the seed-size "
        "data has 68K movies, which makes ranking the slowest part)",
    )
    args = parser.parse_args()
    MYFM_MODELS = tuple(args.myfm_models.split(";"))
    for name in args.data.split(","):
        benchmark(
            name, set(args.only.split(",")), tuple(args.models.split(",")), args.merge,
            args.rank_items,
        )  # fmt: skip


if __name__ == "__main__":
    main()
