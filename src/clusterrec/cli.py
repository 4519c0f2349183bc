"""The ``clusterrec`` command line: a thin edge over the library.

User errors (bad input, bad options) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from clusterrec import __version__
from clusterrec.data.formats import FORMATS
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ClusterrecError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return args.run(args)
    except ClusterrecError as error:
        print(f"clusterrec: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"clusterrec: error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("clusterrec: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="clusterrec",
        description="Cluster-based collaborative filtering with neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"clusterrec {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress")
    commands = parser.add_subparsers(title="commands", required=True, parser_class=_Parser)
    _add_describe(commands)
    _add_generate(commands)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)


# -- shared options -------------------------------------------------------------------------------


def _add_data_options(parser: argparse.ArgumentParser, *, data_optional: bool = True) -> None:
    parser.add_argument(
        "data",
        nargs="?" if data_optional else None,
        metavar="DATA",
        help="ratings file (Dataset.npy, u.data, ratings.dat, ratings.csv, any CSV/TSV/Parquet)"
        + ("; default: generated data in the assignment's format" if data_optional else ""),
    )
    reading = parser.add_argument_group("reading")
    reading.add_argument("--format", choices=list(FORMATS), help="override format detection")
    reading.add_argument("--user-col", help="column holding the user id")
    reading.add_argument("--item-col", help="column holding the item id")
    reading.add_argument("--rating-col", help="column holding the rating")
    reading.add_argument("--time-col", help="column holding the time (optional)")
    reading.add_argument("--date-format", help="strptime format of a date column")
    reading.add_argument("--scale", help="rating scale LOW,HIGH[,STEP], e.g. 1,10")
    reading.add_argument(
        "--on-bad-record",
        choices=["error", "skip"],
        default="error",
        help="stop at the first malformed record (default) or skip, count and report them",
    )
    filtering = parser.add_argument_group("filtering users by their number of ratings")
    filtering.add_argument(
        "--min-ratings",
        type=int,
        default=1,
        metavar="N",
        help="keep users with at least N ratings (default 1)",
    )
    filtering.add_argument(
        "--max-ratings",
        type=int,
        default=None,
        metavar="N",
        help="keep users with at most N ratings (default: no limit)",
    )
    filtering.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the generated default data and of every random step",
    )


def _load(args: argparse.Namespace) -> Ratings:
    """Read DATA, or the built-in generated data when no DATA is given."""
    from clusterrec.data.readers import read_ratings

    path = args.data
    if path is None:
        from clusterrec.data.synthetic import default_dataset_path

        path = default_dataset_path(seed=args.seed)
        print(f"clusterrec: no DATA given; using generated data {path}", file=sys.stderr)
    return read_ratings(
        path,
        args.format,
        user_col=args.user_col,
        item_col=args.item_col,
        rating_col=args.rating_col,
        time_col=args.time_col,
        date_format=args.date_format,
        scale=args.scale,
        on_bad_record=args.on_bad_record,
    )


def _print_json(payload: dict) -> None:
    json.dump(payload, sys.stdout, indent=2, default=_json_default)
    sys.stdout.write("\n")


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _warn_dropped(ratings: Ratings) -> None:
    """Bad records skipped and notes go to stderr, so nothing is dropped unseen."""
    report = ratings.source
    if report is None:
        return
    if report.bad_records:
        print(
            f"clusterrec: skipped {report.bad_records:,} bad records; first ones:", file=sys.stderr
        )
        for example in report.bad_examples:
            print(f"  {example}", file=sys.stderr)
    for note in report.notes:
        print(f"clusterrec: note: {note}", file=sys.stderr)


def _command(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int]) -> None:
    parser.set_defaults(run=run)


# -- describe -------------------------------------------------------------------------------------


def _add_describe(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "describe",
        help="read, validate and filter a ratings file; counts, statistics and histograms",
        description="Read and validate DATA, keep users with --min-ratings..--max-ratings "
        "ratings, and describe what was read, kept and dropped.",
    )
    _add_data_options(parser)
    parser.add_argument("--plots", metavar="DIR", help="write the two histograms as PNG to DIR")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    _command(parser, _run_describe)


def _run_describe(args: argparse.Namespace) -> int:
    from clusterrec.data.filtering import filter_users

    ratings = _load(args)
    kept, filtered = filter_users(ratings, args.min_ratings, args.max_ratings)
    plots = {}
    if args.plots:
        from clusterrec.plots import save_data_histograms

        plots = {name: str(path) for name, path in save_data_histograms(kept, args.plots).items()}
    payload = describe_payload(ratings, kept, filtered, plots)
    _warn_dropped(ratings)
    if args.json:
        _print_json(payload)
    else:
        print(format_description(payload))
    return 0


def describe_payload(ratings: Ratings, kept: Ratings, filtered: object, plots: dict) -> dict:
    """The JSON object ``clusterrec describe --json`` prints."""
    from clusterrec.data.statistics import describe_ratings

    report = ratings.source
    return {
        "input": {
            "path": report.path if report else None,
            "format": report.format if report else None,
            "records": report.records if report else len(ratings),
            "ratings": len(ratings),
            "users": ratings.n_users,
            "items": ratings.n_items,
            "scale": str(ratings.scale),
        },
        "filter": {"min_ratings": filtered.min_ratings, "max_ratings": filtered.max_ratings},
        "kept": {"ratings": len(kept), "users": kept.n_users, "items": kept.n_items},
        "dropped": {
            "bad_records": report.bad_records if report else 0,
            "duplicates": report.duplicates if report else 0,
            "users_outside_range": filtered.users_outside_range,
            "users_below_min": filtered.users_below,
            "users_above_max": filtered.users_above,
            "ratings_of_users_outside_range": len(ratings) - len(kept),
            "items_no_kept_user_rated": ratings.n_items - kept.n_items,
            "bad_record_examples": [str(b) for b in report.bad_examples] if report else [],
        },
        "notes": list(report.notes) if report else [],
        "statistics": describe_ratings(kept),
        "plots": plots,
    }


def format_description(payload: dict) -> str:
    """The readable summary ``clusterrec describe`` prints."""
    source, kept, dropped, stats = (
        payload["input"],
        payload["kept"],
        payload["dropped"],
        payload["statistics"],
    )
    bounds = payload["filter"]
    high = bounds["max_ratings"] if bounds["max_ratings"] is not None else "inf"
    lines = [
        f"{source['path']} ({source['format']}, ratings on {source['scale']})",
        f"  read     {source['records']:>12,} records",
        f"  input    {source['ratings']:>12,} ratings  {source['users']:>10,} users  "
        f"{source['items']:>10,} items",
        f"  kept     {kept['ratings']:>12,} ratings  {kept['users']:>10,} users  "
        f"{kept['items']:>10,} items   (users with {bounds['min_ratings']}..{high} ratings)",
        f"  dropped  {dropped['bad_records']:,} bad records, {dropped['duplicates']:,} duplicates, "
        f"{dropped['users_outside_range']:,} users outside the range "
        f"({dropped['users_below_min']:,} below, {dropped['users_above_max']:,} above)",
        "",
        f"kept data: density {stats['density']:.5f}, mean rating {stats['mean_rating']:.3f}",
        "  ratings per user: " + _quantile_text(stats["ratings_per_user"]),
    ]
    if "span_days_per_user" in stats:
        lines.append("  span in days:     " + _quantile_text(stats["span_days_per_user"]))
        lines.append(f"  rated between {stats['first_rating']} and {stats['last_rating']}")
    counts = stats["rating_counts"]
    lines.append("  rating counts:    " + ", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    for note in payload["notes"]:
        lines.append(f"note: {note}")
    for name, path in payload["plots"].items():
        lines.append(f"figure {name}: {path}")
    return "\n".join(lines)


def _quantile_text(q: dict) -> str:
    return (
        f"min {q['min']}, median {q['median']}, mean {q['mean']}, "
        f"max {q['max']} (quartiles {q['q25']}..{q['q75']})"
    )


# -- generate -------------------------------------------------------------------------------------


def _add_generate(commands: argparse._SubParsersAction) -> None:
    from clusterrec.data.synthetic import SIZES

    parser = commands.add_parser(
        "generate",
        help="write synthetic ratings in the assignment's Dataset.npy format",
        description="Write generated ratings as a NumPy array of 'user,item,rating,date' "
        "strings, the format of the assignment's Dataset.npy.",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="the .npy file to write")
    parser.add_argument("--size", choices=list(SIZES), default="tiny", help="default: tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    _command(parser, _run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from clusterrec.data.synthetic import generate_records, write_dataset_npy

    out = Path(args.out)
    if out.exists() and not args.force:
        raise ClusterrecError(f"{out}: already exists; pass --force to overwrite it")
    records = generate_records(args.size, seed=args.seed)
    write_dataset_npy(out, records)
    payload = {"path": str(out), "size": args.size, "seed": args.seed, "records": len(records)}
    if args.json:
        _print_json(payload)
    else:
        print(f"wrote {len(records):,} records ({args.size}, seed {args.seed}) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
