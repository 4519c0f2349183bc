"""Splits of ratings into folds: seeded k-fold assignments and published split files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from clusterrec.errors import ConfigError, DataError

__all__ = [
    "assignments_for_kept_records",
    "kfold_assignments",
    "load_split_file",
]

# -- splits ---------------------------------------------------------------------------------------


def kfold_assignments(n_records: int, folds: int = 5, seed: int = 0) -> np.ndarray:
    """A random fold number (0..folds-1) per record; fold sizes differ by at most one.

    Uses ``np.random.default_rng(seed)``: the same seed gives the same folds.
    """
    _check_folds(folds)
    if isinstance(n_records, bool) or not isinstance(n_records, int | np.integer):
        raise ConfigError(f"n_records must be an integer; got {n_records!r}")
    if n_records < folds:
        raise DataError(f"{n_records} records cannot be split into {folds} folds")
    order = np.random.default_rng(seed).permutation(n_records)
    assignments = np.empty(n_records, dtype=np.int64)
    assignments[order] = np.arange(n_records) % folds
    return assignments


def load_split_file(path: str | Path, n_records: int, folds: int) -> np.ndarray:
    """Fold numbers from a ``.npy`` file: one integer in 0..folds-1 per input record.

    The file holds one fold number per record of the ratings file, in file order. It is
    read with ``allow_pickle=False``. Raises `DataError`, naming the file, when it is missing
    or unreadable, not a 1-D integer array, of the wrong length, holds a fold number outside
    0..folds-1, or leaves a fold without records.
    """
    _check_folds(folds)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such split file")
    array = _load_integer_array(path)
    if len(array) != n_records:
        raise DataError(
            f"{path}: {len(array):,} fold numbers for {n_records:,} records; the split file "
            "needs one fold number per record of the ratings file, in file order"
        )
    outside = (array < 0) | (array >= folds)
    if outside.any():
        at = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"{path}: record {at} has fold number {int(array[at])}; fold numbers must be in "
            f"0..{folds - 1} for {folds} folds"
        )
    empty = np.flatnonzero(np.bincount(array, minlength=folds) == 0)
    if len(empty):
        raise DataError(f"{path}: fold {int(empty[0])} has no record ({folds} folds expected)")
    return array.astype(np.int64)


def _load_integer_array(path: Path) -> np.ndarray:
    from clusterrec.data.readers import read_npy_header

    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic == b"\x93NUMPY":
        read_npy_header(path)  # a damaged header or data cut short: DataError, before loading
    elif not magic.startswith(b"PK"):
        raise DataError(f"{path}: not a .npy file; save the fold numbers with numpy.save")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise DataError(
                f"{path}: holds an object array, which is not loaded (allow_pickle=False); "
                "save the fold numbers as an integer array"
            ) from error
        raise DataError(f"{path}: not a readable .npy array ({error})") from error
    except (OSError, EOFError, SyntaxError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npy array ({error})") from error
    if not isinstance(array, np.ndarray):
        if hasattr(array, "close"):
            array.close()
        raise DataError(f"{path}: expected a single .npy array, not an .npz archive")
    if array.ndim != 1:
        raise DataError(f"{path}: expected a 1-D array of fold numbers, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise DataError(
            f"{path}: fold numbers must be integers, got dtype {array.dtype}; save with "
            "np.save(path, folds.astype(np.int64))"
        )
    return array


def assignments_for_kept_records(file_assignments: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Fold numbers of the records a reader kept, from one fold number per file record.

    ``kept`` holds, for each record of the `Ratings` (in order), its position among the file's
    records (or is a boolean mask over the file's records). Needed when the reader dropped
    bad records or duplicates, so that `Ratings` records are no longer the file's records.
    """
    file_assignments = np.asarray(file_assignments)
    kept = np.asarray(kept)
    if kept.dtype == bool:
        if len(kept) != len(file_assignments):
            raise DataError(
                f"the kept-records mask has {len(kept):,} entries for "
                f"{len(file_assignments):,} fold numbers"
            )
        return file_assignments[kept]
    if len(kept) and (kept.min() < 0 or kept.max() >= len(file_assignments)):
        raise DataError(
            f"kept record positions must be in 0..{len(file_assignments) - 1}; "
            f"got {int(kept.min())}..{int(kept.max())}"
        )
    return file_assignments[kept]


def _check_folds(folds: int) -> None:
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ConfigError(f"folds must be an integer >= 2; got {folds!r}")
