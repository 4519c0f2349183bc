"""Inputs for fuzzing the readers: a small valid file of every format, the ways a file from the
wild goes wrong (each a plain function of its parameters, so Hypothesis and a seeded sweep can
both drive it), and the one check every input must pass: `read_ratings` returns `Ratings` or
raises `DataError` naming the file.

Used by ``tests/data/test_fuzz_readers.py`` (bounded, in CI) and ``benchmarks/fuzz_readers.py``
(a fixed-seed sweep of many more inputs).
"""

from __future__ import annotations

import io
import re
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from clusterrec.data.ratings import Ratings
from clusterrec.data.readers import read_ratings
from clusterrec.errors import DataError

# -- valid files of every format ------------------------------------------------------------------

_RECORDS = [
    ("1", "11", "4", "881250949", "ur1", "tt0000011", "8", "16 January 2005"),
    ("1", "12", "3", "881250950", "ur1", "tt0000012", "6", "5 March 2010"),
    ("2", "11", "5", "891717742", "ur2", "tt0000011", "10", "1 December 1999"),
    ("2", "13", "1", "878887116", "ur2", "tt0000013", "2", "30 June 2001"),
    ("3", "12", "2", "884182806", "ur3", "tt0000012", "4", "12 May 2015"),
    ("3", "14", "4", "892033290", "ur3", "tt0000014", "9", "7 October 2008"),
]


def _text(rows: list[str], header: str | None = None) -> bytes:
    return ("\n".join(([header] if header else []) + rows) + "\n").encode()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _parquet(columns: dict[str, list]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def valid_files() -> dict[str, bytes]:
    """File name -> bytes of a small valid file, one per format (and both .npy shapes)."""
    ml = [r[:4] for r in _RECORDS]
    imdb = [r[4:] for r in _RECORDS]
    latest = [(u, i, str(int(r) / 2 + 0.5), t) for u, i, r, t in ml]
    return {
        "u.data": _text(["\t".join(r) for r in ml]),
        "ratings.dat": _text(["::".join(r) for r in ml]),
        "ratings.csv": _text([",".join(r) for r in latest], "userId,movieId,rating,timestamp"),
        "imdb.csv": _text([",".join(r) for r in imdb]),
        "any.csv": _text([f'"{u}",{i},{r},{t}' for u, i, r, t in ml], "user,item,rating,time"),
        "any.tsv": _text(["\t".join(r) for r in ml], "user_id\titem_id\tscore\tdate"),
        "Dataset.npy": _npy(np.array([",".join(r) for r in imdb])),
        "fields.npy": _npy(np.array(imdb)),
        "ratings.parquet": _parquet(
            {
                "user": [u for u, *_ in ml],
                "item": [i for _, i, *_ in ml],
                "rating": [float(r) for *_, r, _ in ml],
                "timestamp": [int(t) for *_, t in ml],
            }
        ),
    }


# -- how files go wrong ---------------------------------------------------------------------------


def truncate(data: bytes, at: int) -> bytes:
    return data[: at % (len(data) + 1)]


def set_byte(data: bytes, at: int, value: int) -> bytes:
    if not data:
        return bytes([value])
    at %= len(data)
    return data[:at] + bytes([value]) + data[at + 1 :]


def insert(data: bytes, at: int, piece: bytes) -> bytes:
    at %= len(data) + 1
    return data[:at] + piece + data[at:]


def mixed_line_endings(data: bytes, pattern: int) -> bytes:
    """Each line break becomes LF, CRLF or CR, chosen by the bits of ``pattern``."""
    lines = data.split(b"\n")
    endings = (b"\n", b"\r\n", b"\r")
    return b"".join(
        line + (endings[(pattern >> (2 * (i % 16))) % 3] if i < len(lines) - 1 else b"")
        for i, line in enumerate(lines)
    )


def long_line(data: bytes, at: int, length: int, byte: int) -> bytes:
    return insert(data, at, bytes([byte]) * length)


#: Pieces worth inserting: NUL, invalid UTF-8, a BOM, quotes, separators, line breaks.
NASTY = (
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b'"',
    b'"\n"',
    b"\r",
    b"\n\n",
    b",,,",
    b"\t",
    b"::",
    b"-1",
    b"nan",
    b"1e400",
    b"99999999999999999999999",
    b"\x93NUMPY",
    b"PAR1",
)

NPY_HEADERS = (
    b"{'descr': '<U9', 'fortran_order': False, 'shape': (3,), }",
    b"{'descr': '<U9', 'fortran_order': False, 'shape': (-3,), }",
    b"{'descr': '<U9', 'fortran_order': True, 'shape': (2, 2), }",
    b"{'descr': '<U9', 'fortran_order': False, 'shape': (2, 3, 4), }",
    b"{'descr': '<U9', 'fortran_order': False, 'shape': (), }",
    b"{'descr': '<U0', 'fortran_order': False, 'shape': (3,), }",
    b"{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
    b"{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
    b"{'descr': '|S5', 'fortran_order': False, 'shape': (9999999999,), }",
    b"{'descr': [('a', '<U4')], 'fortran_order': False, 'shape': (3,), }",
    b"{'descr': '<U9', 'shape': (3,), }",
    b"{'descr': 'zz', 'fortran_order': False, 'shape': (3,), }",
    b"__import__('os')",
    b"{",
    b"",
)


def npy_with_header(header: bytes, body: bytes, version: int = 1) -> bytes:
    """A .npy file with ``header`` (any bytes) as its header dictionary, then ``body``."""
    padded = header + b" " * ((-(len(header) + 11)) % 64) + b"\n"
    length = len(padded).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + padded + body


def npy_arrays(rng: np.random.Generator) -> bytes:
    """A well-formed .npy of a wrong shape, dtype or contents."""
    choices: list[Callable[[], np.ndarray]] = [
        lambda: np.array([], dtype="<U10"),
        lambda: np.array(["ur1,tt1,5"] * 3),
        lambda: np.array([["ur1", "tt1", "5"]] * 3),
        lambda: np.array([[["a"]]]),
        lambda: np.array("ur1,tt1,5,1 May 2001"),
        lambda: rng.integers(0, 10, (5, 4)),
        lambda: rng.random(7),
        lambda: np.array([b"ur1,tt1,5,1 May 2001", b"\xff\xfe,\x00,1,x"]),
        lambda: np.array(["ur1,tt1,5,1 May 2001", "ur1\ntt2,5,1 May 2001"]),
        lambda: np.array(["ur1,tt1,5,1 May 2001", ""]),
        lambda: np.array(["\u00e9\u4e2d,tt1,5,1 May 2001", "ur2,tt\U0001f600,3,2 May 2001"]),
        lambda: np.array([["ur1", "tt1", "x", "1 May 2001"]]),
        lambda: np.zeros((0, 4), dtype="<U3"),
        lambda: np.array([("a", 1)], dtype=[("u", "<U3"), ("r", "<i4")]),
    ]
    return _npy(choices[int(rng.integers(len(choices)))]())


def parquet_tables(rng: np.random.Generator) -> bytes:
    """A readable Parquet file with missing, extra or wrongly typed columns."""
    n = int(rng.integers(0, 5))
    user = [f"u{i}" for i in range(n)]
    choices: list[dict[str, list]] = [
        {"user": user, "item": user},
        {"user": user, "item": user, "rating": [[1]] * n},
        {"user": user, "item": user, "rating": [True] * n},
        {"user": user, "item": user, "rating": ["x"] * n},
        {"user": [{"a": 1}] * n, "item": user, "rating": [1.0] * n},
        {"user": user, "item": user, "rating": [None] * n},
        {"user": user, "item": [b"\xff"] * n, "rating": [3] * n},
        {"user": user, "item": user, "rating": [3.0] * n, "time": ["x"] * n},
        {"user": user, "item": user, "rating": [3.0] * n, "time": [1.5] * n},
        {"user": user, "item": user, "rating": [float("nan")] * n, "time": [[1]] * n},
        {"user": [1.5] * n, "item": [None] * n, "rating": [2] * n},
        {"a": user, "b": user, "c": user},
    ]
    return _parquet(choices[int(rng.integers(len(choices)))])


def random_input(rng: np.random.Generator, valid: dict[str, bytes]) -> tuple[str, bytes, str]:
    """(file name, bytes, what was done) of one generated input."""
    names = list(valid)
    name = names[int(rng.integers(len(names)))]
    data = valid[name]
    kind = int(rng.integers(12))
    at = int(rng.integers(0, 1 << 30))
    if kind == 0:
        size = int(rng.integers(0, 4096))
        return name, rng.bytes(size), "random bytes"
    if kind == 1:
        return name, truncate(data, at), "truncated"
    if kind == 2:
        count = int(rng.integers(1, 4))
        for _ in range(count):
            data = set_byte(data, int(rng.integers(0, 1 << 30)), int(rng.integers(256)))
        return name, data, "byte mutations"
    if kind == 3:
        piece = NASTY[int(rng.integers(len(NASTY)))]
        return name, insert(data, at, piece), f"inserted {piece!r}"
    if kind == 4:
        return name, mixed_line_endings(data, int(rng.integers(1 << 32))), "mixed line endings"
    if kind == 5:
        return name, b"\xef\xbb\xbf" + data, "BOM"
    if kind == 6:
        length = int(rng.integers(1, 1 << 17))
        return name, long_line(data, at, length, int(rng.integers(256))), "long line"
    if kind == 7:
        header = NPY_HEADERS[int(rng.integers(len(NPY_HEADERS)))]
        body = valid["Dataset.npy"][128 : 128 + int(rng.integers(0, 400))]
        return "Dataset.npy", npy_with_header(header, body, int(rng.integers(1, 3))), "npy header"
    if kind == 8:
        return "Dataset.npy", npy_arrays(rng), "npy array"
    if kind == 9:
        return "ratings.parquet", parquet_tables(rng), "parquet table"
    if kind == 10:  # a valid file's bytes under another format's name
        other = names[int(rng.integers(len(names)))]
        return other, data, f"{name} named {other}"
    data = insert(data, at, rng.bytes(int(rng.integers(1, 64))))
    return name, truncate(data, int(rng.integers(0, 1 << 30))), "random insert, truncated"


# -- the check ------------------------------------------------------------------------------------


def check_input(path: Path, data: bytes) -> Ratings | DataError:
    """Write ``data`` to ``path`` and read it: `Ratings`, or the `DataError` (which must name
    the file); anything else is raised."""
    path.write_bytes(data)
    try:
        return read_ratings(path)
    except DataError as error:
        if path.name not in str(error):
            raise AssertionError(f"DataError does not name {path.name}: {error}") from error
        return error


def failure_kind(error: BaseException) -> str:
    """A short name of where an unexpected exception came from: type and innermost frame."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "clusterrec" in f.filename and "tests" not in f.filename]
    frame = (ours or frames or [None])[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    message = re.sub(r"\d+", "N", (str(error).splitlines() or [""])[0])[:90]
    return f"{type(error).__name__} at {where}: {message}"


__all__ = [
    "NASTY",
    "NPY_HEADERS",
    "check_input",
    "failure_kind",
    "insert",
    "long_line",
    "mixed_line_endings",
    "npy_arrays",
    "npy_with_header",
    "parquet_tables",
    "random_input",
    "set_byte",
    "truncate",
    "valid_files",
]
