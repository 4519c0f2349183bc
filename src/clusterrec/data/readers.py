"""Reading ratings files of every supported format into validated `Ratings`.

Text is parsed by pyarrow's multithreaded CSV reader with every column dictionary-encoded,
so ids, ratings and dates are converted once per distinct value; the assignment's
``Dataset.npy`` is turned into the same text in chunks, without Python loops over records.
Line numbers are worked out only when something is wrong, by a second look at the text.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from clusterrec._logging import logger
from clusterrec.data.formats import COLUMN_GUESSES, FormatSpec, resolve_format
from clusterrec.data.ratings import Ratings, RatingScale, ReadReport
from clusterrec.data.validation import RawColumns, validate
from clusterrec.errors import DataError

_DICT = pa.dictionary(pa.int32(), pa.string())
_NPY_CHUNK = 500_000
_ROLES = ("user", "item", "rating", "time")


def read_ratings(
    path: str | Path,
    format: str | None = None,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    time_col: str | None = None,
    date_format: str | None = None,
    scale: RatingScale | str | None = None,
    on_bad_record: str = "error",
) -> Ratings:
    """Read a ratings file into `Ratings`; ``ratings.source`` says what was kept and dropped.

    Args:
        path: the file. Its format is detected from the extension and first line.
        format: one of :data:`clusterrec.data.formats.FORMATS` to override detection.
        user_col, item_col, rating_col, time_col: column names in a CSV/TSV/Parquet file
            with a header (guessed from common names when not given; time is optional).
        date_format: strptime format of a date column (default: unix seconds or ISO 8601).
        scale: the rating scale, e.g. ``"1,10"``; default: the format's, else detected.
        on_bad_record: "error" stops at the first bad record; "skip" skips and counts them.

    Raises:
        DataError: the file is missing, malformed, empty, or a record is bad (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if isinstance(scale, str):
        scale = RatingScale.parse(scale)
    spec = resolve_format(
        path,
        format,
        columns=(user_col, item_col, rating_col, time_col),
        scale=scale,
        date_format=date_format,
    )
    report = ReadReport(path=str(path), format=spec.name)
    raw = _read_raw(path, spec, report)
    ratings = validate(
        raw,
        report,
        scale=spec.scale,
        time_kind=spec.time_kind,
        date_format=spec.date_format,
        on_bad_record=on_bad_record,
        id_patterns=spec.id_patterns,
    )
    logger.info(
        "read %s (%s): %s; %d bad records, %d duplicates",
        path,
        spec.name,
        ratings,
        report.bad_records,
        report.duplicates,
    )
    return ratings


def read_items(path: str | Path) -> pd.Series:
    """Titles of items by original item id, from an items table.

    Accepts a table with a header whose columns include an id (``item_id``, ``movieId``,
    ``item``, ...) and ``title`` (``items.tsv``, MovieLens ``movies.csv``), or MovieLens 100K
    ``u.item`` (``id|title|...``, Latin-1).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    data = path.read_bytes()
    head = data[:4096].split(b"\n", 1)[0].decode("utf-8", errors="replace")
    positional = "|" in head and "title" not in head.lower()
    try:
        if positional:
            frame = pd.read_csv(
                io.BytesIO(data), sep="|", header=None, encoding="latin-1", dtype=str
            )
            if frame.shape[1] < 2:
                raise DataError(f"{path}: expected 'id|title|...' lines (MovieLens u.item)")
            frame = frame.iloc[:, :2].set_axis(["item", "title"], axis=1).fillna("")
        else:
            text = _plain_text(data, path.name, "line")
            sep = "\t" if "\t" in head else ","
            frame = pd.read_csv(io.BytesIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as error:
        if isinstance(error, DataError):
            raise
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise DataError(f"{path}: not a readable items table ({detail})") from None
    if not positional:
        id_col = _pick_column(list(frame.columns), None, COLUMN_GUESSES["item"], path, "item id")
        title_col = _pick_column(list(frame.columns), None, ("title", "name"), path, "title")
        frame = frame[[id_col, title_col]].set_axis(["item", "title"], axis=1)
    return pd.Series(frame["title"].to_numpy(), index=frame["item"].str.strip(), name="title")


# -- raw reading: every format to RawColumns ------------------------------------------------------


def _read_raw(path: Path, spec: FormatSpec, report: ReadReport) -> RawColumns:
    if spec.name == "imdb-npy":
        return _read_npy(path, spec, report)
    if spec.name == "parquet":
        return _read_parquet(path, spec)
    buffer = _plain_text(path.read_bytes(), path.name, "line")
    if spec.delimiter == "::":
        buffer = buffer.replace(b"::", b"\t")
        spec = _with_delimiter(spec, "\t")
    return _read_text(buffer, spec, path.name, report, unit="line")


def _with_delimiter(spec: FormatSpec, delimiter: str) -> FormatSpec:
    return replace(spec, delimiter=delimiter)


def _plain_text(buffer: bytes, name: str, unit: str) -> bytes:
    """``buffer`` without a UTF-8 byte-order mark and with every line break a LF (the parser
    counts CR and CRLF as line breaks too, the locator only LF); text that is not UTF-8 is a
    DataError naming the first line (or .npy row) where it is not."""
    if buffer.startswith(b"\xef\xbb\xbf"):
        buffer = buffer[3:]
    if b"\r" in buffer:
        buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    try:
        buffer.decode("utf-8")
    except UnicodeDecodeError as error:
        number = buffer.count(b"\n", 0, error.start)
        where = f"line {number + 1}" if unit == "line" else f"row {number}"
        raise DataError(
            f"{name}, {where}: not UTF-8 text (byte 0x{buffer[error.start]:02x}); "
            "save the file as UTF-8"
        ) from None
    return buffer


def _read_text(
    buffer: bytes,
    spec: FormatSpec,
    name: str,
    report: ReadReport,
    *,
    unit: str,
    rows_expected: int | None = None,
) -> RawColumns:
    """Parse delimited text with pyarrow, every needed column as dictionary-encoded strings."""
    if re.search(rb"\S", buffer) is None:
        raise DataError(f"{name}: the file is empty")
    header, names, skip = _header(buffer, spec, name)
    roles = _columns_for_roles(names, spec, name)
    unnamed = [c for c in names if c.startswith("_unnamed_")]
    rejected = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        rejected.append(row.text)
        return "skip"

    wanted = [c for c in roles.values() if c] + unnamed
    types = {c: _DICT for c in wanted if c != roles.get("time") or spec.time_kind == "date"}
    types.update(
        {roles["time"]: pa.string()} if roles.get("time") and spec.time_kind != "date" else {}
    )
    types.update({c: pa.string() for c in unnamed})
    try:
        table = pacsv.read_csv(
            pa.BufferReader(buffer),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=spec.delimiter,
                quote_char='"' if spec.quoting else False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=wanted, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as error:
        raise DataError(f"{name}: cannot be parsed as {spec.name}: {error}") from None
    if spec.quoting and b'"' in buffer:
        _check_no_line_breaks(table, buffer, name)
    _note_unnamed_values(table, unnamed, report)
    n_rejected = len(rejected)
    if rows_expected is not None:  # records that are empty strings never reach the parser
        n_rejected = rows_expected - table.num_rows
    return RawColumns(
        user=table.column(roles["user"]),
        item=table.column(roles["item"]),
        rating=table.column(roles["rating"]),
        time=table.column(roles["time"]) if roles.get("time") else None,
        n_parse_errors=n_rejected,
        locator=_TextLocator(buffer, spec, name, unit, skip, len(names), table.num_rows),
    )


def _check_no_line_breaks(table: pa.Table, buffer: bytes, name: str) -> None:
    """A quoted field that runs over a line break (a quote never closed) would make one record
    of several lines and a new id of their text; it is a DataError naming the line."""
    for column in table.columns:
        values = (
            column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        )
        hits = pc.filter(values, pc.match_substring(values, "\n"))
        if len(hits):
            start = hits[0].as_py().split("\n", 1)[0].encode("utf-8")
            line = buffer.count(b"\n", 0, max(buffer.find(b'"' + start), 0)) + 1
            raise DataError(
                f"{name}, line {line}: a quoted field runs over the end "
                'of the line (a quote character " that is not closed?)'
            )


def _header(buffer: bytes, spec: FormatSpec, name: str) -> tuple[list[str], list[str], int]:
    """Header fields, the column names to give pyarrow (unnamed ones made unique), rows to skip."""
    if not spec.header:
        return [], [c for c in spec.columns if c], 0
    first = buffer.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    fields = _split_fields(first, spec) if first else []
    names = [f.strip() or f"_unnamed_{i + 1}" for i, f in enumerate(fields)]
    if len(set(names)) != len(names):
        raise DataError(f"{name}, line 1: the header names a column twice: {first!r}")
    return fields, names, 1


def _columns_for_roles(names: list[str], spec: FormatSpec, name: str) -> dict[str, str | None]:
    """The file column playing each role (user, item, rating, time)."""
    roles = {}
    for role, given in zip(_ROLES, spec.columns, strict=True):
        roles[role] = _pick_column(
            names, given, COLUMN_GUESSES[role], name, role, optional=role == "time"
        )
    return roles


def _pick_column(
    names: list[str],
    given: str | None,
    guesses: tuple[str, ...],
    name: object,
    role: str,
    *,
    optional: bool = False,
) -> str | None:
    if given is not None:
        if given not in names:
            raise DataError(f"{name}: no column {given!r} for the {role}; columns are {names}")
        return given
    lowered = {n.lower(): n for n in names}
    for guess in guesses:
        if guess.lower() in lowered:
            return lowered[guess.lower()]
    if optional:
        return None
    flag = {"item id": "item", "title": "item"}.get(role, role)
    raise DataError(
        f"{name}: cannot tell which column holds the {role}; columns are {names}; "
        f"name it with --{flag}-col"
    )


def _note_unnamed_values(table: pa.Table, unnamed: list[str], report: ReadReport) -> None:
    """Count rows that carry values in columns without a name (ignored, but reported)."""
    if not unnamed:
        return
    filled = np.zeros(table.num_rows, dtype=bool)
    for column in unnamed:
        values = table.column(column).to_numpy(zero_copy_only=False).astype(str)
        filled |= np.char.str_len(np.char.strip(values)) > 0
    if filled.any():
        report.notes.append(
            f"{int(filled.sum()):,} records carry values in columns without a header name "
            f"({', '.join(c.removeprefix('_unnamed_') for c in unnamed)}); those values were "
            "ignored"
        )


@dataclass
class _TextLocator:
    """Finds table rows and rejected records in the text by scanning it once, in Python.

    Slow, but only ever used when a record is bad. ``unit`` "line" counts lines from 1 (text
    files); "row" counts array elements from 0 (Dataset.npy), where an empty element is a bad
    record rather than a blank line.
    """

    buffer: bytes
    spec: FormatSpec
    name: str
    unit: str
    skip: int
    n_fields: int
    n_rows: int

    def rows(self, rows: np.ndarray) -> list[tuple[int, str, str]]:
        kept, _ = self._scan()
        return [(kept[r][0], self._where(kept[r][0]), kept[r][1]) for r in rows]

    def parse_errors(self, count: int) -> list[tuple[int, str, str, str]]:
        _, rejected = self._scan()
        return [(n, self._where(n), text, problem) for n, text, problem in rejected[:count]]

    def record_numbers(self) -> np.ndarray:
        kept, rejected = self._scan()
        lines = np.array([line for line, _ in kept], dtype=np.int64)
        every = np.sort(np.concatenate([lines, [line for line, _, _ in rejected]]))
        return np.searchsorted(every, lines)

    def _where(self, index: int) -> str:
        if self.unit == "line":
            return f"{self.name}, line {index + 1}"
        return f"{self.name}, row {index}"

    def _scan(self) -> tuple[list[tuple[int, str]], list[tuple[int, str, str]]]:
        """(line, text) of the rows the parser kept; (line, text, problem) of those it didn't."""
        if hasattr(self, "_scanned"):
            return self._scanned
        kept: list[tuple[int, str]] = []
        rejected: list[tuple[int, str, str]] = []
        lines = self.buffer.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for number in range(self.skip, len(lines)):
            line = lines[number].decode("utf-8", errors="replace").rstrip("\r")
            if not line:
                if self.unit == "row":
                    rejected.append((number, line, "empty record"))
                continue
            fields = len(_split_fields(line, self.spec))
            if fields == self.n_fields:
                kept.append((number, line))
            else:
                problem = f"expected {self.n_fields} fields, found {fields}"
                rejected.append((number, line, problem))
        if len(kept) != self.n_rows:  # quoting the parser read otherwise than Python's csv
            first = (rejected or [(kept[-1][0] if kept else self.skip, "", "")])[0][0]
            raise DataError(
                f"{self._where(first)}: the records cannot be told apart reliably (a quote "
                'character " that is not closed, or a line break inside quotes?); fix the '
                "quoting or read the file with --format tsv/csv and other columns"
            )
        self._scanned = (kept, rejected)
        return self._scanned


def _split_fields(line: str, spec: FormatSpec) -> list[str]:
    """The fields of one line (no line breaks in it), as the parser splits them."""
    if not spec.quoting:
        return line.split(spec.delimiter)
    try:
        return next(csv.reader([line.replace("\0", "")], delimiter=spec.delimiter))
    except (csv.Error, StopIteration):
        return line.split(spec.delimiter)


# -- the assignment's Dataset.npy -----------------------------------------------------------------


def _read_npy(path: Path, spec: FormatSpec, report: ReadReport) -> RawColumns:
    """Dataset.npy: a 1-D array of 'user,item,rating,date' strings, or an (n, 4) string array."""
    dtype, shape = read_npy_header(path)
    if dtype.kind == "O":
        raise DataError(
            f"{path.name}: the array holds Python objects (dtype object), which could only be "
            "loaded by unpickling, and unpickling a data file can run arbitrary code. Convert it "
            "once, in a session you trust: numpy.save('ratings_str.npy', numpy.load("
            f"'{path.name}', allow_pickle=True).astype(str)), then read ratings_str.npy"
        )
    if dtype.kind not in "US" or dtype.itemsize == 0:
        raise DataError(f"{path.name}: expected an array of strings, found dtype {dtype}")
    if len(shape) == 2 and shape[1] == 4:
        if shape[0] == 0:
            raise DataError(f"{path.name}: the array is empty")
        return _read_npy_columns(path, spec)
    if len(shape) != 1:
        raise DataError(
            f"{path.name}: expected a 1-D array of 'user,item,rating,date' strings or an "
            f"(n, 4) array of fields, found shape {shape}"
        )
    if shape[0] == 0:
        raise DataError(f"{path.name}: the array is empty")
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    buffer = b"".join(
        _npy_lines(array[start : start + _NPY_CHUNK], start, path.name)
        for start in range(0, len(array), _NPY_CHUNK)
    )
    buffer = _plain_text(buffer, path.name, "row")
    if buffer.count(b"\n") != len(array):
        raise DataError(f"{path.name}: {_row_with_line_break(array)} holds a line break")
    return _read_text(buffer, spec, path.name, report, unit="row", rows_expected=len(array))


def read_npy_header(path: str | Path) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and shape of a .npy file, read from its header without loading the data.

    Any header NumPy cannot read (it parses the header's text itself), a negative dimension,
    or a file shorter than its header announces is a `DataError` naming the file, so that
    ``numpy.load`` afterwards neither fails nor allocates memory for data that is not there.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            reader = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _fortran, dtype = reader(handle)
            offset = handle.tell()
    except Exception as error:  # numpy raises ValueError, SyntaxError, TokenError, ...
        detail = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise DataError(f"{path.name}: not a readable .npy file ({detail})") from None
    if any(n < 0 for n in shape):
        raise DataError(f"{path.name}: not a readable .npy file (shape {shape})")
    expected = offset + int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    size = path.stat().st_size
    if dtype.kind != "O" and size < expected:
        raise DataError(
            f"{path.name}: the file is cut short: its header announces an array of shape "
            f"{shape} ({expected:,} bytes with the header), the file has {size:,} bytes"
        )
    return dtype, shape


def _npy_lines(chunk: np.ndarray, start: int = 0, name: str = "") -> bytes:
    """The strings of ``chunk`` as UTF-8 text, one per line, built without a Python loop.

    ASCII text (the usual case) is narrowed from NumPy's UTF-32 code points to bytes by a
    numeric cast, several times faster than encoding each string.
    """
    chunk = np.asarray(chunk)
    if chunk.dtype.kind == "U":
        width = chunk.dtype.itemsize // 4
        points = chunk.view(np.uint32).reshape(len(chunk), width)
        _check_code_points(points, start, name)
        if width and points.max() >= 128:
            chunk = np.char.encode(chunk, "utf-8")
            width = chunk.dtype.itemsize
            points = chunk.view(np.uint8).reshape(len(chunk), width)
    else:
        width = chunk.dtype.itemsize
        points = chunk.view(np.uint8).reshape(len(chunk), width)
    cells = np.empty((len(chunk), width + 1), dtype=np.uint8)
    cells[:, :width] = points
    cells[:, width] = ord("\n")
    return cells[cells != 0].tobytes()


def _check_code_points(points: np.ndarray, start: int, name: str) -> None:
    """Rows (of UTF-32 code points) that hold no Unicode text are a DataError naming the row."""
    if points.size == 0:
        return
    bad = (points > 0x10FFFF) | ((points >= 0xD800) & (points <= 0xDFFF))
    rows = np.flatnonzero(bad.reshape(len(points), -1).any(axis=1))
    if len(rows):
        raise DataError(f"{name}, row {start + int(rows[0])}: holds no valid Unicode text")


def _row_with_line_break(array: np.ndarray) -> str:
    for start in range(0, len(array), _NPY_CHUNK):
        hits = np.flatnonzero(
            np.char.find(np.asarray(array[start : start + _NPY_CHUNK]), "\n") >= 0
        )
        if len(hits):
            return f"row {start + int(hits[0])}"
    return "a row"


def _read_npy_columns(path: Path, spec: FormatSpec) -> RawColumns:
    """An (n, 4) string array: the fields already split."""
    array = np.load(path, allow_pickle=False)
    if array.dtype.kind == "U":
        _check_code_points(array.view(np.uint32).reshape(len(array), -1), 0, path.name)
        text = array
    else:
        try:
            text = np.char.decode(array, "utf-8")
        except UnicodeDecodeError:
            row = next(i for i, r in enumerate(array.tolist()) if not _is_utf8(b"".join(r)))
            raise DataError(f"{path.name}, row {row}: not UTF-8 text") from None
    columns = [pa.chunked_array([pa.array(text[:, j].astype(str))]) for j in range(4)]
    return _raw_from_columns(columns, path.name, text.astype(str).tolist())


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass
class _RowLocator:
    """Rows of an already-columnar input (Parquet, an (n, 4) array): row number = record."""

    name: str
    rows_text: object

    def rows(self, rows: np.ndarray) -> list[tuple[int, str, str]]:
        return [(int(r), f"{self.name}, row {r}", str(self.rows_text[r])) for r in rows]

    def parse_errors(self, count: int) -> list[tuple[int, str, str, str]]:
        return []

    def record_numbers(self) -> np.ndarray:
        raise AssertionError("columnar inputs reject no records while parsing")


def _raw_from_columns(columns: list, name: str, rows_text: object) -> RawColumns:
    return RawColumns(*columns, n_parse_errors=0, locator=_RowLocator(name, rows_text))


# -- Parquet --------------------------------------------------------------------------------------


def _read_parquet(path: Path, spec: FormatSpec) -> RawColumns:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise DataError(f"{path.name}: not a readable Parquet file ({error})") from None
    roles = _columns_for_roles(list(schema.names), spec, path.name)
    wanted = [c for c in roles.values() if c]
    twice = sorted({c for c in wanted if schema.names.count(c) > 1})
    if twice:
        raise DataError(f"{path.name}: more than one column is named {twice[0]!r}")
    try:
        table = pq.read_table(path, columns=wanted)
    except (pa.ArrowException, OSError) as error:
        detail = (str(error).splitlines() or [""])[0][:200]
        raise DataError(f"{path.name}: not a readable Parquet file ({detail})") from None
    if table.num_rows == 0:
        raise DataError(f"{path.name}: the file is empty")
    columns = [
        _parquet_column(table, roles[r], r, path.name) if roles.get(r) else None for r in _ROLES
    ]
    rows_text = _ParquetRows(table)
    return _raw_from_columns(columns, path.name, rows_text)


def _parquet_column(table: pa.Table, column: str, role: str, name: str) -> pa.ChunkedArray:
    """A Parquet column as validation takes it: text, float ratings or unix seconds; a missing
    value (null) becomes one that validation rejects as a bad record."""
    values = table.column(column)
    kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if pa.types.is_nested(kind) or pa.types.is_null(kind):
        raise DataError(
            f"{name}: column {column!r} (the {role}) holds {values.type}; expected text or "
            "numbers (or dates for the time)"
        )
    try:
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            seconds = pc.cast(pc.cast(values, pa.timestamp("s"), safe=False), pa.int64())
            return seconds.cast(pa.string()).fill_null("") if seconds.null_count else seconds
        if pa.types.is_floating(kind) and role == "rating":
            return values.fill_null(float("nan")) if values.null_count else values
        text = values.cast(pa.string()).fill_null("")
        text.validate(full=True)  # string data that is not UTF-8
        return text
    except pa.ArrowException as error:
        detail = (str(error).splitlines() or [""])[0][:200]
        raise DataError(
            f"{name}: column {column!r} (the {role}, {values.type}) cannot be read as text "
            f"({detail})"
        ) from None


class _ParquetRows:
    """Text of a Parquet row for error messages, built only when asked."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __getitem__(self, row: int) -> str:
        return ",".join(str(v[0]) for v in self.table.slice(int(row), 1).to_pydict().values())


__all__ = ["read_items", "read_npy_header", "read_ratings"]
