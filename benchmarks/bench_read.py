"""Reading and filtering: clusterrec against the notebook's approach, side by side in one run.

    .venv/bin/python benchmarks/bench_read.py [--fraction 0.1] [--repeats 3]

Measures, on the ``full`` generated Dataset.npy (4.67M records, written once to
``benchmarks/data/``) and on real MovieLens-100K:

* clusterrec: ``read_ratings`` + ``filter_users(150, 300)``, each repeat in a fresh
  subprocess so that its peak resident memory (``ru_maxrss``) is its own;
* the notebook's approach: ``np.load``, strings split in a Python loop, ``.apply`` per column,
  dates parsed element by element as the pandas 1.x of the notebook's time did for
  ``pd.to_datetime`` without a format (``dateutil``), duplicates dropped, users filtered with
  ``groupby``; on a stated fraction of the records, its time scaled up linearly (every step is
  linear). The same with today's vectorised ``pd.to_datetime(format=...)`` is shown too, so
  the reader sees how much of the gap is the date parsing;
* a plain pyarrow CSV parse of the same records (no validation), for scale.

Peak memory is each child process's ``VmHWM`` (from ``/proc/self/status``), which, unlike
``ru_maxrss``, is not inherited from the parent across ``exec``.

Prints a table and writes ``benchmarks/results/read.md`` and ``read.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
SHARED = HERE.parent.parent / "shared"

PEAK = """
def peak_gib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
"""

CHILD_CLUSTERREC = (
    PEAK
    + """
import sys, time, json
t0 = time.perf_counter()
from clusterrec.data.readers import read_ratings
from clusterrec.data.filtering import filter_users
t1 = time.perf_counter()
ratings = read_ratings(sys.argv[1])
t2 = time.perf_counter()
kept, report = filter_users(ratings, 150, 300)
t3 = time.perf_counter()
print(json.dumps({"read": t2 - t1, "filter": t3 - t2, "total": t3 - t1,
                  "peak_gib": peak_gib(),
                  "kept": [len(kept), kept.n_users, kept.n_items],
                  "input": [len(ratings), ratings.n_users, ratings.n_items]}))
"""
)

CHILD_NOTEBOOK = (
    PEAK
    + """
import sys, time, json
import numpy as np, pandas as pd
from dateutil import parser as dateutil_parser
fraction = float(sys.argv[2])
modern = sys.argv[3] == "modern"
t1 = time.perf_counter()
data = np.load(sys.argv[1], allow_pickle=True)
data = data[: int(len(data) * fraction)]
rows = [record.split(",") for record in data]
frame = pd.DataFrame(rows, columns=["user", "item", "rating", "date"])
frame["user"] = frame["user"].apply(lambda s: s.strip())
frame["item"] = frame["item"].apply(lambda s: s.strip())
frame["rating"] = frame["rating"].apply(int)
if modern:
    frame["date"] = pd.to_datetime(frame["date"], format="%d %B %Y")
else:
    frame["date"] = frame["date"].apply(dateutil_parser.parse)
frame = frame.drop_duplicates(["user", "item"], keep="last")
counts = frame.groupby("user")["item"].count()
kept_users = counts[(counts >= 150) & (counts <= 300)].index
kept = frame[frame["user"].isin(kept_users)]
t2 = time.perf_counter()
print(json.dumps({"total": t2 - t1, "records": len(data), "peak_gib": peak_gib()}))
"""
)

CHILD_PYARROW = (
    PEAK
    + """
import sys, time, json
import numpy as np, pyarrow as pa, pyarrow.csv as pacsv
t1 = time.perf_counter()
data = np.load(sys.argv[1], allow_pickle=False)
text = "\\n".join(data.tolist()).encode()
table = pacsv.read_csv(pa.BufferReader(text),
    read_options=pacsv.ReadOptions(column_names=["user", "item", "rating", "date"]),
    convert_options=pacsv.ConvertOptions(timestamp_parsers=["%d %B %Y"]))
t2 = time.perf_counter()
print(json.dumps({"total": t2 - t1, "peak_gib": peak_gib()}))
"""
)


def run_child(code: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def full_dataset() -> Path:
    """The ``full`` generated Dataset.npy, written once."""
    path = DATA / "full-seed0.npy"
    if not path.exists():
        from clusterrec.data.synthetic import generate_records, write_dataset_npy

        print(f"generating {path} ...", flush=True)
        write_dataset_npy(path, generate_records("full", seed=0))
    return path


def ml100k() -> Path | None:
    script = SHARED / "datasets" / "fetch-ml100k"
    if not script.exists():
        return None
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout
    return Path(out.strip().splitlines()[-1]) / "u.data"


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fraction",
        type=float,
        default=0.1,
        help="share of records the notebook's approach runs on (default 0.1)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    path = full_dataset()
    ours = [run_child(CHILD_CLUSTERREC, str(path)) for _ in range(args.repeats)]
    arrow = [run_child(CHILD_PYARROW, str(path)) for _ in range(args.repeats)]
    notebook = run_child(CHILD_NOTEBOOK, str(path), str(args.fraction), "dateutil")
    notebook_full = notebook["total"] / args.fraction
    modern = run_child(CHILD_NOTEBOOK, str(path), str(args.fraction), "modern")
    small = ml100k()
    ml_runs = [run_child(CHILD_CLUSTERREC, str(small)) for _ in range(5)] if small else []

    ours_total = median_of(ours, "total")
    results = {
        "data": {"path": str(path), "input": ours[0]["input"], "kept_150_300": ours[0]["kept"]},
        "clusterrec": {
            "read_s": median_of(ours, "read"),
            "filter_s": median_of(ours, "filter"),
            "total_s": ours_total,
            "peak_gib": max(r["peak_gib"] for r in ours),
            "repeats": args.repeats,
        },
        "pyarrow_plain_parse": {
            "total_s": median_of(arrow, "total"),
            "peak_gib": max(r["peak_gib"] for r in arrow),
        },
        "notebook": {
            "fraction": args.fraction,
            "records": notebook["records"],
            "measured_s": notebook["total"],
            "scaled_to_full_s": notebook_full,
            "peak_gib_on_fraction": notebook["peak_gib"],
        },
        "notebook_modern_dates": {
            "measured_s": modern["total"],
            "scaled_to_full_s": modern["total"] / args.fraction,
        },
        "speedup_vs_notebook": notebook_full / ours_total,
        "speedup_vs_notebook_modern_dates": modern["total"] / args.fraction / ours_total,
        "ml100k_read_filter_s": median_of(ml_runs, "read") if ml_runs else None,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "read.json").write_text(json.dumps(results, indent=2) + "\n")
    table = render(results)
    (RESULTS / "read.md").write_text(table + "\n")
    print(table)


def render(r: dict) -> str:
    c, n, a = r["clusterrec"], r["notebook"], r["pyarrow_plain_parse"]
    records, users, items = r["data"]["input"]
    kept = r["data"]["kept_150_300"]
    lines = [
        f"Reading + filtering the full generated Dataset.npy ({records:,} ratings, {users:,} users,"
        f" {items:,} movies -> 150..300: {kept[0]:,} ratings, {kept[1]:,} users, {kept[2]:,}"
        " movies)",
        "",
        "| approach | seconds (median) | peak memory | vs clusterrec |",
        "|---|---|---|---|",
        f"| clusterrec read_ratings + filter_users | {c['total_s']:.2f} (read {c['read_s']:.2f}, "
        f"filter {c['filter_s']:.2f}) | {c['peak_gib']:.2f} GiB | 1.0x |",
        f"| plain pyarrow CSV parse, no validation | {a['total_s']:.2f} | {a['peak_gib']:.2f} GiB "
        f"| {a['total_s'] / c['total_s']:.2f}x |",
        f"| notebook (split loop, .apply, dates one by one) | {n['scaled_to_full_s']:.0f} "
        f"(measured {n['measured_s']:.1f} s on {n['fraction']:.0%} = {n['records']:,} records, "
        f"scaled) | {n['peak_gib_on_fraction']:.2f} GiB on the fraction | "
        f"{r['speedup_vs_notebook']:.0f}x slower |",
        f"| the same, dates by today's pd.to_datetime(format=...) | "
        f"{r['notebook_modern_dates']['scaled_to_full_s']:.0f} (scaled likewise) | | "
        f"{r['speedup_vs_notebook_modern_dates']:.0f}x slower |",
    ]
    if r["ml100k_read_filter_s"] is not None:
        lines += [
            "",
            f"MovieLens-100K u.data read: {r['ml100k_read_filter_s']:.3f} s (median of 5)",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
