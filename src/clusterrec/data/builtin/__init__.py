"""Real data shipped inside the package: MovieLens "latest small" (2016), compressed.

``load_builtin("ml-latest-small")`` gives its ratings and titles, the way Surprise's
``Dataset.load_builtin`` does, without a download. The files live in this folder as
``ratings.csv.gz`` and ``movies.csv.gz`` beside the data set's own ``README.txt`` (its license:
redistribution under the same terms, non-commercial use, cite Harper and Konstan 2015). The
ratings are the published file's four columns (userId, movieId, rating, timestamp); the copy
found in the wild carries empty trailing columns and two stray values in them, left out here.

The readers read plain files, so each compressed file is decompressed once into
``~/.cache/clusterrec/builtin/<name>/`` (named by the compressed file's hash, written
atomically) and read from there.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from clusterrec._atomic import atomic_write
from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError

__all__ = [
    "BUILTIN",
    "BuiltinData",
    "BuiltinSpec",
    "builtin_files",
    "builtin_license",
    "load_builtin",
]


@dataclass(frozen=True)
class BuiltinSpec:
    """A data set shipped in the package: its files and the user range that suits it."""

    name: str
    ratings: str
    items: str
    format: str
    min_ratings: int
    max_ratings: int | None
    description: str


#: The data sets shipped in the package, by name.
BUILTIN: dict[str, BuiltinSpec] = {
    "ml-latest-small": BuiltinSpec(
        name="ml-latest-small",
        ratings="ratings.csv.gz",
        items="movies.csv.gz",
        format="ml-latest",
        min_ratings=20,
        max_ratings=None,
        description="MovieLens latest-small (2016): 100,004 ratings (0.5..5 in half stars) "
        "by 671 users of 9,066 movies, with titles; every user has >= 20 ratings",
    ),
}


class BuiltinData(NamedTuple):
    """A built-in data set: all its ratings (unfiltered) and the titles by item id."""

    ratings: Ratings
    titles: pd.Series


def load_builtin(name: str = "ml-latest-small") -> BuiltinData:
    """The ratings and titles of a data set shipped in the package.

    ``ratings, titles = load_builtin("ml-latest-small")``; the ratings are every record of
    the file (filter them with :func:`clusterrec.filter_users`; the range that suits the set
    is ``BUILTIN[name].min_ratings..max_ratings``).

    Raises:
        ConfigError: ``name`` is not a built-in data set (the accepted names are listed).
    """
    from clusterrec.data.readers import read_items, read_ratings

    spec = _spec(name)
    ratings_path, items_path = builtin_files(name)
    return BuiltinData(read_ratings(ratings_path, spec.format), read_items(items_path))


def builtin_files(name: str = "ml-latest-small") -> tuple[Path, Path]:
    """(ratings file, items file) of a built-in data set, as plain files in the cache."""
    spec = _spec(name)
    return _plain_copy(name, spec.ratings), _plain_copy(name, spec.items)


def builtin_license(name: str = "ml-latest-small") -> str:
    """The data set's README, with its license and how to cite it."""
    _spec(name)
    return _packaged(name, "README.txt").read_text(encoding="utf-8")


def _spec(name: str) -> BuiltinSpec:
    try:
        return BUILTIN[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown built-in data set {name!r}; accepted: {', '.join(BUILTIN)}"
        ) from None


def _packaged(name: str, file: str) -> resources.abc.Traversable:
    return resources.files(__name__).joinpath(name, file)


def _plain_copy(name: str, file: str) -> Path:
    """The decompressed ``file`` of data set ``name``, made once in the cache."""
    from clusterrec.data.synthetic import cache_dir

    packed = _packaged(name, file).read_bytes()
    digest = hashlib.sha256(packed).hexdigest()[:16]
    stem = file.removesuffix(".gz")
    path = cache_dir() / "builtin" / name / f"{digest}-{stem}"
    if not path.is_file():
        with atomic_write(path) as handle:
            handle.write(gzip.decompress(packed))
    return path
