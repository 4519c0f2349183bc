"""``clusterrec describe``: read, validate and filter; what was kept and dropped."""

from __future__ import annotations

import argparse

from clusterrec.cli.common import add_data_options, load_data, print_json, set_command, warn_dropped
from clusterrec.data.ratings import Ratings

__all__ = [
    "add_to",
    "describe_payload",
    "format_description",
    "run",
]


def add_to(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "describe",
        help="read, validate and filter a ratings file; counts, statistics and histograms",
        description="Read and validate DATA, keep users with --min-ratings..--max-ratings "
        "ratings, and describe what was read, kept and dropped.",
    )
    add_data_options(parser)
    parser.add_argument("--plots", metavar="DIR", help="write the two histograms as PNG to DIR")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(parser, run)


def run(args: argparse.Namespace) -> int:
    from clusterrec.data.filtering import filter_users

    ratings = load_data(args)
    kept, filtered = filter_users(ratings, args.min_ratings, args.max_ratings)
    plots = {}
    if args.plots:
        from clusterrec.viz.data import save_data_histograms

        plots = {name: str(path) for name, path in save_data_histograms(kept, args.plots).items()}
    payload = describe_payload(ratings, kept, filtered, plots)
    warn_dropped(ratings)
    if args.json:
        print_json(payload)
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
