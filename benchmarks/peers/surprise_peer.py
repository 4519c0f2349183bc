"""scikit-surprise on folds given in a file. Runs in its own environment.

    benchmarks/data/venv-surprise/bin/python benchmarks/peers/surprise_peer.py \
        RATINGS_TSV FOLDS_NPY LOW HIGH [ALGORITHMS; separated by semicolons]

Started by ``benchmarks/accuracy.py``, which owns the data and the folds; this script does not
import clusterrec (it is not installed in Surprise's environment). ``RATINGS_TSV`` has one
rating per line (user, item, rating; tab separated, no header), ``FOLDS_NPY`` one fold number
per line, LOW and HIGH are the rating scale. For each fold and algorithm (Surprise's defaults;
``random_state=0`` where the algorithm takes one, and NumPy's global seed 0 before each fit for
``NormalPredictor``; ``SVDpp tuned`` is SVD++ with the gorse project's published ML-100K
settings: 50 factors, 100 epochs, lr 0.005, reg 0.05, init std 0.001; ``KNNBaseline item`` is
item-based KNNBaseline with the pearson_baseline similarity), the trainset is built with
``Dataset.load_from_df(...).construct_trainset`` from the other folds' lines and the testset
with ``construct_testset`` from the fold's lines, so the folds are exactly the file's. Scores
with ``surprise.accuracy.rmse`` / ``mae``; times ``fit`` and ``test`` separately.

Prints progress on stderr and, as the last line of stdout, one JSON object: versions, and one
row per (fold, algorithm) with rmse, mae, fit_seconds, predict_seconds, impossible_share (the
share of test ratings for which Surprise reported ``was_impossible`` and predicted its
fallback, the mean rating) and the fold's sizes.
"""

from __future__ import annotations

import json
import platform
import sys
import time

import numpy as np
import pandas as pd
import surprise
from surprise import (
    NMF,
    SVD,
    BaselineOnly,
    CoClustering,
    Dataset,
    KNNBaseline,
    KNNBasic,
    KNNWithMeans,
    NormalPredictor,
    Reader,
    SlopeOne,
    SVDpp,
    accuracy,
)

ALGORITHMS = {
    "NormalPredictor": lambda: NormalPredictor(),
    "BaselineOnly": lambda: BaselineOnly(verbose=False),
    "KNNBasic": lambda: KNNBasic(verbose=False),
    "KNNWithMeans": lambda: KNNWithMeans(verbose=False),
    "KNNBaseline": lambda: KNNBaseline(verbose=False),
    "SVD": lambda: SVD(random_state=0),
    "SVDpp": lambda: SVDpp(random_state=0),
    "SVDpp tuned": lambda: SVDpp(
        n_factors=50, n_epochs=100, lr_all=0.005, reg_all=0.05, init_std_dev=0.001, random_state=0
    ),
    "KNNBaseline item": lambda: KNNBaseline(
        sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False
    ),
    "NMF": lambda: NMF(random_state=0),
    "SlopeOne": lambda: SlopeOne(),
    "CoClustering": lambda: CoClustering(random_state=0),
}


def main() -> None:
    path, folds_path = sys.argv[1], sys.argv[2]
    low, high = float(sys.argv[3]), float(sys.argv[4])
    only = set(sys.argv[5].split(";")) if len(sys.argv) > 5 else None
    frame = pd.read_csv(
        path, sep="\t", header=None, names=["user", "item", "rating"],
        dtype={"user": str, "item": str, "rating": float},
    )  # fmt: skip
    fold_of = np.load(folds_path, allow_pickle=False)
    if len(fold_of) != len(frame):
        raise SystemExit(f"{folds_path}: {len(fold_of)} fold numbers for {len(frame)} lines")
    data = Dataset.load_from_df(frame[["user", "item", "rating"]], Reader(rating_scale=(low, high)))
    raw = data.raw_ratings
    rows = []
    not_run: dict[str, str] = {}  # a model that cannot fit this data set, and why
    for fold in range(int(fold_of.max()) + 1):
        test_rows = np.flatnonzero(fold_of == fold)
        train_rows = np.flatnonzero(fold_of != fold)
        trainset = data.construct_trainset([raw[j] for j in train_rows])
        testset = data.construct_testset([raw[j] for j in test_rows])
        for name, make in ALGORITHMS.items():
            if (only and name not in only) or name in not_run:
                continue
            np.random.seed(0)  # noqa: NPY002  (NormalPredictor draws from the global state)
            algorithm = make()
            started = time.perf_counter()
            try:
                algorithm.fit(trainset)
            except MemoryError as error:  # e.g. item k-NN's dense item x item matrix
                not_run[name] = f"fold {fold}: {type(error).__name__}: {error}"
                print(f"  surprise {name}: not run ({not_run[name]})", file=sys.stderr)
                continue
            fitted = time.perf_counter()
            predictions = algorithm.test(testset)
            done = time.perf_counter()
            impossible = sum(bool(p.details.get("was_impossible")) for p in predictions)
            row = {
                "fold": fold,
                "model": name,
                "rmse": accuracy.rmse(predictions, verbose=False),
                "mae": accuracy.mae(predictions, verbose=False),
                "fit_seconds": fitted - started,
                "predict_seconds": done - fitted,
                "impossible_share": impossible / len(predictions),
                "n_train": len(train_rows),
                "n_test": len(test_rows),
                "test_rows_checksum": int(np.sum(test_rows, dtype=np.int64)),
            }
            rows.append(row)
            print(
                f"  surprise fold {fold} {name:<15} rmse {row['rmse']:.4f} "
                f"fit {row['fit_seconds']:.1f} s predict {row['predict_seconds']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    versions = {
        "python": platform.python_version(),
        "scikit-surprise": surprise.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    print(json.dumps({"versions": versions, "not_run": not_run, "rows": rows}))


if __name__ == "__main__":
    main()
