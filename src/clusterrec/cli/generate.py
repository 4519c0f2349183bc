"""``clusterrec generate``: synthetic ratings in the assignment's Dataset.npy format."""

from __future__ import annotations

import argparse
from pathlib import Path

from clusterrec.cli.common import print_json, set_command
from clusterrec.errors import ClusterrecError

__all__ = [
    "add_to",
    "run",
]


def add_to(commands: argparse._SubParsersAction) -> None:
    from clusterrec.data.synthetic import SIZES

    parser = commands.add_parser(
        "generate",
        help="write synthetic ratings in the assignment's Dataset.npy format",
        description="Write generated ratings as a NumPy array of 'user,item,rating,date' "
        "strings, the format of the assignment's Dataset.npy.",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the file to write: a .npy (ml10m: a .csv, MovieLens' ratings.csv, half stars)",
    )
    parser.add_argument("--size", choices=list(SIZES), default="tiny", help="default: tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(parser, run)


def run(args: argparse.Namespace) -> int:
    from clusterrec.data.synthetic import (
        MOVIELENS_SIZES,
        generate_records,
        movielens_frame,
        write_dataset_npy,
        write_movielens_csv,
    )

    out = Path(args.out)
    if out.exists() and not args.force:
        raise ClusterrecError(f"{out}: already exists; pass --force to overwrite it")
    if args.size in MOVIELENS_SIZES:  # MovieLens' own layout, half stars
        if out.suffix.lower() != ".csv":
            raise ClusterrecError(
                f"{out}: --size {args.size} writes a MovieLens ratings.csv; give a .csv --out"
            )
        frame = movielens_frame(args.size, seed=args.seed)
        write_movielens_csv(out, frame=frame)
        n_records = len(frame)
    else:
        records = generate_records(args.size, seed=args.seed)
        write_dataset_npy(out, records)
        n_records = len(records)
    payload = {"path": str(out), "size": args.size, "seed": args.seed, "records": n_records}
    if args.json:
        print_json(payload)
    else:
        print(f"wrote {n_records:,} records ({args.size}, seed {args.seed}) to {out}")
    return 0
