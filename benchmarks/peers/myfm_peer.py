"""myFM (Bayesian factorization machines, Gibbs sampling) on folds given in a file.

    benchmarks/data/venv-myfm/bin/python benchmarks/peers/myfm_peer.py \
        RATINGS_TSV FOLDS_NPY LOW HIGH STEP [MODELS; separated by semicolons]

Started by ``benchmarks/accuracy.py``, which owns the data and the folds; this script does not
import clusterrec (it runs in its own environment, ``pip install myfm``). ``RATINGS_TSV`` has
one rating per line (user code, item code, rating; tab separated, no header) and
``FOLDS_NPY`` one fold number per line. For each fold, every model is fitted on the other
folds' lines only; the implicit "who rated what" of the relation blocks comes from those
training lines only (Rendle's stricter protocol), never from the test fold.

Models (rank 10, 512 Gibbs iterations of which the first 64 are burn-in, seed 42):

* ``myFM one-hot``: user and item one-hot vectors (a Bayesian biased MF).
* ``myFM relation blocks``: the user block is [user one-hot | the items the user rated in
  training, each 1/sqrt(n_u)], the item block [item one-hot | the users who rated the item in
  training, each 1/sqrt(n_i)] (SVD++ on both sides), with one group per part.
* ``myFM relation blocks, ordered probit``: the same features, the rating's step on the
  scale as an ordered class; the prediction is the expected rating under the class
  probabilities.

Prints progress on stderr and, as the last line of stdout, one JSON object: versions and one
row per (fold, model) with rmse, mae, fit_seconds, predict_seconds and the fold's sizes.
"""

from __future__ import annotations

import json
import platform
import sys
import time

import myfm
import numpy as np
import scipy.sparse as sp
from myfm import RelationBlock

RANK = 10
ITERATIONS = 512
BURN_IN = 64
SEED = 42
MODELS = ("myFM one-hot", "myFM relation blocks", "myFM relation blocks, ordered probit")


def implicit(rows: np.ndarray, columns: np.ndarray, n_rows: int, n_columns: int) -> sp.csr_matrix:
    """Row r: 1/sqrt(count) at every column r co-occurs with in training (0/1 pattern)."""
    pattern = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n_rows, n_columns))
    pattern.data[:] = 1.0
    counts = np.maximum(np.diff(pattern.indptr), 1)
    return sp.diags(1.0 / np.sqrt(counts)) @ pattern


def blocks(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, train: tuple | None
) -> tuple[list[RelationBlock], list[int]]:
    """Relation blocks for (users, items) pairs and the feature groups; ``train`` =
    (train users, train items) adds the implicit parts."""
    user_part = [sp.identity(n_users, format="csr")]
    item_part = [sp.identity(n_items, format="csr")]
    groups = [n_users]
    if train is not None:
        train_users, train_items = train
        user_part.append(implicit(train_users, train_items, n_users, n_items))
        item_part.append(implicit(train_items, train_users, n_items, n_users))
        groups.append(n_items)
    groups.append(n_items)
    if train is not None:
        groups.append(n_users)
    user_matrix = sp.hstack(user_part, format="csr")
    item_matrix = sp.hstack(item_part, format="csr")
    grouping = [g for g, size in enumerate(groups) for _ in range(size)]
    return [RelationBlock(users, user_matrix), RelationBlock(items, item_matrix)], grouping


def fit_predict(
    name: str, data: dict, train: np.ndarray, test: np.ndarray, scale: tuple[float, float, float]
) -> tuple[np.ndarray, float, float]:
    """Test-fold predictions of one model, and its fit and predict seconds."""
    users, items, ratings = data["users"], data["items"], data["ratings"]
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    with_implicit = name != "myFM one-hot"
    known = (users[train], items[train]) if with_implicit else None
    train_blocks, grouping = blocks(users[train], items[train], n_users, n_items, known)
    test_blocks, _ = blocks(users[test], items[test], n_users, n_items, known)
    low, high, step = scale
    started = time.perf_counter()
    if name.endswith("ordered probit"):
        classes = np.rint((ratings[train] - low) / step).astype(np.int32)
        model = myfm.MyFMOrderedProbit(rank=RANK, random_seed=SEED)
    else:
        model = myfm.MyFMRegressor(rank=RANK, random_seed=SEED)
    target = classes if name.endswith("ordered probit") else ratings[train]
    model.fit(
        None,
        target,
        X_rel=train_blocks,
        grouping=grouping,
        n_iter=ITERATIONS,
        n_kept_samples=ITERATIONS - BURN_IN,
    )
    fitted = time.perf_counter()
    if name.endswith("ordered probit"):
        probabilities = model.predict_proba(None, test_blocks)
        values = low + step * np.arange(probabilities.shape[1])
        predicted = probabilities @ values
    else:
        predicted = model.predict(None, test_blocks)
    predicted = np.clip(predicted, low, high)
    return predicted, fitted - started, time.perf_counter() - fitted


def main() -> None:
    path, folds_path = sys.argv[1], sys.argv[2]
    scale = (float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    only = set(sys.argv[6].split(";")) if len(sys.argv) > 6 else set(MODELS)
    table = np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2)
    data = {
        "users": table[:, 0].astype(np.int64),
        "items": table[:, 1].astype(np.int64),
        "ratings": table[:, 2],
    }
    fold_of = np.load(folds_path, allow_pickle=False)
    if len(fold_of) != len(table):
        raise SystemExit(f"{folds_path}: {len(fold_of)} fold numbers for {len(table)} lines")
    rows = []
    for fold in range(int(fold_of.max()) + 1):
        test = np.flatnonzero(fold_of == fold)
        train = np.flatnonzero(fold_of != fold)
        truth = data["ratings"][test]
        for name in MODELS:
            if name not in only:
                continue
            predicted, fit_s, predict_s = fit_predict(name, data, train, test, scale)
            row = {
                "fold": fold,
                "model": name,
                "rmse": float(np.sqrt(np.mean((predicted - truth) ** 2))),
                "mae": float(np.mean(np.abs(predicted - truth))),
                "fit_seconds": fit_s,
                "predict_seconds": predict_s,
                "n_train": len(train),
                "n_test": len(test),
                "test_rows_checksum": int(np.sum(test, dtype=np.int64)),
            }
            rows.append(row)
            print(
                f"  myfm fold {fold} {name:<38} rmse {row['rmse']:.4f} mae {row['mae']:.4f} "
                f"fit {fit_s:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    versions = {"python": platform.python_version(), "myfm": myfm.__version__}
    settings = {"rank": RANK, "iterations": ITERATIONS, "burn_in": BURN_IN, "seed": SEED}
    print(json.dumps({"versions": versions, "settings": settings, "rows": rows}))


if __name__ == "__main__":
    main()
