"""What the subcommands share: data options, loading, JSON output, the one-line errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from clusterrec.data.formats import FORMATS
from clusterrec.data.ratings import Ratings

__all__ = [
    "EXIT_USAGE",
    "Parser",
    "add_data_options",
    "apply_run_defaults",
    "load_data",
    "print_json",
    "set_command",
    "warn_dropped",
]

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def add_data_options(
    parser: argparse.ArgumentParser, *, data_optional: bool = True, run_defaults: bool = False
) -> None:
    """DATA, the reading options and the Rmin..Rmax filter. With ``run_defaults`` the filter
    and the seed default to the run configuration's (:func:`apply_run_defaults` fills them in
    when the command runs, so a command that repeats a run's step cannot drift from it)."""
    if run_defaults:
        low = high = seed = argparse.SUPPRESS
        low_help = "default: the assignment's 150, as clusterrec run on a file"
        high_help = "default: the assignment's 300, as clusterrec run on a file"
        seed_help = "; default: as clusterrec run"
    else:
        low, high, seed = 1, None, 0
        low_help, high_help, seed_help = "default 1", "default: no limit", " (default 0)"
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
        default=low,
        metavar="N",
        help=f"keep users with at least N ratings ({low_help})",
    )
    filtering.add_argument(
        "--max-ratings",
        type=int,
        default=high,
        metavar="N",
        help=f"keep users with at most N ratings ({high_help})",
    )
    filtering.add_argument(
        "--seed",
        type=int,
        default=seed,
        help="seed of the generated default data and of every random step" + seed_help,
    )


def apply_run_defaults(args: argparse.Namespace, **keys: str) -> object:
    """Fill the options left out (see ``run_defaults``) from ``RunConfig()``: min_ratings,
    max_ratings, seed, and ``keys`` (option name -> "section.key"); returns the config."""
    from clusterrec.run.config import RunConfig

    config = RunConfig()
    low, high = config.data.user_range()  # generated data or a file: the assignment's range
    for name, value in (("min_ratings", low), ("max_ratings", high)):
        if not hasattr(args, name):
            setattr(args, name, value)
    wanted = {"seed": "seed", **keys}
    for name, where in wanted.items():
        if not hasattr(args, name):
            value = config
            for part in where.split("."):
                value = getattr(value, part)
            setattr(args, name, value)
    return config


def load_data(args: argparse.Namespace) -> Ratings:
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


def print_json(payload: dict) -> None:
    """``payload`` on stdout in the project's one JSON encoding
    (:func:`clusterrec._files.json_text`)."""
    from clusterrec._files import json_text

    sys.stdout.write(json_text(payload) + "\n")


def warn_dropped(ratings: Ratings) -> None:
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


def set_command(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int]) -> None:
    parser.set_defaults(run=run)
