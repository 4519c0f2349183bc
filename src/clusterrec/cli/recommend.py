"""``clusterrec recommend``: top-N movies for a user from a saved model."""

from __future__ import annotations

import argparse

from clusterrec.cli.common import print_json, set_command

__all__ = [
    "add_to",
    "run",
]


def add_to(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "recommend",
        help="top-N movies for a user from a saved model",
        description="The N movies with the highest predicted rating that the user has not "
        "rated, with titles when an items table is given.",
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="a folder written by train")
    parser.add_argument("--user", required=True, help="the user's original id")
    parser.add_argument("-n", type=int, default=10, help="how many (default 10)")
    parser.add_argument(
        "--items",
        metavar="ITEMS_FILE",
        help="items table with titles (items.tsv, movies.csv, u.item)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(parser, run)


def run(args: argparse.Namespace) -> int:
    from clusterrec.data.readers import read_items
    from clusterrec.errors import ConfigError
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    if args.n < 1:
        raise ConfigError(f"-n must be at least 1, not {args.n}")
    model = ClusterNeighborRecommender.load(args.model_dir)
    table = model.recommend(args.user, n=args.n)
    if args.items:
        titles = read_items(args.items)
        table["title"] = titles.reindex(table["item"]).fillna("").to_numpy()
    if args.json:
        print_json(
            {
                "user": args.user,
                "recommendations": table.to_dict(orient="records"),
            }
        )
    else:
        print(
            f"top {len(table)} for user {args.user} (predicted rating; * = no neighbour "
            "rated it, bias baseline used)"
        )
        for rank, row in enumerate(table.itertuples(index=False), start=1):
            flag = "*" if row.fallback else " "
            title = f"  {row.title}" if "title" in table else ""
            print(f"{rank:>3}. {row.predicted_rating:5.2f}{flag} {row.item}{title}")
    return 0
