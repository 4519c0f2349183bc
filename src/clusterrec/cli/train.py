"""``clusterrec train``: fit the per-cluster networks, save them, print the users-protocol table."""

from __future__ import annotations

import argparse
from pathlib import Path

from clusterrec.cli.common import add_data_options, load_data, print_json, set_command
from clusterrec.models.presets import PRESETS

__all__ = [
    "add_model_options",
    "add_to",
    "model_from_args",
    "run",
    "save_model_folder",
]


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--clusters, --neighbors, --preset: the method's parameters."""
    model = parser.add_argument_group("the model")
    model.add_argument("--clusters", type=int, default=5, metavar="L", help="L (default 5)")
    model.add_argument(
        "--neighbors",
        type=int,
        default=None,
        metavar="K",
        help="k nearest neighbours inside the cluster (default: the preset's; notebook: 6)",
    )
    model.add_argument("--preset", choices=list(PRESETS), default="default")


def add_to(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="fit the per-cluster networks, save the model, print per-cluster errors",
        description="Cluster the users by Jaccard distance, find each user's neighbours inside "
        "their cluster, fit one network per cluster and save the model. With --test-share "
        "(default 0.2) that share of each cluster's users is held out and the table gives "
        "training and test errors per cluster (the assignment's protocol).",
    )
    add_data_options(parser)
    add_model_options(parser)
    parser.add_argument(
        "--model",
        choices=("network", "clusterrec"),
        default="network",
        help="network: the per-cluster networks (the assignment's method, default); "
        "clusterrec: the default model of the k-fold table (ClusterHybridRecommender), fitted "
        "on every kept rating (no users protocol: it cannot fold in held-out users)",
    )
    parser.add_argument(
        "--hybrid",
        choices=("default", "fast"),
        default="default",
        help="with --model clusterrec: its settings (default: as benchmarked; fast: one seed)",
    )
    parser.add_argument(
        "--test-share",
        type=float,
        default=0.2,
        help="share of each cluster's users held out (0: train on everyone)",
    )
    parser.add_argument(
        "--out",
        default="model",
        metavar="MODEL_DIR",
        help="where to save the model (default: ./model)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(parser, run)


def model_from_args(args: argparse.Namespace) -> object:
    """The recommender the model options describe (unfitted)."""
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    return ClusterNeighborRecommender(
        n_clusters=args.clusters,
        n_neighbors=args.neighbors,
        preset=args.preset,
        seed=args.seed,
        progress=not args.no_progress,
    )


def run(args: argparse.Namespace) -> int:
    from clusterrec.data.filtering import filter_users
    from clusterrec.evaluation.users_protocol import evaluate_user_split

    ratings, _ = filter_users(load_data(args), args.min_ratings, args.max_ratings)
    if args.model == "clusterrec":
        return _train_default_model(args, ratings)
    model = model_from_args(args)
    if args.test_share > 0:
        result = evaluate_user_split(model, ratings, args.test_share)
        payload = result.as_dict()
    else:
        model.fit(ratings)
        result, payload = None, {"protocol": None, "clusters": [], "overall": {}}
    folder = save_model_folder(model, Path(args.out))
    payload["model_dir"] = str(folder)
    payload["fit_seconds"] = sum(s.seconds for s in model.summaries_)
    if args.json:
        print_json(payload)
    else:
        if result is not None:
            print(result.to_markdown())
        print(f"\nsaved the model to {folder}")
    return 0


def _train_default_model(args: argparse.Namespace, ratings: object) -> int:
    """The default model fitted on every kept rating and saved (its errors: clusterrec
    evaluate, or the run's k-fold table)."""
    import time

    from clusterrec.models.cluster_hybrid import ClusterHybridRecommender
    from clusterrec.models.registry import HYBRID_PRESETS

    model = ClusterHybridRecommender(
        n_clusters=args.clusters,
        seed=args.seed,
        progress=not args.no_progress,
        settings=HYBRID_PRESETS[args.hybrid],
    )
    started = time.perf_counter()
    model.fit(ratings)
    seconds = time.perf_counter() - started
    folder = save_model_folder(model, Path(args.out))
    payload = {
        "model": "clusterrec",
        "hybrid": args.hybrid,
        "users": ratings.n_users,
        "ratings": len(ratings),
        "fit_seconds": round(seconds, 2),
        "model_dir": str(folder),
    }
    if args.json:
        print_json(payload)
    else:
        print(
            f"fitted the default model ({args.hybrid} settings) on {len(ratings):,} ratings of "
            f"{ratings.n_users:,} users in {seconds:.1f} s; saved it to {folder}"
        )
    return 0


def save_model_folder(model: object, out: Path) -> Path:
    """``model.save`` into a folder beside ``out`` that then takes its place: an older model
    in ``out`` stays whole until the new one is complete. A folder that holds something else
    than a saved model is not replaced."""
    from clusterrec._atomic import atomic_directory
    from clusterrec.errors import ConfigError

    if out.exists() and not (
        out.is_dir() and (not any(out.iterdir()) or (out / "model.json").exists())
    ):
        raise ConfigError(
            f"{out}: exists and is not a saved model (no model.json); choose a new --out"
        )
    with atomic_directory(out) as work:
        model.save(work)
    return out
