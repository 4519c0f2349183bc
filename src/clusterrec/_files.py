"""Small file helpers: JSON, CSV and .npz written atomically (no pickle), hashes and copies."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clusterrec._atomic import atomic_write

# -- small file helpers ---------------------------------------------------------------------------


def json_text(payload: object, *, compact: bool = False) -> str:
    """The project's one JSON encoding: numpy values as plain numbers, arrays as lists, paths
    as text, dataclasses as dicts. Indented by 2, or ``compact`` (sorted keys, no spaces: what
    stage keys hash)."""
    if compact:
        return json.dumps(payload, sort_keys=True, default=_json_value, separators=(",", ":"))
    return json.dumps(payload, indent=2, default=_json_value, allow_nan=True)


def write_json(path: Path, payload: object) -> Path:
    """:func:`json_text` and a newline, written atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(json_text(payload) + "\n")
    return Path(path)


def write_rows_csv(path: Path, rows: Sequence[Mapping]) -> Path:
    """A list of flat dicts as CSV (columns in order of first appearance), written atomically."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return write_csv(path, pd.DataFrame(list(rows), columns=columns))


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """A DataFrame as CSV without its index, written atomically."""
    with atomic_write(path, "w") as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    return Path(path)


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Arrays as an uncompressed .npz, written atomically (loaded with allow_pickle=False)."""
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def copy_file(source: Path, target: Path) -> Path:
    """Copy a file atomically (temporary file beside ``target``, then rename)."""
    with open(source, "rb") as reader, atomic_write(target, "wb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_value(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
