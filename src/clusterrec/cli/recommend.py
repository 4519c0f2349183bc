"""``clusterrec recommend``: top-N movies for a user, for every user, or for a new user
(folded in without retraining), from a saved model."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from clusterrec.cli.common import print_json, set_command

__all__ = [
    "TABLE_FORMATS",
    "add_to",
    "read_new_user",
    "run",
    "write_table",
]

#: What ``--out`` accepts, by extension.
TABLE_FORMATS = (".parquet", ".csv")


def add_to(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "recommend",
        help="top-N movies for a user, or for every user, from a saved model",
        description="The N movies with the highest predicted rating that the user has not "
        "rated, with titles when an items table is given. --all: the same for every user of "
        "the model, batched, into a table (--out recs.parquet or recs.csv).",
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="a folder written by train")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the user's original id")
    who.add_argument(
        "--all", action="store_true", help="every user of the model (columns user, rank, ...)"
    )
    who.add_argument(
        "--ratings",
        metavar="RATINGS_FILE",
        help="a new user's ratings (CSV or TSV with columns item,rating): folded in without "
        "retraining (nearest cluster, neighbours in it, its network)",
    )
    parser.add_argument("-n", type=int, default=10, help="how many (default 10)")
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="with --all: write the table here (.parquet or .csv, written atomically); "
        "default: CSV on stdout",
    )
    parser.add_argument(
        "--items",
        metavar="ITEMS_FILE",
        help="items table with titles (items.tsv, movies.csv, u.item)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(parser, run)


def run(args: argparse.Namespace) -> int:
    from clusterrec.errors import ConfigError
    from clusterrec.models.registry import load_model

    if args.n < 1:
        raise ConfigError(f"-n must be at least 1, not {args.n}")
    if args.out is not None and not args.all:
        raise ConfigError("--out goes with --all (one user's list is printed)")
    if args.out is not None:
        check_out(Path(args.out))
    model = load_model(args.model_dir)
    if args.all:
        return _run_all(args, model)
    if args.ratings is not None and not hasattr(model, "recommend_new"):
        raise ConfigError(
            f"{args.model_dir}: a saved {type(model).__name__}, which cannot fold in a new "
            "user yet; --ratings needs per-cluster networks (clusterrec train --model network, "
            "or a run directory's model/), or give --user for a known user"
        )
    if args.ratings is not None:
        table = model.recommend_new(read_new_user(Path(args.ratings)), n=args.n)
        who = f"the user of {args.ratings}"
    else:
        table = model.recommend(args.user, n=args.n)
        who = f"user {args.user}"
    _add_titles(args, table)
    if args.json:
        payload = {"user": args.user} if args.ratings is None else {"ratings": args.ratings}
        payload.update(table.attrs)
        payload["recommendations"] = table.to_dict(orient="records")
        print_json(payload)
    else:
        print(
            f"top {len(table)} for {who} (predicted rating; * = no neighbour rated it, bias "
            "baseline used)"
        )
        if table.attrs.get("cluster") == -1:
            unknown = table.attrs["unknown_items"]
            print(
                "too few ratings of movies the model knows"
                + (f" ({unknown} unknown to it)" if unknown else "")
                + ": the bias baseline mu + b_i only"
            )
        elif "cluster" in table.attrs:
            print(
                f"folded into cluster {table.attrs['cluster']} with "
                f"{table.attrs['neighbors']} neighbours"
                + (
                    f"; {table.attrs['unknown_items']} of the rated movies unknown to the "
                    "model (ignored)"
                    if table.attrs["unknown_items"]
                    else ""
                )
            )
        for rank, row in enumerate(table.itertuples(index=False), start=1):
            flag = "*" if row.fallback else " "
            title = f"  {row.title}" if "title" in table else ""
            print(f"{rank:>3}. {row.predicted_rating:5.2f}{flag} {row.item}{title}")
    return 0


def _run_all(args: argparse.Namespace, model: object) -> int:
    import sys

    started = time.perf_counter()
    table = model.recommend_all(args.n)
    _add_titles(args, table)
    seconds = time.perf_counter() - started
    if args.out is None:
        table.to_csv(sys.stdout, index=False)
        return 0
    path = write_table(table, Path(args.out))
    summary = {
        "out": str(path),
        "users": int(table["user"].nunique()),
        "rows": len(table),
        "n": args.n,
        "fallbacks": int(table["fallback"].sum()),
        "seconds": round(seconds, 3),
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"wrote top {args.n} for {summary['users']:,} users ({summary['rows']:,} rows, "
            f"{summary['fallbacks']:,} from the bias fallback) to {path} in {seconds:.1f} s"
        )
    return 0


def _add_titles(args: argparse.Namespace, table: object) -> None:
    from clusterrec.data.readers import read_items

    if args.items:
        titles = read_items(args.items)
        table["title"] = titles.reindex(table["item"]).fillna("").to_numpy()


def read_new_user(path: Path) -> object:
    """One user's ratings from a CSV (or, by the extension, TSV) file with columns item and
    rating, as a DataFrame; an unreadable file is a `DataError` naming it."""
    import numpy as np
    import pandas as pd

    from clusterrec.errors import DataError

    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        # header=None: a record longer than the header is an error, not an implicit index
        rows = pd.read_csv(path, sep=sep, dtype=str, header=None, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "empty"
        raise DataError(f"{path}: not a table of item,rating ({reason})") from None
    table = rows.iloc[1:].reset_index(drop=True)
    table.columns = [str(c).strip().lower() for c in rows.iloc[0]]
    if not {"item", "rating"} <= set(table.columns) or table.columns.duplicated().any():
        raise DataError(
            f"{path}: needs a header with columns item and rating; found "
            f"{', '.join(table.columns) or 'none'}"
        )
    empty = np.flatnonzero(table["item"].isna().to_numpy() | (table["item"].str.strip() == ""))
    if len(empty):
        raise DataError(f"{path}, line {empty[0] + 2}: empty item id")
    numbers = pd.to_numeric(table["rating"], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(numbers.to_numpy(dtype=float)))
    if len(bad):
        raise DataError(
            f"{path}, line {bad[0] + 2}: rating is not a number: {table['rating'].iloc[bad[0]]!r}"
        )
    return pd.DataFrame({"item": table["item"].astype(str).str.strip(), "rating": numbers})


def check_out(path: Path) -> None:
    """A `ConfigError` unless ``path`` can take a table: a .parquet or .csv name that is not
    a folder."""
    from clusterrec.errors import ConfigError

    if path.suffix.lower() not in TABLE_FORMATS:
        raise ConfigError(
            f"--out {path}: unknown table format {path.suffix or '(no extension)'!r}; "
            f"accepted: {', '.join(TABLE_FORMATS)}"
        )
    if path.is_dir():
        raise ConfigError(f"--out {path}: is a folder; name a file such as {path / 'recs.parquet'}")
    if path.parent.exists() and not path.parent.is_dir():
        raise ConfigError(f"--out {path}: {path.parent} is not a folder")


def write_table(table: object, path: Path) -> Path:
    """``table`` to ``path`` (.parquet or .csv by the extension), atomically; returns path."""
    from clusterrec._atomic import atomic_write

    check_out(path)
    try:
        if path.suffix.lower() == ".parquet":
            with atomic_write(path, "wb") as handle:
                table.to_parquet(handle, index=False)
        else:
            with atomic_write(path, "w") as handle:
                table.to_csv(handle, index=False)
    except OSError as error:  # name the file asked for, not the temporary one beside it
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None
    return path
