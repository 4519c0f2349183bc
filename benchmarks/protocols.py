"""The temporal and leave-last-out protocols on two real data sets, with every model.

    .venv/bin/python benchmarks/protocols.py [--data ml100k,ml-latest-small]
        [--models NAME,...] [--rank-users N]

Data: real MovieLens-100K (``../shared/datasets/fetch-ml100k`` or ``$CLUSTERREC_ML100K``; all
943 users) and MovieLens latest-small (2016, shipped in the package, ``load_builtin``; all 671
users, every one with >= 20 ratings). Protocols (:mod:`clusterrec.evaluation.protocols`):
``temporal`` (one global cut, the last 20 % of ratings by time tested) and ``leave-last``
(each user's last rating by time tested). Models: every name of
:data:`clusterrec.models.registry.MODEL_NAMES` (the baselines and the method's presets), each
fitted fresh on the training side with seed 0. Top-10 measures for a seeded sample of at most
``--rank-users`` (200) users. Writes ``benchmarks/results/protocols.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "datasets"
COLUMNS = ("rmse", "mae", "fallback_share", "ndcg_at_10", "map_at_10", "hit_rate_at_10")
COLUMNS += ("coverage_at_10", "novelty_at_10", "diversity_at_10", "fit_seconds")


def load(name: str):
    from clusterrec import load_builtin, read_ratings

    if name == "ml-latest-small":
        return load_builtin("ml-latest-small").ratings
    if name == "ml100k":
        folder = os.environ.get("CLUSTERREC_ML100K")
        if not folder:
            out = subprocess.run(
                [str(SHARED / "fetch-ml100k")], capture_output=True, text=True, check=True
            )
            folder = out.stdout.strip().splitlines()[-1]
        return read_ratings(Path(folder) / "u.data")
    raise SystemExit(f"unknown data set {name!r}; accepted: ml100k, ml-latest-small")


def main() -> None:
    from clusterrec.evaluation.protocols import evaluate_split, make_split
    from clusterrec.models.registry import MODEL_NAMES, comparison_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ml100k,ml-latest-small")
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--rank-users", type=int, default=200)
    args = parser.parse_args()
    models = comparison_models(args.models.split(","), seed=0)
    started = time.perf_counter()
    lines = [
        "# Temporal and leave-last-out protocols, every model",
        "",
        "Written by `benchmarks/protocols.py` "
        f"(`--data {args.data} --models {args.models} --rank-users {args.rank_users}`) on "
        f"{platform.machine()} with {os.cpu_count()} cores, shared with other work: times are "
        "indicative. Each table names its protocol; measures at 10 are defined in "
        "`docs/evaluation.md`; novelty is a mean popularity rank (higher: rarer items).",
    ]
    payload = []
    for data in args.data.split(","):
        ratings = load(data)
        for protocol in ("temporal", "leave-last"):
            split = make_split(ratings, protocol, test_share=0.2, n=1, seed=0)
            result = evaluate_split(ratings, models, split, rank_users=args.rank_users, seed=0)
            summary = result.summary()
            lines += [
                "",
                f"## {data}: {protocol}",
                "",
                f"Protocol: {result.protocol}",
                "",
                "| model | " + " | ".join(COLUMNS) + " |",
                "|---|" + "---:|" * len(COLUMNS),
            ]
            for model, scores in summary.items():
                cells = [
                    f"{scores[c]:.4f}" if c != "fit_seconds" else f"{scores[c]:.1f}"
                    for c in COLUMNS
                ]
                lines.append(f"| {model} | " + " | ".join(cells) + " |")
            payload.append(
                {
                    "data": data,
                    "protocol": protocol,
                    "description": result.protocol,
                    "models": summary,
                }
            )
            print(f"{data} {protocol}: done at {time.perf_counter() - started:.0f} s", flush=True)
    lines += ["", f"Total {time.perf_counter() - started:.0f} s.", ""]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "protocols.md").write_text("\n".join(lines), encoding="utf-8")
    (RESULTS / "protocols.json").write_text(json.dumps(payload, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
