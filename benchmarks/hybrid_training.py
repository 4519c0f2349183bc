"""The default model's training step: implicit sums of the batch's rows only, against the
whole tables rebuilt every step (the form before).

    .venv/bin/python benchmarks/hybrid_training.py [--users 5000,12000,24702]
        [--before-users 5000,12000,24702] [--skip-accuracy] [--skip-epochs] [--coverage]
        [--full-fit]

``clusterrec.models.cluster_hybrid_core._FULL_TABLES_EACH_STEP = True`` in a subprocess gives
the form before (every step: the whole implicit factor tables by sparse products over all
training ratings, forward and backward); False (the default) the batch rows.

1. **Accuracy.** Real MovieLens-100K, folds 0 and 1 of ``benchmarks/results/ml100k_folds.npy``
   (trained on the other four folds, as ``benchmarks/accuracy.py`` reads them), the default
   model (``ClusterHybridRecommender()``, seed 0), both forms in turn in fresh subprocesses:
   RMSE, MAE, fit seconds, and the largest difference between the two forms' predictions.
2. **Training epochs at full size.** The generated full file, users with at least 20 ratings
   (24,702 users, 1.8M ratings), a seeded sample of N of them; ``HYBRID_PRESETS["fast"]``
   settings; one fresh single-threaded subprocess per (N, form). The neighbour features are
   seeded random numbers of the right shape (their values do not change the step's cost; the
   neighbour part is timed in ``hybrid_scaling.py``). Each step of ``HybridModel._train_net``'s
   own loop is timed (the time between the ends of consecutive Adam steps: batch, factor rows,
   forward, loss, backward, Adam) and the median times the steps of an epoch is reported; for
   the batch-rows form also one whole real epoch of the early-stopping run (90 % of the
   ratings, its validation RMSE included), wall clock.
3. **What a step still sums over** (``--coverage``): the share of all ratings in the sets of
   a batch's distinct users and movies.
4. **One whole fit** (``--full-fit``): ``ClusterHybridRecommender(settings=
   HYBRID_PRESETS["fast"]).fit`` on all 24,702 users (clustering and neighbour part included),
   its seconds, chosen epochs and peak RSS (``VmHWM``, reading the 4.7M-rating file included).

Writes ``benchmarks/results/hybrid_training.md`` and ``.json``.
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

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

DEFAULT_USERS = (5000, 12000, 24702)
ACCURACY_FOLDS = (0, 1)
TIMED_STEPS = 7  # 6 differences between step ends


def peak_rss_bytes() -> int:
    """VmHWM of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return -1


def _set_form(form: str) -> None:
    from clusterrec.models import cluster_hybrid_core

    cluster_hybrid_core._FULL_TABLES_EACH_STEP = {"tables": True, "rows": False}[form]


class _Enough(Exception):
    pass


class _StepClock:
    """Patches ``torch.optim.Adam.step`` to note the time after each step; after ``limit``
    steps it stops the training loop (``_Enough``)."""

    def __init__(self, limit: int | None) -> None:
        import torch

        self.ends: list[float] = []
        self.limit = limit
        self.original = torch.optim.Adam.step
        clock = self

        def step(opt: object, *args: object, **kwargs: object) -> object:
            out = clock.original(opt, *args, **kwargs)
            clock.ends.append(time.perf_counter())
            if clock.limit is not None and len(clock.ends) >= clock.limit:
                raise _Enough
            return out

        torch.optim.Adam.step = step

    def restore(self) -> None:
        import torch

        torch.optim.Adam.step = self.original

    def median_step(self) -> float:
        return float(np.median(np.diff(self.ends)))


def _large(n_users: int):
    import clusterrec
    from clusterrec.data.readers import read_ratings
    from clusterrec.data.synthetic import default_dataset_path

    ratings, _ = clusterrec.filter_users(
        read_ratings(default_dataset_path("full", 0)), min_ratings=20, max_ratings=None
    )
    if n_users < ratings.n_users:
        chosen = np.random.default_rng(0).choice(ratings.n_users, n_users, replace=False)
        ratings = ratings.take(np.isin(ratings.user, chosen))
    return ratings.compact()


def epoch_case(n_users: int, form: str) -> dict:
    """Training steps of the fast preset on n users of the large set, in one form."""
    from clusterrec.models.cluster_hybrid import ClusterHybridRecommender
    from clusterrec.models.cluster_hybrid_core import HybridModel
    from clusterrec.models.neighbour_features import fit_biases
    from clusterrec.models.networks import single_torch_thread
    from clusterrec.models.registry import HYBRID_PRESETS

    _set_form(form)
    ratings = _large(n_users)
    options = ClusterHybridRecommender(settings=HYBRID_PRESETS["fast"])._core_options()
    core = HybridModel(seed=0, **options)
    users, items = ratings.user.astype(np.int64), ratings.item.astype(np.int64)
    values = ratings.rating.astype(np.float64)
    rng = np.random.default_rng(0)
    core.n_users, core.n_items = ratings.n_users, ratings.n_items
    core.scale = (ratings.scale.low, ratings.scale.high)
    core.labels = rng.integers(0, 5, core.n_users)
    core.n_clusters = 5
    core.unit = (core.scale[1] - core.scale[0]) / 4.0
    core.mu, core.b_user, core.b_item = fit_biases(users, items, values, core.n_users, core.n_items)
    feats = rng.normal(size=(len(users), core._n_feats())).astype(np.float32)
    n_train = int(round(len(users) * (1 - core.val_fraction)))
    steps_per_epoch = -(-n_train // core.batch_size)
    result: dict = {
        "form": form,
        "users": int(ratings.n_users),
        "ratings": len(users),
        "movies": int(ratings.n_items),
        "steps_per_epoch": steps_per_epoch,
    }
    core.epochs = 1
    with single_torch_thread():
        clock = _StepClock(limit=TIMED_STEPS)
        try:
            core._choose_epochs(users, items, values, feats)
        except _Enough:
            pass
        finally:
            clock.restore()
        result["step_seconds"] = clock.median_step()
        result["step_seconds_all"] = np.diff(clock.ends).tolist()
        result["epoch_seconds_from_steps"] = result["step_seconds"] * steps_per_epoch
        if form == "rows":
            started = time.perf_counter()
            core._choose_epochs(users, items, values, feats)  # one real epoch + validation
            result["epoch_seconds"] = time.perf_counter() - started
    result["peak_rss"] = peak_rss_bytes()
    return result


def coverage_case(n_users: int, batches: int = 20) -> dict:
    """What a batch-rows step sums over: the share of all ratings in the sets of a batch's
    distinct users and of its distinct movies (mean over seeded batches of 8192)."""
    import torch

    from clusterrec.models.cluster_hybrid_core import _SetRows

    ratings = _large(n_users)
    users, items = ratings.user.astype(np.int64), ratings.item.astype(np.int64)
    user_rows, item_rows = (
        _SetRows(users, items, ratings.n_users),
        _SetRows(items, users, ratings.n_items),
    )
    perm = torch.randperm(len(users), generator=torch.Generator().manual_seed(0))
    u_t, i_t = torch.from_numpy(users), torch.from_numpy(items)
    shares = []
    for k in range(batches):
        b = perm[k * 8192 : (k + 1) * 8192]
        uu, ii = torch.unique(u_t[b]), torch.unique(i_t[b])
        shares.append(
            (len(uu), len(ii), int(user_rows.counts[uu].sum()), int(item_rows.counts[ii].sum()))
        )
    s = np.mean(shares, axis=0)
    return {
        "users": int(ratings.n_users),
        "ratings": len(users),
        "distinct_users": float(s[0]),
        "distinct_movies": float(s[1]),
        "user_rows_share": float(s[2] / len(users)),
        "movie_rows_share": float(s[3] / len(users)),
    }


def full_fit_case() -> dict:
    """One whole fast-preset fit on all 24,702 users of the large set."""
    from clusterrec.models.cluster_hybrid import ClusterHybridRecommender
    from clusterrec.models.registry import HYBRID_PRESETS

    ratings = _large(10**9)
    rss_read = peak_rss_bytes()
    model = ClusterHybridRecommender(settings=HYBRID_PRESETS["fast"])
    started = time.perf_counter()
    model.fit(ratings)
    seconds = time.perf_counter() - started
    core = model.core_
    return {
        "users": int(ratings.n_users),
        "ratings": len(ratings),
        "movies": int(ratings.n_items),
        "fit_seconds": seconds,
        "chosen_epochs": core.chosen_epochs,
        "val_curve": core.val_curve,
        "peak_rss_read": rss_read,
        "peak_rss": peak_rss_bytes(),
    }


def accuracy_case(form: str, seed: int) -> dict:
    """The default model on ML-100K folds 0 and 1 in one form: RMSE, MAE, fit s, predictions."""
    from benchmark_data import ml100k

    from clusterrec.data.readers import read_ratings
    from clusterrec.evaluation.splits import assignments_for_kept_records
    from clusterrec.models.cluster_hybrid import ClusterHybridRecommender

    _set_form(form)
    ratings = read_ratings(ml100k())
    file_folds = np.load(RESULTS / "ml100k_folds.npy", allow_pickle=False).astype(np.int64)
    folds = assignments_for_kept_records(file_folds, ratings.record)
    rows = []
    for fold in ACCURACY_FOLDS:
        train, test = ratings.take(folds != fold), ratings.take(folds == fold)
        model = ClusterHybridRecommender(seed=seed)
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
        predicted = model.predict(
            test.user_labels[test.user], test.item_labels[test.item]
        ).rating.astype(np.float64)
        error = predicted - test.rating
        rows.append(
            {
                "fold": fold,
                "rmse": float(np.sqrt(np.mean(error**2))),
                "mae": float(np.mean(np.abs(error))),
                "fit_seconds": fit_seconds,
                "chosen_epochs": model.core_.chosen_epochs,
                "predictions": predicted.tolist(),
            }
        )
    return {"form": form, "seed": seed, "folds": rows}


def in_subprocess(args: list[str]) -> dict:
    """Run this script with ``args`` in a fresh single-threaded process; its JSON result."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"case {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the report ------------------------------------------------------------------------------------


def _accuracy_lines(accuracy: list[dict]) -> list[str]:
    by_form = {case["form"]: case for case in accuracy}
    lines = [
        "## MovieLens-100K: the default model, both forms, same seed (folds "
        + " and ".join(str(f) for f in ACCURACY_FOLDS)
        + " of results/ml100k_folds.npy)",
        "",
        "| form | fold | RMSE | MAE | chosen epochs | fit s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    names = {"tables": "before: whole tables every step", "rows": "now: batch rows"}
    for form in ("tables", "rows"):
        if form not in by_form:
            continue
        folds = by_form[form]["folds"]
        for f in folds:
            lines.append(
                f"| {names[form]} | {f['fold']} | {f['rmse']:.4f} | {f['mae']:.4f} "
                f"| {f['chosen_epochs']} | {f['fit_seconds']:.1f} |"
            )
        lines.append(
            f"| {names[form]} | mean | {np.mean([f['rmse'] for f in folds]):.4f} "
            f"| {np.mean([f['mae'] for f in folds]):.4f} | | "
            f"{np.mean([f['fit_seconds'] for f in folds]):.1f} |"
        )
    if len(by_form) == 2:
        diffs = by_form["rows"]["max_prediction_difference"]
        delta = np.mean([f["rmse"] for f in by_form["rows"]["folds"]]) - np.mean(
            [f["rmse"] for f in by_form["tables"]["folds"]]
        )
        lines += [
            "",
            f"RMSE now - before: {delta:+.5f} (seed noise 0.0003). Largest difference between "
            "the two forms' predictions of a test rating: "
            + " / ".join(f"{d:.2e}" for d in diffs)
            + " stars (folds "
            + " / ".join(str(f) for f in ACCURACY_FOLDS)
            + "). The forward values are bit-identical (embedding_bag with per-sample weights "
            "sums in the sparse product's order); the gradients of Y and Z are accumulated in "
            "another order and Adam is fused, so single predictions drift apart over the ~1,000 "
            "steps of a fit by amplified float rounding, while the RMSE does not move.",
        ]
    return lines + [""]


def _epoch_lines(epochs: list[dict]) -> list[str]:
    lines = [
        "## Training epochs at full size (`HYBRID_PRESETS['fast']`, generated full file, "
        "users with >= 20 ratings)",
        "",
        "One step = one iteration of `_train_net`'s loop (median of "
        f"{TIMED_STEPS - 1}); an epoch of the early-stopping run = its steps (90 % of the "
        "ratings, batch 8192). 'one real epoch' is the whole early-stopping epoch with the new "
        "form, validation RMSE included, wall clock.",
        "",
        "| users | ratings | movies | steps per epoch | step s before | step s now | speed-up "
        "| epoch s before (from steps) | epoch s now (from steps) | one real epoch s now "
        "| peak RSS GiB now |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    sizes = sorted({c["users"] for c in epochs})
    for n in sizes:
        cases = {c["form"]: c for c in epochs if c["users"] == n}
        now, before = cases.get("rows"), cases.get("tables")
        ref = now or before
        b_step = f"{before['step_seconds']:.3f}" if before else "-"
        b_epoch = f"{before['epoch_seconds_from_steps']:.0f}" if before else "-"
        n_step = f"{now['step_seconds']:.3f}" if now else "-"
        n_epoch = f"{now['epoch_seconds_from_steps']:.1f}" if now else "-"
        real = f"{now['epoch_seconds']:.1f}" if now and "epoch_seconds" in now else "-"
        speed = f"{before['step_seconds'] / now['step_seconds']:.1f}x" if now and before else "-"
        rss = f"{now['peak_rss'] / 1024**3:.2f}" if now else "-"
        lines.append(
            f"| {n:,} | {ref['ratings']:,} | {ref['movies']:,} | {ref['steps_per_epoch']} "
            f"| {b_step} | {n_step} | {speed} | {b_epoch} | {n_epoch} | {real} | {rss} |"
        )
    return lines + [""]


def _coverage_lines(coverage: list[dict]) -> list[str]:
    if not coverage:
        return []
    lines = [
        "## What a step still sums over (`--coverage`)",
        "",
        "Exact batch rows cost the sizes of the batch's distinct users' and movies' sets. With "
        "8192 ratings a batch, heavy users and popular movies are in almost every batch, so "
        "those sets hold a large share of all ratings (mean of 20 seeded batches):",
        "",
        "| users | ratings | distinct users a batch | their sets, share of all ratings "
        "| distinct movies a batch | their sets, share of all ratings |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for c in coverage:
        lines.append(
            f"| {c['users']:,} | {c['ratings']:,} | {c['distinct_users']:,.0f} "
            f"| {100 * c['user_rows_share']:.1f} % | {c['distinct_movies']:,.0f} "
            f"| {100 * c['movie_rows_share']:.1f} % |"
        )
    return lines + [""]


def _fit_lines(fit: dict | None) -> list[str]:
    if not fit:
        return []
    return [
        "## One whole `fast` fit at full size",
        "",
        f"{fit['users']:,} users, {fit['ratings']:,} ratings, {fit['movies']:,} movies: fit "
        f"{fit['fit_seconds']:.0f} s (clustering, neighbour part and training; "
        f"{fit['chosen_epochs']} epochs chosen by early stopping, validation RMSE "
        + ", ".join(f"{v:.4f}" for v in fit["val_curve"])
        + f"), peak RSS {fit['peak_rss'] / 1024**3:.2f} GiB (reading the file: "
        f"{fit['peak_rss_read'] / 1024**3:.2f} GiB).",
        "",
    ]


def write_report(data: dict, commands: list[str]) -> None:
    lines = [
        "# The default model's training: batch rows of the implicit sums",
        "",
        " then ".join(f"`{c}`" for c in commands)
        + f" on {platform.node() or 'this machine'} (2 cores shared with other "
        "engineers' work: compare within a table). Each case in a fresh subprocess, "
        "single-threaded (NUMBA_NUM_THREADS=1, one torch thread). 'before': every step "
        "rebuilds the whole implicit factor tables by sparse products over all ratings "
        "(`_FULL_TABLES_EACH_STEP = True`); 'now': only the batch's distinct users' and "
        "movies' rows (CSR rows + embedding_bag).",
        "",
    ]
    if data.get("accuracy"):
        lines += _accuracy_lines(data["accuracy"])
    if data.get("epochs"):
        lines += _epoch_lines(data["epochs"])
    lines += _coverage_lines(data.get("coverage", []))
    lines += _fit_lines(data.get("full_fit"))
    (RESULTS / "hybrid_training.md").write_text("\n".join(lines))
    (RESULTS / "hybrid_training.json").write_text(
        json.dumps({"commands": commands, **data}, indent=2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", default=",".join(str(n) for n in DEFAULT_USERS))
    parser.add_argument("--before-users", default=",".join(str(n) for n in DEFAULT_USERS))
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-epochs", action="store_true")
    parser.add_argument("--full-fit", action="store_true")
    parser.add_argument("--coverage", action="store_true", help="share of ratings summed a step")
    parser.add_argument("--epoch-case", help=argparse.SUPPRESS)  # users,form
    parser.add_argument("--accuracy-case", help=argparse.SUPPRESS)  # form,seed
    parser.add_argument("--fit-case", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epoch_case:
        n, form = args.epoch_case.split(",")
        print(json.dumps(epoch_case(int(n), form)))
        return
    if args.accuracy_case:
        form, seed = args.accuracy_case.split(",")
        print(json.dumps(accuracy_case(form, int(seed))))
        return
    if args.fit_case:
        print(json.dumps(full_fit_case()))
        return
    command = "benchmarks/hybrid_training.py " + " ".join(sys.argv[1:])
    previous = RESULTS / "hybrid_training.json"  # keep the parts not rerun
    data = json.loads(previous.read_text()) if previous.exists() else {}
    commands = [*data.pop("commands", []), command]
    if not args.skip_accuracy:
        data["accuracy"] = [
            in_subprocess(["--accuracy-case", f"{f},0"]) for f in ("tables", "rows")
        ]
        before, now = data["accuracy"]
        now["max_prediction_difference"] = [
            float(np.max(np.abs(np.subtract(a.pop("predictions"), b.pop("predictions")))))
            for a, b in zip(before["folds"], now["folds"], strict=True)
        ]
        print(json.dumps(data["accuracy"]), flush=True)
    if not args.skip_epochs:
        data["epochs"] = []
        before = {int(v) for v in args.before_users.split(",") if v}
        for n in (int(v) for v in args.users.split(",")):
            for form in ("tables", "rows") if n in before else ("rows",):
                case = in_subprocess(["--epoch-case", f"{n},{form}"])
                print(json.dumps(case), flush=True)
                data["epochs"].append(case)
    if args.coverage:
        data["coverage"] = [coverage_case(int(v)) for v in args.users.split(",")]
        print(json.dumps(data["coverage"]), flush=True)
    if args.full_fit:
        data["full_fit"] = in_subprocess(["--fit-case"])
        print(json.dumps(data["full_fit"]), flush=True)
    write_report(data, commands)


if __name__ == "__main__":
    main()
