"""The ratings file formats clusterrec reads, and how a file's format is recognised.

Detection looks at the extension and the first line; ``format=`` (``--format``) overrides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from clusterrec.data.ratings import RatingScale
from clusterrec.errors import DataError

__all__ = [
    "COLUMN_GUESSES",
    "FORMATS",
    "IMDB_DATE_FORMAT",
    "FormatSpec",
    "detect_format",
    "resolve_format",
]

#: strptime format of the assignment's dates, e.g. ``16 January 2005``.
IMDB_DATE_FORMAT = "%d %B %Y"

_DATE_LIKE = re.compile(r"^\s*\d{1,2} [A-Za-z]+ \d{4}\s*$")
_NUMBER_LIKE = re.compile(r"^\s*-?\d+(\.\d*)?\s*$")


@dataclass(frozen=True)
class FormatSpec:
    """How to read one format.

    ``columns`` names the user, item, rating and time columns; a None is guessed from the header
    (:data:`COLUMN_GUESSES`; a time column is optional). For files without a header they are
    the names given to the positional fields, of which there are ``n_fields``.
    ``time_kind`` is "unix" (seconds), "date" (``date_format``), "auto" or None.
    ``id_patterns`` (regular expressions of a whole user id and a whole item id) are the ids a
    format defines; an id that does not match is a bad record, not a new user or item.
    """

    name: str
    description: str
    delimiter: str = ","
    header: bool = True
    columns: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None)
    n_fields: int | None = None
    time_kind: str | None = "auto"
    date_format: str | None = None
    scale: RatingScale | None = None
    quoting: bool = True
    id_patterns: tuple[str | None, str | None] = (None, None)


#: Four positional fields and no header or quoting: the IMDB records and MovieLens 100K/1M.
_POSITIONAL = {
    "header": False,
    "columns": ("user", "item", "rating", "time"),
    "n_fields": 4,
    "quoting": False,
}
#: The assignment's IMDB records: dates like ``16 January 2005``, ratings 1..10.
_IMDB = {
    "time_kind": "date",
    "date_format": IMDB_DATE_FORMAT,
    "scale": RatingScale(1, 10, 1),
    "id_patterns": (r"ur\d+", r"tt\d+"),
}
#: MovieLens user and movie ids are whole numbers.
_ML_IDS = (r"\d+", r"\d+")

FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            "imdb-npy",
            "the assignment's Dataset.npy: NumPy array of 'user,item,rating,date' strings",
            **_POSITIONAL,
            **_IMDB,
        ),
        FormatSpec(
            "imdb-csv",
            "the assignment's records as text, one 'user,item,rating,date' per line",
            **_POSITIONAL,
            **_IMDB,
        ),
        FormatSpec(
            "ml-100k",
            "MovieLens 100K u.data: user TAB item TAB rating TAB unix seconds, no header",
            delimiter="\t",
            time_kind="unix",
            scale=RatingScale(1, 5, 1),
            id_patterns=_ML_IDS,
            **_POSITIONAL,
        ),
        FormatSpec(
            "ml-1m",
            "MovieLens 1M/10M ratings.dat: user::item::rating::unix seconds, no header",
            delimiter="::",
            time_kind="unix",
            scale=None,
            id_patterns=_ML_IDS,
            **_POSITIONAL,
        ),
        FormatSpec(
            "ml-latest",
            "MovieLens latest/25M ratings.csv: userId,movieId,rating,timestamp header, half stars",
            columns=("userId", "movieId", "rating", "timestamp"),
            time_kind="unix",
            scale=RatingScale(0.5, 5, 0.5),
            id_patterns=_ML_IDS,
        ),
        FormatSpec("csv", "any comma-separated file with a header; columns named by options"),
        FormatSpec(
            "tsv", "any tab-separated file with a header; columns named by options", delimiter="\t"
        ),
        FormatSpec("parquet", "any Parquet file; columns named by options"),
    )
}

#: Column names tried, in order, when a generic file's columns are not named by options.
COLUMN_GUESSES = {
    "user": ("user", "user_id", "userid", "userId", "uid", "user_code"),
    "item": ("item", "item_id", "itemid", "itemId", "movie", "movie_id", "movieId", "iid"),
    "rating": ("rating", "ratings", "score", "stars", "value"),
    "time": ("time", "timestamp", "date", "datetime", "ts", "rated_at"),
}


def detect_format(path: str | Path) -> str:
    """Name of the format of ``path``, from its extension, magic bytes and first line."""
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if head.startswith(b"\x93NUMPY") or path.suffix.lower() == ".npy":
        return "imdb-npy"
    if head.startswith(b"PAR1") or path.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    first = re.split(rb"\r\n|\r|\n", head.removeprefix(b"\xef\xbb\xbf"), maxsplit=1)[0]
    first = first.decode("utf-8", errors="replace")
    if "::" in first:
        return "ml-1m"
    tab_fields = first.split("\t")
    if len(tab_fields) == 4 and all(_NUMBER_LIKE.match(f) for f in tab_fields):
        return "ml-100k"
    comma_fields = first.split(",")
    if len(comma_fields) == 4 and _DATE_LIKE.match(comma_fields[3]):
        return "imdb-csv"
    if [f.strip() for f in comma_fields[:4]] == list(FORMATS["ml-latest"].columns):
        return "ml-latest"
    if "\t" in first or path.suffix.lower() == ".tsv":
        return "tsv"
    return "csv"


def resolve_format(
    path: str | Path,
    name: str | None = None,
    *,
    columns: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None),
    scale: RatingScale | None = None,
    date_format: str | None = None,
) -> FormatSpec:
    """The spec to read ``path`` with: detected or named, with the user's overrides applied."""
    if name is None:
        name = detect_format(path)
    if name not in FORMATS:
        raise DataError(f"unknown format {name!r}; accepted: {', '.join(FORMATS)}")
    spec = FORMATS[name]
    if any(columns):
        if not spec.header:
            raise DataError(
                f"{path}: format {name} has no header, so columns cannot be chosen by name; "
                "use --format csv or tsv for a file with named columns"
            )
        named = tuple(c or d for c, d in zip(columns, spec.columns, strict=True))
        spec = replace(spec, columns=named)
    if scale is not None:
        spec = replace(spec, scale=scale)
    if date_format is not None:
        spec = replace(spec, time_kind="date", date_format=date_format)
    return spec
