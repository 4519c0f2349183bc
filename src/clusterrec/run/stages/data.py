"""Stage ``data``: read the ratings file, keep users with Rmin..Rmax ratings, describe them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clusterrec._files import file_sha256, read_json, write_csv, write_json
from clusterrec.data.filtering import FilterReport
from clusterrec.data.io import load_ratings, save_ratings
from clusterrec.data.ratings import Ratings
from clusterrec.run.config import RunConfig

__all__ = [
    "DataResult",
    "InputFile",
    "compute_data",
    "data_params",
    "resolve_input",
]


@dataclass(frozen=True)
class InputFile:
    """The ratings file a run reads, its hash, and whether it is a built-in data set
    (``builtin``: its name) or the generated data (``generated``: size and seed)."""

    path: Path
    sha256: str
    size_bytes: int
    generated: dict | None = None
    builtin: str | None = None

    @property
    def items(self) -> Path | None:
        """The built-in data set's items table (titles), else None."""
        if self.builtin is None:
            return None
        from clusterrec.data.builtin import builtin_files

        return builtin_files(self.builtin)[1]


def resolve_input(data: Path | None, config: RunConfig) -> InputFile:
    """The named file; with None, the built-in data set of ``[data] builtin`` (decompressed
    once into the cache), or with ``builtin = "none"`` the generated data (made once, cached)."""
    generated = None
    if data is None and config.data.builtin != "none":
        from clusterrec.data.builtin import builtin_files

        path = builtin_files(config.data.builtin)[0]
        return InputFile(path, file_sha256(path), path.stat().st_size, builtin=config.data.builtin)
    if data is None:
        from clusterrec.data.synthetic import (
            MOVIELENS_SIZES,
            default_dataset_path,
            default_movielens_path,
        )

        size = config.data.generated_size
        write = default_movielens_path if size in MOVIELENS_SIZES else default_dataset_path
        data = write(size, seed=config.seed)
        generated = {"size": size, "seed": config.seed}
    data = Path(data)
    if not data.is_file():
        from clusterrec.errors import DataError

        raise DataError(f"{data}: no such file")
    return InputFile(data, file_sha256(data), data.stat().st_size, generated)


@dataclass(frozen=True)
class DataResult:
    """The kept ratings and what reading and filtering them found.

    ``read``: the reader's counts and notes (bad records, duplicates; without the path);
    ``scale``: the rating scale as text; ``filter``: counts before and after Rmin..Rmax;
    ``statistics``: :func:`clusterrec.data.statistics.describe_ratings` of the kept ratings;
    ``user_statistics``: one row per kept user (id, ratings, mean, time span).
    """

    ratings: Ratings
    read: dict
    scale: str
    filter: FilterReport
    statistics: dict
    user_statistics: pd.DataFrame

    @property
    def info(self) -> dict:
        """read, scale, filter and statistics as plain values (data.json)."""
        return {
            "read": self.read,
            "scale": self.scale,
            "filter": self.filter.as_dict(),
            "statistics": self.statistics,
        }

    def save(self, folder: Path) -> Path:
        save_ratings(folder / "ratings.npz", self.ratings)
        info = {**self.info, "filter_report": dataclasses.asdict(self.filter)}
        write_json(folder / "data.json", info)
        write_csv(folder / "user_statistics.csv", self.user_statistics)
        return folder

    @classmethod
    def load(cls, folder: Path) -> DataResult:
        info = read_json(folder / "data.json")
        return cls(
            ratings=load_ratings(folder / "ratings.npz"),
            read=info["read"],
            scale=info["scale"],
            filter=FilterReport(**info["filter_report"]),
            statistics=info["statistics"],
            user_statistics=pd.read_csv(folder / "user_statistics.csv", dtype={"user": str}),
        )


def data_params(source: InputFile, config: RunConfig) -> dict:
    """What the data stage depends on: the input's hash, the reader and the filter."""
    low, high = config.data.user_range(source.builtin, _generated_size(source))
    return {
        "input_sha256": source.sha256,
        "reader": config.data.reader_options(),
        "min_ratings": low,
        "max_ratings": high,
    }


def compute_data(source: InputFile, config: RunConfig) -> DataResult:
    """Read, filter to Rmin..Rmax and describe."""
    from clusterrec.data.filtering import filter_users
    from clusterrec.data.readers import read_ratings
    from clusterrec.data.statistics import describe_ratings, user_statistics

    ratings = read_ratings(source.path, **config.data.reader_options())
    kept, report = filter_users(
        ratings, *config.data.user_range(source.builtin, _generated_size(source))
    )
    read = ratings.source.as_dict() if ratings.source else {}
    read.pop("path", None)
    return DataResult(
        ratings=kept,
        read=read,
        scale=str(ratings.scale),
        filter=report,
        statistics=describe_ratings(kept),
        user_statistics=user_statistics(kept),
    )


def _generated_size(source: InputFile) -> str | None:
    """The generated size's name, when the input was generated."""
    return source.generated["size"] if source.generated else None
