"""``clusterrec run``: the whole method from a ratings file to report.html, with one progress
display and a stage cache."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from clusterrec.cli.common import print_json, set_command
from clusterrec.errors import ConfigError
from clusterrec.run.measure import StageRecord
from clusterrec.run.progress import Progress, StageBar

__all__ = [
    "add_to",
    "default_out",
    "format_summary",
    "make_progress",
    "run",
]


#: Sizes of ``--generated`` (mirrors clusterrec.data.synthetic.SIZES, checked by a test).
GENERATED_SIZES = ("tiny", "seed", "full", "ml10m")


def add_to(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="the whole method, data to report: distances, clusterings, networks, evaluation",
        description="Describe DATA, compute the three distances, cluster with each metric for a "
        "range of L, cluster with Jaccard, train the per-cluster networks (users protocol), "
        "compare with the baselines by k-fold cross-validation and recommend for sample users. "
        "Writes report.html, figures/, results/, model/, config.toml and manifest.json to "
        "--out. Finished stages are reused from a cache when nothing they depend on changed.",
    )
    parser.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="ratings file; default: MovieLens latest-small, shipped in the package "
        "([data] builtin), users with >= 20 ratings",
    )
    parser.add_argument(
        "--generated",
        metavar="SIZE",
        choices=GENERATED_SIZES,
        help="instead of DATA, generated data in the assignment's Dataset.npy format and shape "
        "(" + " | ".join(GENERATED_SIZES) + "; the assignment's 150..300 ratings per user); "
        "the same as --set data.builtin=none --set data.generated_size=SIZE",
    )
    parser.add_argument("--config", metavar="RUN.TOML", help="the run's parameters (TOML)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter, e.g. --set model.preset=notebook (repeatable)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration (the defaults without --config) as TOML",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="run directory (default: runs/<data name>-<date-time>)"
    )
    parser.add_argument(
        "--items", metavar="ITEMS_FILE", help="items table with titles for the recommendations"
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="stage cache (default: ~/.cache/clusterrec/stages)"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="compute every stage again (the cache is updated)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (each stage's form, memory and rough time) and stop",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    set_command(parser, run)


def run(args: argparse.Namespace) -> int:
    from clusterrec.run.config import load_config
    from clusterrec.run.pipeline import run_pipeline

    if args.generated and args.data:
        raise ConfigError("give either DATA or --generated SIZE, not both")
    generated = ["data.builtin=none", f"data.generated_size={args.generated}"]
    config = load_config(args.config, [*args.set, *(generated if args.generated else [])])
    if args.print_config:
        sys.stdout.write(config.to_toml())
        return 0
    out = Path(args.out) if args.out else default_out(args.data, config)
    if args.data is None and config.data.builtin != "none":
        print(
            f"clusterrec: no DATA given; using {config.data.builtin} (MovieLens, shipped in the "
            "package; --generated SIZE for generated data in the assignment's shape)",
            file=sys.stderr,
        )
    elif args.data is None:
        size = config.data.generated_size
        shape = (
            "in the shape of MovieLens-10M (a ratings.csv, half stars)"
            if size == "ml10m"
            else "in the assignment's format"
        )
        print(
            f"clusterrec: no DATA given; using generated data ({size} size, seed "
            f"{config.seed}) {shape}",
            file=sys.stderr,
        )
    if args.dry_run:
        return _dry_run(args, config)
    progress = make_progress(enabled=not args.no_progress)
    try:
        result = run_pipeline(
            config,
            args.data,
            out,
            items=args.items,
            cache_dir=args.cache_dir,
            reuse=not args.no_cache,
            progress=progress,
            on_plan=lambda plan: print(plan.to_text(), file=sys.stderr),
        )
    finally:
        progress.close()
    for note in result.manifest["input"].get("notes", []):
        print(f"clusterrec: note: {note}", file=sys.stderr)
    if args.json:
        print_json(result.manifest)
    else:
        print(format_summary(result.records, result.out, result.report, result.manifest))
    return 0


def _dry_run(args: argparse.Namespace, config: object) -> int:
    """The plan alone (the data stage runs to learn the data's shape); exit 2 when it would
    be refused."""
    from clusterrec.run.pipeline import plan_pipeline

    plan = plan_pipeline(config, args.data, cache_dir=args.cache_dir, reuse=not args.no_cache)
    if args.json:
        print_json(plan.as_dict())
    else:
        print(plan.to_text())
    plan.check()
    return 0


def default_out(data: str | None, config: object = None) -> Path:
    """``runs/<data file stem, built-in name or 'generated'>-<YYYYmmdd-HHMMSS>``."""
    builtin = config.data.builtin if config is not None else "none"  # config: a RunConfig
    name = Path(data).stem if data else (builtin if builtin != "none" else "generated")
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def format_summary(records: list[StageRecord], out: Path, report: Path, manifest: dict) -> str:
    """The lines printed after a run: each stage, reused or computed, and where things are."""
    reused = [r.name for r in records if r.cached]
    lines = [f"{'stage':<24} {'':<9} {'seconds':>8} {'peak MiB':>9}"]
    for record in records:
        how = "reused" if record.cached else "computed"
        lines.append(
            f"{record.name:<24} {how:<9} {record.seconds:>8.1f} {record.peak_rss_mib:>9.0f}"
        )
    lines.append("")
    if reused:
        lines.append(
            f"reused {len(reused)} of {len(records)} stages from the cache "
            f"({manifest['cache']['folder']}): {', '.join(reused)}"
        )
    else:
        lines.append(f"computed every stage (cache: {manifest['cache']['folder']})")
    lines.append(f"total {manifest['seconds']:.1f} s; report: {report}")
    lines.append(f"run directory: {out} (figures/, results/, model/, manifest.json)")
    return "\n".join(lines)


def make_progress(enabled: bool) -> Progress:
    """The CLI's progress display (a bar over stages), or one that only logs."""
    return StageBar() if enabled else Progress()
