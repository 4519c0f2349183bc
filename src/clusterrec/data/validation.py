"""Turning parsed text columns into validated `Ratings`, with nothing lost silently.

Every record that cannot be used (wrong number of fields, empty id, rating that is not a
number, NaN, 0 or off the scale, time that cannot be read) is a *bad record*: by default the
first one stops the read with a message naming the file, the line and the offending text;
with ``on_bad_record="skip"`` bad records are skipped, counted and the first few reported.
Duplicate (user, item) pairs keep the latest record by time (the last seen without times).

Values are validated once per distinct value (ids, ratings and dates are dictionary-encoded
by the parser), which keeps validation cheap on millions of records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clusterrec.data.ratings import BadRecord, Ratings, RatingScale, ReadReport, detect_scale
from clusterrec.errors import DataError

__all__ = [
    "EXAMPLES_KEPT",
    "ON_BAD_RECORD",
    "Locator",
    "RawColumns",
    "validate",
]

#: Unix seconds further from 1970 than this (years before 1698 or after 2242, beyond what
#: datetime64[ns] holds) are not times of ratings: bad records.
MAX_SECONDS = 2**33

#: How many bad records a report keeps as examples.
EXAMPLES_KEPT = 5

ON_BAD_RECORD = ("error", "skip")


class Locator(Protocol):
    """Finds where records are in the input; used only when something is wrong."""

    def rows(self, rows: np.ndarray) -> list[tuple[int, str, str]]:
        """(sort key, location, text) of each parsed table row."""

    def parse_errors(self, count: int) -> list[tuple[int, str, str, str]]:
        """(sort key, location, text, problem) of the first ``count`` rejected records."""

    def record_numbers(self) -> np.ndarray:
        """Each table row's number among all the input's records (rejected ones included)."""


@dataclass
class RawColumns:
    """Parsed but unvalidated columns of a ratings file.

    ``user``, ``item`` and ``rating`` are string (best: dictionary-encoded) arrays; ``time``
    is a string, integer or dictionary array, or None. ``n_parse_errors`` counts records the
    parser rejected (wrong number of fields, empty records); ``locator`` finds them and the
    rows when a message needs them.
    """

    user: pa.ChunkedArray
    item: pa.ChunkedArray
    rating: pa.ChunkedArray
    time: pa.ChunkedArray | None
    n_parse_errors: int
    locator: Locator


def validate(
    raw: RawColumns,
    report: ReadReport,
    *,
    scale: RatingScale | None,
    time_kind: str | None,
    date_format: str | None,
    on_bad_record: str = "error",
    id_patterns: tuple[str | None, str | None] = (None, None),
) -> Ratings:
    """Check every record of ``raw``, drop bad ones and duplicates, and build `Ratings`.

    ``id_patterns``: regular expressions a whole user id and a whole item id must match (the
    ids a format defines, e.g. MovieLens's whole numbers); None accepts any non-empty id.
    """
    if on_bad_record not in ON_BAD_RECORD:
        raise DataError(f"on_bad_record must be one of {ON_BAD_RECORD}, not {on_bad_record!r}")
    n = len(raw.rating)
    user_codes, user_labels, user_bad = _ids(raw.user)
    item_codes, item_labels, item_bad = _ids(raw.item)
    rating, rating_problem = _ratings(raw.rating)
    if scale is None:
        usable = rating_problem == ""
        try:
            scale = detect_scale(rating[usable]) if usable.any() else RatingScale(1, 5, 1)
        except DataError as error:
            raise DataError(f"{report.path}: {error}") from None
    off_scale = (rating_problem == "") & ~scale.contains(np.nan_to_num(rating))
    rating_problem = np.where(off_scale, f"rating outside the scale {scale}", rating_problem)
    times, time_bad, time_problem = _times(raw.time, time_kind, date_format)

    user_form = _off_pattern(user_labels, user_codes, id_patterns[0])
    item_form = _off_pattern(item_labels, item_codes, id_patterns[1])
    problems = _first_problem(
        n,
        [
            (user_bad, "empty user id"),
            (item_bad, "empty item id"),
            (rating_problem != "", rating_problem),
            (time_bad, time_problem),
            (user_form, f"user id is not {_pattern_words(id_patterns[0])}"),
            (item_form, f"item id is not {_pattern_words(id_patterns[1])}"),
        ],
    )
    bad_rows = np.flatnonzero(problems != "")
    n_bad = len(bad_rows) + raw.n_parse_errors
    report.records = n + raw.n_parse_errors
    report.bad_records = n_bad
    if n_bad:
        _handle_bad(raw, report, bad_rows, problems, on_bad_record)
    good = problems == ""
    keep = _keep_latest(user_codes, item_codes, times, good)
    report.duplicates = int(good.sum() - keep.sum())
    if report.duplicates:
        report.notes.append(
            f"{report.duplicates:,} duplicate (user, item) records: kept the "
            + ("latest by time" if times is not None else "last seen in the file")
        )
    if not keep.any():
        raise DataError(f"{report.path}: no usable ratings (the input is empty)")
    records = raw.locator.record_numbers() if raw.n_parse_errors else np.arange(n)
    ratings = Ratings(
        record=records[keep],
        user=user_codes[keep],
        item=item_codes[keep],
        rating=rating[keep].astype(np.float32),
        time=None if times is None else times[keep],
        user_labels=user_labels,
        item_labels=item_labels,
        scale=scale,
        source=report,
    )
    return ratings.compact()


def _handle_bad(
    raw: RawColumns,
    report: ReadReport,
    bad_rows: np.ndarray,
    problems: np.ndarray,
    on_bad_record: str,
) -> None:
    """Raise for the first bad record, or keep the first few as examples when skipping."""
    found = [
        (key, BadRecord(location, text, str(problems[row])))
        for (key, location, text), row in zip(
            raw.locator.rows(bad_rows[:EXAMPLES_KEPT]), bad_rows[:EXAMPLES_KEPT], strict=True
        )
    ]
    found += [
        (key, BadRecord(location, text, problem))
        for key, location, text, problem in raw.locator.parse_errors(
            min(raw.n_parse_errors, EXAMPLES_KEPT)
        )
    ]
    examples = [record for _, record in sorted(found, key=lambda pair: pair[0])]
    report.bad_examples = examples[:EXAMPLES_KEPT]
    if on_bad_record == "error":
        first = report.bad_examples[0]
        more = report.bad_records - 1
        hint = (
            f" ({more:,} more bad records; --on-bad-record skip skips and counts them)"
            if more
            else " (--on-bad-record skip skips and counts such records)"
        )
        raise DataError(f"{first}{hint}")


def _first_problem(n: int, checks: Sequence[tuple[np.ndarray, object]]) -> np.ndarray:
    """Per row, the description of the first failed check, or "" when all pass."""
    problems = np.full(n, "", dtype=object)
    for failed, problem in checks:
        if failed is None:
            continue
        fresh = failed & (problems == "")
        if fresh.any():
            problems[fresh] = problem[fresh] if isinstance(problem, np.ndarray) else problem
    return problems


def _dictionary(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Indices (int32) and distinct values of a dictionary-encoded column."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    column = column.unify_dictionaries()
    if column.num_chunks == 0:
        return np.zeros(0, dtype=np.int32), []
    values = column.chunk(0).dictionary.to_pylist()
    indices = np.concatenate(
        [chunk.indices.to_numpy(zero_copy_only=False) for chunk in column.chunks]
    ).astype(np.int32, copy=False)
    return indices, values


def _ids(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes, labels, and which records have an empty id.

    Ids are compared without surrounding whitespace, so ``" u1"`` and ``"u1"`` are one user.
    """
    indices, values = _dictionary(column)
    trimmed = pc.utf8_trim_whitespace(pa.array(values, type=pa.string()))
    merged, labels = pd.factorize(trimmed.fill_null("").to_numpy(zero_copy_only=False))
    if len(labels) < len(values):
        indices = merged[indices].astype(np.int32)
    labels = np.asarray(labels, dtype=object)
    empty = labels == ""
    return indices, labels, empty[indices] if empty.any() else np.zeros(len(indices), bool)


def _pattern_words(pattern: str | None) -> str:
    return {r"\d+": "a whole number", r"ur\d+": "'ur' and digits", r"tt\d+": "'tt' and digits"}.get(
        str(pattern), f"of the form {pattern}"
    )


def _off_pattern(labels: np.ndarray, codes: np.ndarray, pattern: str | None) -> np.ndarray | None:
    """Which records' ids do not match ``pattern`` as a whole (checked once per distinct id)."""
    if pattern is None or len(labels) == 0:
        return None
    matches = pc.match_substring_regex(pa.array(labels, type=pa.string()), f"^(?:{pattern})$")
    off = ~matches.to_numpy(zero_copy_only=False)
    return off[codes] if off.any() else None


def _ratings(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Ratings as float64, and per record the problem ("" when the value is a rating)."""
    indices, values = _dictionary(column)
    texts = pd.Series(values, dtype=object)
    numbers = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=np.float64)
    problem = np.full(len(values), "", dtype=object)
    problem[np.isnan(numbers)] = "rating is not a number"
    problem[np.isinf(numbers)] = "rating is not finite"
    problem[(numbers == 0)] = "rating 0 is not a rating (0 means 'not rated' in this method)"
    return numbers[indices], problem[indices]


def _times(
    column: pa.ChunkedArray | None, kind: str | None, date_format: str | None
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | str]:
    """Unix seconds per record, which records' times are unreadable, and the problem."""
    if column is None or kind is None:
        return None, None, ""
    if kind in ("unix", "auto"):
        seconds = _unix_seconds(column)
        if seconds is not None or kind == "unix":
            if seconds is None:
                return _unix_seconds_with_errors(column)
            return seconds, None, ""
    return _dates(column, date_format)


def _unix_seconds(column: pa.ChunkedArray) -> np.ndarray | None:
    """Whole unix seconds when every value is an integer (or an integral float); else None."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_integer(column.type) or pa.types.is_string(column.type):
        try:
            seconds = pc.cast(column, pa.int64()).to_numpy().astype(np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return seconds if (np.abs(seconds) <= MAX_SECONDS).all() else None
    try:
        as_float = pc.cast(column, pa.float64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    whole = np.isfinite(as_float).all() and (as_float == np.round(as_float)).all()
    if whole and (np.abs(as_float) <= MAX_SECONDS).all():
        return as_float.astype(np.int64)
    return None


def _unix_seconds_with_errors(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, str]:
    """Unix seconds where readable, and a mask of the records that are not."""
    texts = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    numbers = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
        bad |= np.abs(np.nan_to_num(numbers)) > MAX_SECONDS
    what = "time is not whole unix seconds (of the years 1698 to 2242)"
    return np.where(bad, 0, numbers).astype(np.int64), bad, what


def _dates(column: pa.ChunkedArray, date_format: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Dates parsed once per distinct value into unix seconds, and the unreadable ones."""
    indices, values = _dictionary(column)
    texts = pd.Series(values, dtype=object).str.strip()
    if date_format:
        parsed = pd.to_datetime(texts, format=date_format, errors="coerce")
        what = f"date does not match the format {date_format!r}"
    else:
        parsed = pd.to_datetime(texts, format="ISO8601", errors="coerce")
        what = "time is neither unix seconds nor an ISO 8601 date"
    bad_value = parsed.isna().to_numpy()
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    seconds = parsed.to_numpy("datetime64[s]").astype(np.int64)
    seconds[bad_value] = 0
    return seconds[indices], bad_value[indices], what


def _keep_latest(
    user: np.ndarray, item: np.ndarray, times: np.ndarray | None, good: np.ndarray
) -> np.ndarray:
    """Mask of the good records to keep: one per (user, item), the latest by time, else last.

    One plain sort of the keys finds the duplicated pairs; only their records are then
    ordered by key and time.
    """
    rows = np.flatnonzero(good)
    key = user[rows].astype(np.int64) * (int(item.max(initial=0)) + 1) + item[rows]
    keep = good.copy()
    sorted_keys = np.sort(key)
    repeated = sorted_keys[1:][sorted_keys[1:] == sorted_keys[:-1]]
    if len(repeated) == 0:
        return keep
    duplicated = np.isin(key, np.unique(repeated))
    rows, key = rows[duplicated], key[duplicated]
    if times is None:
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((times[rows], key))
    sorted_key = key[order]
    last_of_group = np.ones(len(order), dtype=bool)
    last_of_group[:-1] = sorted_key[1:] != sorted_key[:-1]
    keep[rows] = False
    keep[rows[order[last_of_group]]] = True
    return keep
