"""Synthetic ratings in the format and shape of the assignment's IMDB ``Dataset.npy``.

The original file cannot be downloaded here, so tests and benchmarks use data generated to
look like it: a 1-D NumPy unicode array (dtype ``<U…``, never ``object``) with one record per
element, ``user,item,rating,date``, for example ``ur4592644,tt0120884,10,16 January 2005``.

How the data are made (the same model for every size, only the numbers change):

* **User activity** comes in three strata, each a truncated discrete power law
  ``P(k) ∝ k^-exponent``: *light* users below the kept band, *band* users inside it (150..300
  ratings for ``seed`` and ``full``, the users the assignment keeps) and *heavy* users above
  it. The exponents are chosen so the densities meet almost continuously at the band's edges,
  so band users are a rare heavy tail of activity as in the real data (in ``full`` 87 % of the
  users have 1..3 ratings).
* **Movie popularity** is a Zipf-Mandelbrot law ``P(rank) ∝ (rank + offset)^-exponent`` over a
  catalogue of movies, tuned so that, in ``full``, all ratings touch about 351K movies and the
  band users' ratings touch about 68K. Movie ids are random, so popularity is not tied to ids.
* **Taste groups** give clustering something to find: every user belongs to one of a few
  planted groups and every movie to one of as many genres. A user picks ``TASTE_SHARE`` of
  their movies from their own genre (so the *sets* of rated movies differ between groups,
  which Jaccard can see) and rates own-genre movies ``TASTE_BONUS`` higher and the other
  genres a little lower (so the *values* differ, which Euclidean and cosine can see).
* **Ratings** are ``BASE_RATING`` + user bias + movie bias + taste effect + noise, rounded and
  clipped to 1..10 (mean close to 7). Each user rates a movie at most once.
* **Dates** lie in 1998..2020: each user is active over a random span (log-normal length, so
  some spans are days and some are many years) and rates at uniform times inside it. Dates are
  written like IMDB pages write them, ``5 March 2010`` (day not zero-padded, English months).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clusterrec._atomic import atomic_write
from clusterrec.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BASE_RATING",
    "FIRST_DATE",
    "LAST_DATE",
    "MEDIAN_SPAN_DAYS",
    "MONTH_NAMES",
    "MOVIE_BIAS_SD",
    "MOVIE_ID_RANGE",
    "NOISE_SD",
    "SIZES",
    "SPAN_LOG_SD",
    "TASTE_BONUS",
    "TASTE_SHARE",
    "USER_BIAS_SD",
    "USER_ID_RANGE",
    "ActivityStratum",
    "SyntheticData",
    "SyntheticSize",
    "MOVIELENS_SIZES",
    "cache_dir",
    "default_dataset_path",
    "default_movielens_path",
    "generate_dataset",
    "generate_records",
    "movielens_frame",
    "write_dataset_npy",
    "write_movielens_csv",
]

FIRST_DATE = dt.date(1998, 1, 1)
LAST_DATE = dt.date(2020, 12, 31)
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
"""English month names, hard-coded because ``%B`` and ``calendar`` follow the locale."""

BASE_RATING = 6.63
"""Rating before biases; with the taste effect and clipping the mean rating comes out near 7."""
USER_BIAS_SD = 1.0
MOVIE_BIAS_SD = 0.8
NOISE_SD = 1.3
TASTE_SHARE = 0.3
"""Fraction of a user's picks drawn from their own group's genre instead of from all movies."""
TASTE_BONUS = 1.5
"""Added to ratings of own-genre movies; other genres get ``-TASTE_BONUS / (groups - 1)``."""
MEDIAN_SPAN_DAYS = 365.0
SPAN_LOG_SD = 1.4
USER_ID_RANGE = (1_000_000, 130_000_000)
"""User numbers have 7..9 digits, like ``ur4592644``."""
MOVIE_ID_RANGE = (1, 10_000_000)
"""Movie numbers are written with exactly 7 digits, like ``tt0120884``."""


@dataclass(frozen=True)
class ActivityStratum:
    """Users whose number of ratings follows ``P(k) ∝ k^-exponent`` on ``min..max`` ratings."""

    n_users: int
    min_ratings: int
    max_ratings: int
    exponent: float

    def expected_ratings(self) -> float:
        """Expected total number of ratings of the stratum's users."""
        values, probabilities = _power_law(self.min_ratings, self.max_ratings, self.exponent)
        return float(self.n_users * (values * probabilities).sum())


@dataclass(frozen=True)
class SyntheticSize:
    """Parameters of one size of synthetic data set.

    ``band`` holds the users a run keeps (``band.min_ratings..band.max_ratings`` ratings),
    ``light`` and ``heavy`` those a filter to that range drops. Movies are drawn from a
    catalogue of ``n_catalogue`` movies with Zipf-Mandelbrot popularity.
    """

    name: str
    light: ActivityStratum
    band: ActivityStratum
    heavy: ActivityStratum
    n_catalogue: int
    popularity_exponent: float
    popularity_offset: float
    n_taste_groups: int = 4

    @property
    def n_users(self) -> int:
        """Number of users in the data set (every user has at least one rating)."""
        return self.light.n_users + self.band.n_users + self.heavy.n_users

    @property
    def strata(self) -> tuple[ActivityStratum, ActivityStratum, ActivityStratum]:
        """The light, band and heavy strata, in that order."""
        return (self.light, self.band, self.heavy)

    def expected_ratings(self) -> float:
        """Expected total number of ratings before any filtering."""
        return sum(stratum.expected_ratings() for stratum in self.strata)


# Popularity of the IMDB-like sizes: with this law the 4.67M ratings of "full" touch about 351K
# movies and the band users' 224,704 ratings about 68K. First solved from the expected number
# of distinct movies (sum over movies of 1 - exp(-ratings * P(movie))), then corrected on
# generated data, which touch slightly more movies (each user rates a movie only once).
_IMDB_CATALOGUE = 462_200
_IMDB_POPULARITY_EXPONENT = 1.1745
_IMDB_POPULARITY_OFFSET = 200.0
# 1,079 band users with 150..300 ratings and exponent 1.9355 give 224,704 ratings on average.
_IMDB_BAND = ActivityStratum(n_users=1_079, min_ratings=150, max_ratings=300, exponent=1.9355)

SIZES: dict[str, SyntheticSize] = {
    # Unit tests: 200 users, 500 movies, about 4,100 ratings. Most users (170) have 5..60
    # ratings, 25 have 1..4 and 5 have 61..100, so tests can filter with small bounds
    # (for example 5..60) and see users dropped on both sides.
    "tiny": SyntheticSize(
        name="tiny",
        light=ActivityStratum(n_users=25, min_ratings=1, max_ratings=4, exponent=1.0),
        band=ActivityStratum(n_users=170, min_ratings=5, max_ratings=60, exponent=1.0),
        heavy=ActivityStratum(n_users=5, min_ratings=61, max_ratings=100, exponent=2.0),
        n_catalogue=500,
        popularity_exponent=0.9,
        popularity_offset=5.0,
    ),
    # The assignment's reduced set (1,079 users, ~68K movies, ~224.7K ratings after keeping
    # 150..300) plus 4,000 lighter and 20 heavier users so that the filter matters.
    "seed": SyntheticSize(
        name="seed",
        light=ActivityStratum(n_users=4_000, min_ratings=1, max_ratings=149, exponent=1.5),
        band=_IMDB_BAND,
        heavy=ActivityStratum(n_users=20, min_ratings=301, max_ratings=1_000, exponent=2.0),
        n_catalogue=_IMDB_CATALOGUE,
        popularity_exponent=_IMDB_POPULARITY_EXPONENT,
        popularity_offset=_IMDB_POPULARITY_OFFSET,
    ),
    # The whole original file: 1,499,238 users, ~351K movies, ~4.67M ratings. The light
    # exponent 2.1873 makes the light users' mean 2.57 ratings, so the total is 4,669,820 on
    # average; the heavy stratum continues the band's power law up to 2,000 ratings.
    "full": SyntheticSize(
        name="full",
        light=ActivityStratum(n_users=1_497_259, min_ratings=1, max_ratings=149, exponent=2.1873),
        band=_IMDB_BAND,
        heavy=ActivityStratum(n_users=900, min_ratings=301, max_ratings=2_000, exponent=2.0),
        n_catalogue=_IMDB_CATALOGUE,
        popularity_exponent=_IMDB_POPULARITY_EXPONENT,
        popularity_offset=_IMDB_POPULARITY_OFFSET,
    ),
    # The shape of MovieLens-10M (which cannot be downloaded here): 69,878 users, each with at
    # least 20 ratings (a power law up to 7,359 whose mean, 142.9, gives ~10.0M ratings), over
    # 10,677 movies with long-tailed popularity (the most popular ~32K ratings, the median
    # ~210, 14 % under 100). Written as a MovieLens ratings.csv with half stars (0.5..5):
    # :func:`write_movielens_csv`.
    "ml10m": SyntheticSize(
        name="ml10m",
        light=ActivityStratum(n_users=0, min_ratings=1, max_ratings=19, exponent=1.0),
        band=ActivityStratum(n_users=69_878, min_ratings=20, max_ratings=7_359, exponent=1.9),
        heavy=ActivityStratum(n_users=0, min_ratings=7_360, max_ratings=7_360, exponent=1.0),
        n_catalogue=10_677,
        popularity_exponent=1.4,
        popularity_offset=150.0,
    ),
}

#: Sizes written as a MovieLens ratings.csv (half stars) rather than a Dataset.npy.
MOVIELENS_SIZES = ("ml10m",)


@dataclass(frozen=True)
class SyntheticData:
    """Generated records and the ground truth behind them.

    ``records`` is what a ``Dataset.npy`` holds; ``user_labels[j]`` (``ur…``) belongs to
    planted taste group ``taste_groups[j]``, which clustering tests can compare against.
    """

    records: np.ndarray
    user_labels: np.ndarray
    taste_groups: np.ndarray


def generate_records(size: str = "tiny", seed: int = 0) -> np.ndarray:
    """Records ``user,item,rating,date`` as a 1-D ``<U`` array; same seed, same array."""
    return generate_dataset(size, seed).records


def generate_dataset(size: str = "tiny", seed: int = 0) -> SyntheticData:
    """Generate a data set of the named size (see :data:`SIZES`) with its ground truth."""
    spec = _size_spec(size)
    rng = np.random.default_rng(seed)
    user_of_rating, movies, ratings, days, taste_groups = _draw_all(rng, spec)
    n_users = taste_groups.size
    user_labels = _user_labels(rng, n_users)
    movie_labels = _movie_labels(rng, spec.n_catalogue)
    records = _format_records(user_labels, user_of_rating, movie_labels, movies, ratings, days)
    return SyntheticData(records=records, user_labels=user_labels, taste_groups=taste_groups)


def _draw_all(
    rng: np.random.Generator, spec: SyntheticSize
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user of each rating, movie rank, rating 1..10, day, taste group of each user)."""
    counts = _draw_activity(rng, spec)
    n_users = counts.size
    user_of_rating = np.repeat(np.arange(n_users), counts)
    taste_groups = rng.integers(spec.n_taste_groups, size=n_users)
    popularity = _movie_popularity(spec)
    genres = rng.integers(spec.n_taste_groups, size=spec.n_catalogue)
    movies = _draw_movies(rng, user_of_rating, taste_groups, popularity, genres)
    ratings = _draw_ratings(rng, user_of_rating, movies, taste_groups, genres)
    days = _draw_days(rng, counts, user_of_rating)
    return user_of_rating, movies, ratings, days, taste_groups


def movielens_frame(size: str = "ml10m", seed: int = 0) -> pd.DataFrame:
    """Generated ratings with MovieLens' columns (userId, movieId, rating in half stars
    0.5..5, timestamp): the same model as every size, the 1..10 score halved."""
    import pandas as pd

    spec = _size_spec(size)
    rng = np.random.default_rng(seed)
    user_of_rating, movies, ratings, days, _ = _draw_all(rng, spec)
    first = int(dt.datetime(FIRST_DATE.year, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    seconds = rng.integers(0, 86_400, size=days.size)
    return pd.DataFrame(
        {
            "userId": user_of_rating + 1,
            "movieId": movies + 1,
            "rating": ratings.astype(np.float32) / 2,
            "timestamp": first + days * 86_400 + seconds,
        }
    )


def write_movielens_csv(
    path: str | os.PathLike,
    size: str = "ml10m",
    seed: int = 0,
    *,
    frame: pd.DataFrame | None = None,
) -> Path:
    """:func:`movielens_frame` (or the ``frame`` it gave) as a MovieLens ``ratings.csv``,
    written atomically. Returns the path."""
    frame = movielens_frame(size, seed) if frame is None else frame
    path = Path(path)
    with atomic_write(path, "w") as handle:
        frame.to_csv(handle, index=False, float_format="%.1f")
    return path


def default_movielens_path(size: str = "ml10m", seed: int = 0) -> Path:
    """The generated MovieLens-shaped ``ratings.csv`` of ``size``, written once into the cache."""
    path = cache_dir() / "generated" / f"{size}-seed{seed}" / "ratings.csv"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_movielens_csv(path, size, seed)
    return path


def write_dataset_npy(path: str | os.PathLike, records: np.ndarray) -> Path:
    """Save records as ``.npy`` without pickle, atomically; returns the path written."""
    records = np.asarray(records)
    if records.ndim != 1 or records.dtype.kind != "U":
        raise DataError(
            f"records to write to {os.fspath(path)!r} must be a 1-D unicode array, "
            f"got shape {records.shape} and dtype {records.dtype}"
        )
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        np.save(handle, records, allow_pickle=False)
    return path


def cache_dir() -> Path:
    """Where clusterrec keeps generated data: ``$XDG_CACHE_HOME/clusterrec`` or
    ``~/.cache/clusterrec``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "clusterrec"


def default_dataset_path(size: str = "seed", seed: int = 0) -> Path:
    """The built-in default data: generated once into the cache, then reused.

    Generation is deterministic for (size, seed), so a cached file is the same data.
    """
    path = cache_dir() / "generated" / f"{size}-seed{seed}.npy"
    if not path.is_file():
        write_dataset_npy(path, generate_records(size, seed=seed))
    return path


def _size_spec(size: str) -> SyntheticSize:
    """Look up a size by name, or say which names are accepted."""
    try:
        return SIZES[size]
    except (KeyError, TypeError):
        accepted = ", ".join(SIZES)
        raise ConfigError(f"unknown synthetic data size {size!r}; accepted: {accepted}") from None


def _power_law(low: int, high: int, exponent: float) -> tuple[np.ndarray, np.ndarray]:
    """Values ``low..high`` and their probabilities under ``P(k) ∝ k^-exponent``."""
    values = np.arange(low, high + 1)
    weights = values.astype(np.float64) ** -exponent
    return values, weights / weights.sum()


def _draw_activity(rng: np.random.Generator, spec: SyntheticSize) -> np.ndarray:
    """Number of ratings of every user, strata mixed in random order."""
    parts = []
    for stratum in spec.strata:
        values, probabilities = _power_law(
            stratum.min_ratings, stratum.max_ratings, stratum.exponent
        )
        parts.append(rng.choice(values, size=stratum.n_users, p=probabilities))
    return rng.permutation(np.concatenate(parts))


def _movie_popularity(spec: SyntheticSize) -> np.ndarray:
    """Probability of each catalogue movie, by popularity rank (Zipf-Mandelbrot)."""
    ranks = np.arange(spec.n_catalogue, dtype=np.float64)
    weights = (ranks + spec.popularity_offset) ** -spec.popularity_exponent
    return weights / weights.sum()


def _sample_from(rng: np.random.Generator, probabilities: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with replacement from a discrete distribution (inverse CDF)."""
    cdf = np.cumsum(probabilities)
    picks = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.minimum(picks, probabilities.size - 1)


def _draw_movies(
    rng: np.random.Generator,
    user_of_rating: np.ndarray,
    taste_groups: np.ndarray,
    popularity: np.ndarray,
    genres: np.ndarray,
) -> np.ndarray:
    """Movie (catalogue rank) of every rating: popular movies and own-genre movies favoured."""
    n = user_of_rating.size
    movies = _sample_from(rng, popularity, n)
    from_own_genre = rng.random(n) < TASTE_SHARE
    group_of_rating = taste_groups[user_of_rating]
    for group in range(int(genres.max(initial=0)) + 1):
        slots = np.flatnonzero(from_own_genre & (group_of_rating == group))
        genre_movies = np.flatnonzero(genres == group)
        if slots.size and genre_movies.size:
            picks = _sample_from(rng, popularity[genre_movies], slots.size)
            movies[slots] = genre_movies[picks]
    _redraw_repeated_movies(rng, user_of_rating, movies, popularity)
    return movies


def _redraw_repeated_movies(
    rng: np.random.Generator,
    user_of_rating: np.ndarray,
    movies: np.ndarray,
    popularity: np.ndarray,
) -> None:
    """Redraw, in place, every movie a user already rated until each pair is unique.

    This is sampling without replacement done in vectorised rounds: each round finds the
    repeated (user, movie) pairs by sorting their keys and redraws the repeats from the whole
    catalogue. Only the users who had a repeat are checked again, so rounds get cheap fast.
    """
    n_movies = popularity.size
    n_users = int(user_of_rating.max(initial=-1)) + 1
    candidates = np.arange(user_of_rating.size)
    for _ in range(1_000):
        keys = user_of_rating[candidates].astype(np.int64) * n_movies + movies[candidates]
        order = np.argsort(keys, kind="stable")
        repeated = order[1:][keys[order[1:]] == keys[order[:-1]]]
        if repeated.size == 0:
            return
        slots = candidates[repeated]
        movies[slots] = _sample_from(rng, popularity, slots.size)
        affected = np.zeros(n_users, dtype=bool)
        affected[user_of_rating[slots]] = True
        candidates = np.flatnonzero(affected[user_of_rating])
    raise RuntimeError("could not make (user, movie) pairs unique; a user rates too many movies")


def _draw_ratings(
    rng: np.random.Generator,
    user_of_rating: np.ndarray,
    movies: np.ndarray,
    taste_groups: np.ndarray,
    genres: np.ndarray,
) -> np.ndarray:
    """Ratings 1..10: base + user bias + movie bias + taste effect + noise, rounded, clipped."""
    n_groups = int(max(taste_groups.max(initial=0), genres.max(initial=0))) + 1
    user_bias = rng.normal(0.0, USER_BIAS_SD, size=taste_groups.size)
    movie_bias = rng.normal(0.0, MOVIE_BIAS_SD, size=genres.size)
    own_genre = taste_groups[user_of_rating] == genres[movies]
    taste = np.where(own_genre, TASTE_BONUS, -TASTE_BONUS / max(n_groups - 1, 1))
    noise = rng.normal(0.0, NOISE_SD, size=movies.size)
    score = BASE_RATING + user_bias[user_of_rating] + movie_bias[movies] + taste + noise
    return np.clip(np.rint(score), 1, 10).astype(np.int8)


def _draw_days(
    rng: np.random.Generator, counts: np.ndarray, user_of_rating: np.ndarray
) -> np.ndarray:
    """Day of every rating (days since ``FIRST_DATE``), inside its user's active span."""
    n_days = (LAST_DATE - FIRST_DATE).days + 1
    spans = rng.lognormal(np.log(MEDIAN_SPAN_DAYS), SPAN_LOG_SD, size=counts.size)
    spans = np.minimum(np.rint(spans), n_days - 1).astype(np.int64)
    starts = rng.integers(0, n_days - spans)
    offsets = rng.random(user_of_rating.size) * (spans[user_of_rating] + 1)
    return starts[user_of_rating] + offsets.astype(np.int64)


def _distinct_integers(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct integers in ``low..high-1``, in random order."""
    return rng.choice(high - low, size=n, replace=False) + low


def _tight(strings: np.ndarray) -> np.ndarray:
    """The same strings in the narrowest ``<U`` dtype that holds them (cheaper to join)."""
    width = int(np.char.str_len(strings).max(initial=1))
    return strings.astype(f"<U{max(width, 1)}")


def _user_labels(rng: np.random.Generator, n_users: int) -> np.ndarray:
    """Distinct user ids such as ``ur4592644``."""
    numbers = _distinct_integers(rng, n_users, *USER_ID_RANGE)
    return _tight(np.char.add("ur", numbers.astype("<U")))


def _movie_labels(rng: np.random.Generator, n_movies: int) -> np.ndarray:
    """Distinct movie ids such as ``tt0120884``, in random order of popularity."""
    numbers = _distinct_integers(rng, n_movies, *MOVIE_ID_RANGE)
    return _tight(np.char.add("tt", np.char.zfill(numbers.astype("<U"), 7)))


def _rating_date_table() -> np.ndarray:
    """Every ``rating,date`` tail, indexed by ``(rating - 1) * n_days + day``."""
    n_days = (LAST_DATE - FIRST_DATE).days + 1
    first = FIRST_DATE.toordinal()
    dates = []
    for ordinal in range(first, first + n_days):
        day = dt.date.fromordinal(ordinal)
        dates.append(f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}")
    return np.array([f"{rating},{date}" for rating in range(1, 11) for date in dates])


def _format_records(
    user_labels: np.ndarray,
    user_of_rating: np.ndarray,
    movie_labels: np.ndarray,
    movies: np.ndarray,
    ratings: np.ndarray,
    days: np.ndarray,
) -> np.ndarray:
    """Join the fields into ``user,item,rating,date`` strings.

    Commas go onto the small label tables first and ``rating,date`` comes from one table, so
    only two joins run over all records.
    """
    n_days = (LAST_DATE - FIRST_DATE).days + 1
    users = np.char.add(user_labels, ",")[user_of_rating]
    movies_and_commas = np.char.add(movie_labels, ",")[movies]
    heads = np.char.add(users, movies_and_commas)
    del users, movies_and_commas
    tails = _rating_date_table()[(ratings.astype(np.int64) - 1) * n_days + days]
    return np.char.add(heads, tails)
