"""`Ratings`: the columnar ratings table every stage of clusterrec starts from.

One record per (user, item) pair: integer codes into two vocabularies of original labels
(``ur4592644``, ``tt0120884``, MovieLens ids as strings), the rating, and optionally the time
in unix seconds. Codes make filtering, splitting and the sparse matrix cheap; the labels come
back whenever a result is shown to a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from clusterrec.errors import DataError

__all__ = [
    "KNOWN_SCALES",
    "BadRecord",
    "RatingScale",
    "Ratings",
    "ReadReport",
    "detect_scale",
]


@dataclass(frozen=True)
class BadRecord:
    """One record that could not be used: where it is, its text and what is wrong."""

    location: str
    text: str
    problem: str

    def __str__(self) -> str:
        return f"{self.location}: {self.problem}: {self.text!r}"


@dataclass
class ReadReport:
    """What reading a file kept and dropped, for the user to see."""

    path: str
    format: str
    records: int = 0
    bad_records: int = 0
    bad_examples: list[BadRecord] = field(default_factory=list)
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "format": self.format,
            "records": self.records,
            "bad_records": self.bad_records,
            "bad_examples": [str(b) for b in self.bad_examples],
            "duplicates": self.duplicates,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class RatingScale:
    """The rating scale: inclusive bounds and, when ratings are discrete, the step."""

    low: float
    high: float
    step: float | None = None

    def __str__(self) -> str:
        step = f" in steps of {self.step:g}" if self.step else ""
        return f"{self.low:g}..{self.high:g}{step}"

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Element-wise: is each value a rating on this scale?"""
        values = np.asarray(values, dtype=np.float64)
        ok = (values >= self.low) & (values <= self.high)
        if self.step:
            steps = (values - self.low) / self.step
            ok &= np.abs(steps - np.round(steps)) < 1e-6
        return ok

    @classmethod
    def parse(cls, text: str) -> RatingScale:
        """Parse ``"1,10"`` or ``"0.5,5,0.5"`` (low, high, optional step)."""
        parts = [p.strip() for p in str(text).split(",")]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (2, 3) or numbers[0] >= numbers[1] or numbers[0] <= 0:
            raise DataError(
                f"rating scale {text!r} not understood: give LOW,HIGH or LOW,HIGH,STEP with "
                "0 < LOW < HIGH, e.g. 1,10 or 0.5,5,0.5 (0 means 'not rated')"
            )
        return cls(*numbers)


#: Scales tried, in order, when a file does not say which one it uses.
KNOWN_SCALES = (
    RatingScale(1, 5, 1),
    RatingScale(0.5, 5, 0.5),
    RatingScale(1, 10, 1),
    RatingScale(0.5, 10, 0.5),
)


@dataclass(frozen=True, eq=False)
class Ratings:
    """Ratings as parallel columns with label vocabularies.

    Attributes:
        user: int32 code of each record's user, into ``user_labels``.
        item: int32 code of each record's item, into ``item_labels``.
        rating: float32 rating of each record; never 0 (0 means "not rated").
        time: int64 unix seconds of each record, or None when the source has no times.
        user_labels: original user ids (str), indexed by code.
        item_labels: original item ids (str), indexed by code.
        scale: the rating scale the records were validated against.
        source: how the records were read (file, format, what was dropped), when read from a file.
        record: each record's number among the input file's records (0-based, file order),
            when read from a file; it lines records up with per-record data such as a
            published fold assignment, even after bad records or duplicates were dropped.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    time: np.ndarray | None
    user_labels: np.ndarray
    item_labels: np.ndarray
    scale: RatingScale
    source: ReadReport | None = field(default=None, repr=False)
    record: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.user)
        optional = [c for c in (self.time, self.record) if c is not None]
        if len(self.item) != n or len(self.rating) != n or any(len(c) != n for c in optional):
            raise DataError("Ratings columns must all have the same length")

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_records(
        cls,
        users: np.ndarray | list,
        items: np.ndarray | list,
        ratings: np.ndarray | list,
        times: np.ndarray | list | None = None,
        *,
        scale: RatingScale | None = None,
    ) -> Ratings:
        """Build from per-record labels (any hashable ids) and values; labels become strings.

        Records are taken as they are: validation of files (bad records, duplicates) happens in
        the readers. Duplicate (user, item) pairs are refused here.
        """
        user_codes, user_labels = _factorize(users)
        item_codes, item_labels = _factorize(items)
        rating = np.asarray(ratings, dtype=np.float32)
        time = None if times is None else np.asarray(times, dtype=np.int64)
        if scale is None:
            scale = detect_scale(rating)
        bad = ~scale.contains(rating)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"record {i}: rating {rating[i]:g} is outside the scale {scale}")
        result = cls(user_codes, item_codes, rating, time, user_labels, item_labels, scale)
        if result.has_duplicates():
            raise DataError("the same (user, item) pair appears more than once")
        return result

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        user_col: str = "user",
        item_col: str = "item",
        rating_col: str = "rating",
        time_col: str | None = None,
        *,
        scale: RatingScale | None = None,
    ) -> Ratings:
        """Build from a pandas DataFrame; ``time_col`` holds unix seconds or datetimes."""
        missing = [c for c in (user_col, item_col, rating_col, time_col) if c and c not in frame]
        if missing:
            raise DataError(f"columns {missing} not in the frame; it has {list(frame.columns)}")
        times = None
        if time_col:
            column = frame[time_col]
            if pd.api.types.is_datetime64_any_dtype(column):
                times = column.to_numpy("datetime64[s]").astype(np.int64)
            else:
                times = column.to_numpy()
        return cls.from_records(
            frame[user_col].to_numpy(),
            frame[item_col].to_numpy(),
            frame[rating_col].to_numpy(),
            times,
            scale=scale,
        )

    # -- shape ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.rating)

    @property
    def n_users(self) -> int:
        return len(self.user_labels)

    @property
    def n_items(self) -> int:
        return len(self.item_labels)

    def __repr__(self) -> str:
        times = "with times" if self.time is not None else "without times"
        return (
            f"Ratings({len(self):,} ratings, {self.n_users:,} users, {self.n_items:,} items, "
            f"scale {self.scale}, {times})"
        )

    # -- views ----------------------------------------------------------------------------------

    def matrix(self, dtype: type = np.float32) -> sp.csr_matrix:
        """The users x items ratings matrix R in CSR form; an absent entry means "not rated"."""
        matrix = sp.csr_matrix(
            (self.rating.astype(dtype, copy=False), (self.user, self.item)),
            shape=(self.n_users, self.n_items),
        )
        matrix.sort_indices()
        return matrix

    def counts_per_user(self) -> np.ndarray:
        """|phi(u)|: number of ratings of each user code."""
        return np.bincount(self.user, minlength=self.n_users)

    def counts_per_item(self) -> np.ndarray:
        """Number of ratings of each item code."""
        return np.bincount(self.item, minlength=self.n_items)

    def to_frame(self) -> pd.DataFrame:
        """The records as a DataFrame with original labels (categoricals) and datetimes."""
        columns = {
            "user": pd.Categorical.from_codes(self.user, categories=self.user_labels),
            "item": pd.Categorical.from_codes(self.item, categories=self.item_labels),
            "rating": self.rating,
        }
        if self.time is not None:
            columns["time"] = pd.to_datetime(self.time, unit="s")
        return pd.DataFrame(columns)

    def has_duplicates(self) -> bool:
        """Does any (user, item) pair occur more than once?"""
        key = self.user.astype(np.int64) * max(self.n_items, 1) + self.item
        return len(np.unique(key)) != len(key)

    # -- subsets --------------------------------------------------------------------------------

    def take(self, index: np.ndarray) -> Ratings:
        """The records selected by a boolean mask or integer index; vocabularies unchanged."""
        index = np.asarray(index)
        return replace(
            self,
            user=self.user[index],
            item=self.item[index],
            rating=self.rating[index],
            time=None if self.time is None else self.time[index],
            record=None if self.record is None else self.record[index],
        )

    def compact(self) -> Ratings:
        """Re-index users and items to 0..n-1 and 0..m-1, dropping labels no record uses.

        Codes keep their relative order, so the first kept user is still first.
        """
        used_users = np.flatnonzero(self.counts_per_user())
        used_items = np.flatnonzero(self.counts_per_item())
        user_map = np.full(self.n_users, -1, dtype=np.int32)
        user_map[used_users] = np.arange(len(used_users), dtype=np.int32)
        item_map = np.full(self.n_items, -1, dtype=np.int32)
        item_map[used_items] = np.arange(len(used_items), dtype=np.int32)
        return replace(
            self,
            user=user_map[self.user],
            item=item_map[self.item],
            user_labels=self.user_labels[used_users],
            item_labels=self.item_labels[used_items],
        )

    # -- id maps --------------------------------------------------------------------------------

    def user_codes(self, labels: object) -> np.ndarray:
        """Codes of the given original user ids; -1 for ids not in the vocabulary."""
        return _lookup(self.user_labels, labels)

    def item_codes(self, labels: object) -> np.ndarray:
        """Codes of the given original item ids; -1 for ids not in the vocabulary."""
        return _lookup(self.item_labels, labels)


def detect_scale(values: np.ndarray) -> RatingScale:
    """The first of :data:`KNOWN_SCALES` that holds every value."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise DataError("no ratings: the input is empty")
    unique = np.unique(values)
    for scale in KNOWN_SCALES:
        if scale.contains(unique).all():
            return scale
    raise DataError(
        f"ratings between {unique[0]:g} and {unique[-1]:g} fit none of the known scales "
        f"({', '.join(map(str, KNOWN_SCALES))}); give the scale explicitly (--scale LOW,HIGH)"
    )


def _factorize(values: np.ndarray | list) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(np.asarray(values), sort=False)
    labels = np.asarray([str(u) for u in uniques], dtype=object)
    return codes.astype(np.int32), labels


def _lookup(vocabulary: np.ndarray, labels: object) -> np.ndarray:
    wanted = np.atleast_1d(np.asarray(labels, dtype=object)).astype(str).astype(object)
    return pd.Index(vocabulary).get_indexer(wanted).astype(np.int64)
