"""``clusterrec evaluate``: the comparison table under one named protocol."""

from __future__ import annotations

import argparse

from clusterrec.cli.common import add_data_options, load_data, print_json, set_command
from clusterrec.cli.train import add_model_options, model_from_args
from clusterrec.errors import ConfigError
from clusterrec.models.registry import MODEL_NAMES, comparison_models

#: One-split protocols (mirrors clusterrec.evaluation.protocols.PROTOCOLS, checked by a test).
SPLIT_PROTOCOLS = ("temporal", "leave-last", "users-holdout")

__all__ = [
    "add_to",
    "run",
]


def add_to(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="compare clusterrec with baselines under one protocol",
        description="k-fold cross-validation over ratings (every model fitted on the training "
        "folds only), the assignment's users protocol, or one split of the field: a global "
        "temporal cut, leave-last-N-out per user by time, users held out with a share of their "
        "ratings given as history.",
    )
    add_data_options(parser)
    add_model_options(parser)
    parser.add_argument(
        "--protocol",
        choices=["kfold", "users", *SPLIT_PROTOCOLS, "notebook-leaky"],
        default="kfold",
        help="kfold (default) | users (the assignment's) | temporal | leave-last | users-holdout"
        " | notebook-leaky (LEAKY: the original notebook's evaluation, to see its error)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--split-file", metavar="FOLDS.npy", help="one fold number per input record, in file order"
    )
    parser.add_argument(
        "--models",
        default="clusterrec,bias,mean,userknn",
        help=f"comma-separated, from {', '.join(MODEL_NAMES)} (clusterrec: the default model; "
        "network: the per-cluster networks with --preset; notebook: the notebook's networks)",
    )
    parser.add_argument(
        "--test-share",
        type=float,
        default=0.2,
        help="users: share of each cluster's users held out; temporal: share of ratings after "
        "the cut; users-holdout: share of users held out (default 0.2)",
    )
    parser.add_argument(
        "--leave-out",
        type=int,
        default=1,
        metavar="N",
        help="leave-last: each user's last N ratings by time are tested (default 1)",
    )
    parser.add_argument(
        "--history-share",
        type=float,
        default=0.5,
        help="users-holdout: share of a held-out user's ratings given as history (default 0.5)",
    )
    parser.add_argument(
        "--rank-users",
        type=int,
        default=0,
        metavar="N",
        help="top-N metrics for a seeded sample of at most N users (default 0: all)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(parser, run)


def run(args: argparse.Namespace) -> int:
    from clusterrec.data.filtering import filter_users

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    factories = comparison_models(
        names,
        n_clusters=args.clusters,
        n_neighbors=args.neighbors,
        preset=args.preset,
        seed=args.seed,
    )
    ratings = load_data(args)
    if args.protocol == "notebook-leaky":
        return _run_notebook_leaky(args, ratings)
    if args.protocol in SPLIT_PROTOCOLS:
        if args.split_file:
            raise ConfigError(f"--split-file applies to --protocol kfold, not {args.protocol}")
        return _run_split(args, ratings, factories)
    if args.protocol == "users":
        if args.split_file:
            raise ConfigError("--split-file applies to --protocol kfold, not users")
        return _run_users(args, ratings)
    assignments = None
    if args.split_file:
        assignments = _published_folds(args, ratings)
    kept, _ = filter_users(ratings, args.min_ratings, args.max_ratings)
    if assignments is not None:
        assignments = assignments[_kept_positions(ratings, kept)]
    from clusterrec.evaluation.cross_validation import cross_validate

    result = cross_validate(
        kept,
        factories,
        folds=args.folds,
        seed=args.seed,
        assignments=assignments,
        progress=not args.no_progress,
    )
    summary = result.summary()
    payload = {
        "protocol": "kfold",
        "folds": args.folds,
        "seed": args.seed if assignments is None else None,
        "description": result.protocol,
        "models": summary,
    }
    if args.json:
        print_json(payload)
    else:
        print(result.to_markdown())
    return 0


def _run_notebook_leaky(args: argparse.Namespace, ratings: object) -> int:
    import sys

    from clusterrec.data.filtering import filter_users
    from clusterrec.evaluation.notebook_leaky import notebook_leaky

    kept, _ = filter_users(ratings, args.min_ratings, args.max_ratings)
    print(
        "clusterrec: warning: notebook-leaky is LEAKY on purpose (every user their own "
        "nearest neighbour); its errors are not accuracy",
        file=sys.stderr,
    )
    result = notebook_leaky(
        kept, args.clusters, n_neighbors=args.neighbors, test_share=args.test_share, seed=args.seed
    )
    if args.json:
        print_json(result.as_dict())
    else:
        print(result.to_markdown())
    return 0


def _run_split(args: argparse.Namespace, ratings: object, factories: dict) -> int:
    from clusterrec.data.filtering import filter_users
    from clusterrec.evaluation.protocols import evaluate_split, make_split

    kept, _ = filter_users(ratings, args.min_ratings, args.max_ratings)
    split = make_split(
        kept,
        args.protocol,
        test_share=args.test_share,
        n=args.leave_out,
        history_share=args.history_share,
        seed=args.seed,
    )
    result = evaluate_split(
        kept,
        factories,
        split,
        progress=not args.no_progress,
        rank_users=args.rank_users,
        seed=args.seed,
    )
    payload = {
        "protocol": split.name,
        "leaky": split.leaky,
        "seed": args.seed,
        "description": result.protocol,
        "models": result.summary(),
    }
    if args.json:
        print_json(payload)
    else:
        print(result.to_markdown())
    return 0


def _published_folds(args: argparse.Namespace, ratings: object) -> object:
    """Fold numbers of the records the reader kept, from one number per file record."""
    from clusterrec.evaluation.splits import assignments_for_kept_records, load_split_file

    per_file_record = load_split_file(args.split_file, ratings.source.records, args.folds)
    return assignments_for_kept_records(per_file_record, ratings.record)


def _kept_positions(ratings: object, kept: object) -> object:
    """Positions in ``ratings`` of the records that filtering kept (matched by record number)."""
    import numpy as np

    return np.searchsorted(ratings.record, kept.record)


def _run_users(args: argparse.Namespace, ratings: object) -> int:
    from clusterrec.data.filtering import filter_users
    from clusterrec.evaluation.users_protocol import evaluate_user_split

    kept, _ = filter_users(ratings, args.min_ratings, args.max_ratings)
    result = evaluate_user_split(model_from_args(args), kept, args.test_share)
    if args.json:
        print_json(result.as_dict())
    else:
        print(result.to_markdown())
    return 0
