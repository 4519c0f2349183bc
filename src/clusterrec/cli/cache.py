"""``clusterrec cache``: how big and how old the stage cache is (``info``), and making it
smaller (``prune``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from clusterrec.cli.common import Parser, print_json, set_command
from clusterrec.errors import ConfigError

__all__ = [
    "add_to",
    "format_info",
    "run_info",
    "run_prune",
]


def add_to(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "cache",
        help="the stage cache of clusterrec run: its size, entries and age; prune it",
        description="Every finished stage of clusterrec run is kept in a cache folder and "
        "reused when nothing it depends on changed. After each run the cache is pruned to "
        "[cache] max_size (default 10GiB), least recently used entries first.",
    )
    actions = parser.add_subparsers(title="actions", required=True, parser_class=Parser)
    info = actions.add_parser("info", help="size, entries and age of the cache, per stage")
    _cache_dir_option(info)
    info.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(info, run_info)
    prune = actions.add_parser(
        "prune",
        help="remove cache entries, least recently used first",
        description="Remove entries not used for --older-than DAYS, then more, least recently "
        "used first, until the cache holds at most --max-size. Without either option, only "
        "unfinished folders left by killed runs go.",
    )
    _cache_dir_option(prune)
    prune.add_argument("--older-than", type=float, metavar="DAYS", help="e.g. 30 or 0.5")
    prune.add_argument("--max-size", metavar="SIZE", help="e.g. 500MB, 10GiB, 0 (empty it)")
    prune.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(prune, run_prune)


def _cache_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="the stage cache (default: ~/.cache/clusterrec/stages)"
    )


def _root(args: argparse.Namespace) -> Path:
    from clusterrec.run.cache import default_cache_dir

    return Path(args.cache_dir) if args.cache_dir else default_cache_dir()


def run_info(args: argparse.Namespace) -> int:
    from clusterrec.run.cache import cache_info

    info = cache_info(_root(args))
    if args.json:
        print_json(info)
    else:
        print(format_info(info))
    return 0


def format_info(info: dict) -> str:
    """The lines ``clusterrec cache info`` prints."""
    from clusterrec.run.cache import format_size

    lines = [f"stage cache: {info['folder']}"]
    if not info["entries"] and not info["unfinished"]:
        return lines[0] + "\nempty"
    unfinished = f", {info['unfinished']} unfinished" if info["unfinished"] else ""
    lines.append(
        f"{format_size(info['size'])} in {info['entries']} entries{unfinished}; last used "
        f"{_days(info['newest_days'])} (newest) to {_days(info['oldest_days'])} (oldest) ago"
    )
    lines.append(f"{'stage':<24} {'entries':>7} {'size':>10}")
    for stage, row in info["stages"].items():
        lines.append(f"{stage:<24} {row['entries']:>7} {format_size(row['size']):>10}")
    return "\n".join(lines)


def _days(days: float) -> str:
    if days < 1 / 24:
        return f"{days * 1440:.0f} min"
    if days < 1:
        return f"{days * 24:.1f} h"
    return f"{days:.1f} days"


def run_prune(args: argparse.Namespace) -> int:
    from clusterrec.run.cache import format_size, parse_size, prune

    if args.older_than is not None and args.older_than < 0:
        raise ConfigError(f"--older-than must be 0 or more days, not {args.older_than}")
    limit = parse_size(args.max_size) if args.max_size is not None else None
    root = _root(args)
    removed = prune(root, max_size=limit, older_than_days=args.older_than)
    freed = sum(entry.size for entry in removed)
    if args.json:
        print_json(
            {
                "folder": str(root),
                "removed": len(removed),
                "freed": freed,
                "entries": [str(entry.path) for entry in removed],
            }
        )
    else:
        print(f"removed {len(removed)} entries ({format_size(freed)}) from {root}")
    return 0
