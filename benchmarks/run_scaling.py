"""The whole ``clusterrec run`` at growing sizes: seconds and peak RSS per stage, and growth.

    .venv/bin/python benchmarks/run_scaling.py [--min-ratings 80,40,20] [--ml10m] [--seed-size]
        [--name run_scaling]

Each run is a fresh ``clusterrec run`` subprocess with a cold stage cache (``--no-cache`` into
a temporary cache folder), its plan printed first (kept in the results), its manifest read for
every stage's seconds and peak resident memory (VmHWM). The run's peak is the largest of its
stages' peaks: the run resets the kernel's high-water mark at each stage
(``/proc/self/clear_refs``), so ``/usr/bin/time -v``'s "maximum resident set size" is only the
last stage's (kept in the json as ``time_v_last_stage_mib``).

Sizes: the generated full file (1,499,238 users; ``--generated full``) keeping the users with at
least ``--min-ratings`` ratings (no upper bound), so the kept users grow from about 5,000 to
24,702; ``--ml10m``: the generated MovieLens-10M-shaped ratings.csv (69,878 users, 10M ratings,
users >= 20 ratings); ``--seed-size``: the assignment's default run on the generated seed-size
data. Per stage the growth exponent is the least-squares slope of log(seconds) on log(kept
ratings) over the full-file and MovieLens-10M-shaped runs (the seed-size run has the
assignment's window, not the same users). Writes ``benchmarks/results/run_scaling.md`` and
``.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CLI = ROOT / ".venv" / "bin" / "clusterrec"


def run_once(label: str, args: list[str]) -> dict:
    """One cold ``clusterrec run`` with ``args``: its plan, stages, total and peak memory."""
    with tempfile.TemporaryDirectory(prefix="run-scaling-") as folder:
        out = Path(folder) / "run"
        command = [
            "/usr/bin/time", "-v", str(CLI), "run", *args, "--out", str(out),
            "--cache-dir", str(Path(folder) / "cache"), "--no-progress",
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{label}: clusterrec run failed:\n{done.stderr[-3000:]}")
        manifest = json.loads((out / "manifest.json").read_text())
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    plan = done.stderr[done.stderr.find("plan for") :].split("\n\tCommand being timed")[0]
    plan = plan[: plan.find("\n\n")] if "\n\n" in plan else plan
    kept = manifest["input"]["after_filter"]
    return {
        "label": label,
        "args": args,
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(manifest["peak_rss_mib"]),
        "time_v_last_stage_mib": round(peak_kib / 1024),
        "kept": {f"kept_{k}": kept[k] for k in ("users", "ratings", "items")},
        "stages": [
            {
                "name": s["name"],
                "seconds": round(s["seconds"], 2),
                "peak_rss_mib": round(s["peak_rss_mib"]),
            }
            for s in manifest["stages"]
        ],
        "plan": plan.strip(),
        "load_before": os.getloadavg()[0],
    }


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    pairs = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pairs) < 2:
        return None
    mx = sum(p[0] for p in pairs) / len(pairs)
    my = sum(p[1] for p in pairs) / len(pairs)
    den = sum((p[0] - mx) ** 2 for p in pairs)
    return sum((p[0] - mx) * (p[1] - my) for p in pairs) / den if den else None


def markdown(runs: list[dict], growth: dict) -> str:
    lines = [
        "# The whole run at growing sizes",
        "",
        f"Written by `benchmarks/run_scaling.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Each run a fresh `clusterrec run` with a cold "
        "cache; stage seconds and peak RSS from its manifest; a run's peak is its largest "
        "stage peak (the run resets the kernel's high-water mark per stage). The machine is "
        "shared (the load before each run is given): "
        "seconds are indicative.",
        "",
        "| run | users | ratings | seconds | peak MiB | load before |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        k = r["kept"]
        lines.append(
            f"| {r['label']} | {k['kept_users'] or 0:,} | {k['kept_ratings'] or 0:,} | "
            f"{r['seconds']:.0f} | {r['peak_rss_mib']:,} | {r['load_before']:.1f} |"
        )
    names = [s["name"] for s in runs[0]["stages"]]
    lines += ["", "Seconds per stage (peak RSS MiB in brackets):", ""]
    lines.append("| stage | " + " | ".join(r["label"] for r in runs) + " | time ∝ ratings^ |")
    lines.append("|---|" + "---:|" * (len(runs) + 1))
    for name in names:
        cells = []
        for r in runs:
            stage = next((s for s in r["stages"] if s["name"] == name), None)
            cells.append(f"{stage['seconds']:.1f} ({stage['peak_rss_mib']:,})" if stage else "-")
        exponent = growth.get(name)
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {exponent:.2f} |"
            if exponent is not None
            else f"| {name} | " + " | ".join(cells) + " | - |"
        )
    lines += [
        "",
        "Growth: least-squares slope of log(stage seconds) on log(kept ratings) over the runs "
        "on the full file and the MovieLens-10M-shaped run (-: fewer than two such runs). "
        "Rough: bounded forms switch on at different sizes and the machine is shared.",
        "",
    ]
    for r in runs:
        lines += [f"## Plan printed by {r['label']}", "", "```", r["plan"], "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-ratings", default="80,40,20")
    parser.add_argument("--ml10m", action="store_true")
    parser.add_argument("--seed-size", action="store_true")
    parser.add_argument("--name", default="run_scaling", help="results/NAME.md and .json")
    args = parser.parse_args()
    runs = []
    if args.seed_size:
        runs.append(run_once("seed size (default run)", ["--generated", "seed"]))
    full = []
    for value in (int(v) for v in args.min_ratings.split(",") if v):
        full.append(
            run_once(
                f"full, >= {value} ratings",
                ["--generated", "full", "--set", f"data.min_ratings={value}",
                 "--set", "data.max_ratings=none"],
            )
        )  # fmt: skip
        print(full[-1]["label"], full[-1]["seconds"], "s", flush=True)
    runs += full
    if args.ml10m:
        runs.append(
            run_once(
                "MovieLens-10M-shaped",
                ["--generated", "ml10m", "--set", "data.min_ratings=20",
                 "--set", "data.max_ratings=none"],
            )
        )  # fmt: skip
    sized = runs[1:] if args.seed_size else runs
    growth = {}
    if sized:
        for stage in (s["name"] for s in sized[0]["stages"]):
            xs = [r["kept"]["kept_ratings"] or 0 for r in sized]
            ys = [next(s["seconds"] for s in r["stages"] if s["name"] == stage) for r in sized]
            growth[stage] = slope(xs, ys)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(
        json.dumps({"runs": runs, "growth": growth}, indent=2) + "\n"
    )
    (RESULTS / f"{args.name}.md").write_text(markdown(runs, growth))
    print(markdown(runs, growth))


if __name__ == "__main__":
    main()
