"""Synthetic data in the format of the assignment's IMDB ``Dataset.npy``."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from clusterrec.data.synthetic import (
    SIZES,
    generate_dataset,
    generate_records,
    write_dataset_npy,
)
from clusterrec.errors import ConfigError, DataError

RECORD = re.compile(r"^ur\d+,tt\d{7},(10|[1-9]),[1-9]\d? [A-Z][a-z]+ \d{4}$")
MONTHS = {
    name: number
    for number, name in enumerate(
        "January February March April May June July August September October November "
        "December".split(),
        start=1,
    )
}
ORIGINAL_REDUCED = {"users": 1_079, "movies": 68_084, "ratings": 224_704}
ORIGINAL_FULL = {"users": 1_499_238, "movies": 351_109, "ratings": 4_669_820}


def fields(records: np.ndarray) -> pd.DataFrame:
    """Split records into user, movie, rating and date columns (a reference parser)."""
    parts = pd.Series(records, dtype="string[pyarrow]").str.split(",", n=3, expand=True)
    parts.columns = ["user", "movie", "rating", "date"]
    return parts.assign(rating=parts["rating"].astype(int))


def counts_in_range(frame: pd.DataFrame, low: int, high: int) -> dict[str, int]:
    """Users, movies and ratings left after keeping users with ``low..high`` ratings."""
    per_user = frame.groupby("user")["movie"].transform("size")
    kept = frame[(per_user >= low) & (per_user <= high)]
    return {
        "users": kept["user"].nunique(),
        "movies": kept["movie"].nunique(),
        "ratings": len(kept),
    }


def parse_date(text: str) -> dt.date:
    """``16 January 2005`` -> date, without the locale that ``%B`` depends on."""
    day, month, year = text.split(" ")
    return dt.date(int(year), MONTHS[month], int(day))


@pytest.fixture(scope="module")
def tiny() -> np.ndarray:
    return generate_records("tiny", seed=0)


@pytest.fixture(scope="module")
def tiny_fields(tiny: np.ndarray) -> pd.DataFrame:
    return fields(tiny)


def test_same_seed_gives_the_same_records(tiny: np.ndarray) -> None:
    np.testing.assert_array_equal(generate_records("tiny", seed=0), tiny)


def test_different_seeds_give_different_records(tiny: np.ndarray) -> None:
    other = generate_records("tiny", seed=1)
    assert other.shape != tiny.shape or not np.array_equal(other, tiny)


def test_unknown_size_names_the_accepted_sizes() -> None:
    with pytest.raises(ConfigError, match="tiny, seed, full"):
        generate_records("huge")


def test_records_are_a_1d_unicode_array(tiny: np.ndarray) -> None:
    assert tiny.ndim == 1
    assert tiny.dtype.kind == "U"
    assert tiny.dtype != np.dtype(object)


def test_every_record_has_the_imdb_format(tiny: np.ndarray) -> None:
    bad = [record for record in tiny.tolist() if not RECORD.match(record)]
    assert bad == []


def test_no_user_rates_a_movie_twice(tiny_fields: pd.DataFrame) -> None:
    assert not tiny_fields.duplicated(["user", "movie"]).any()


def test_ratings_are_1_to_10_with_mean_near_7(tiny_fields: pd.DataFrame) -> None:
    ratings = tiny_fields["rating"]
    assert ratings.between(1, 10).all()
    assert abs(ratings.mean() - 7.0) < 0.3
    assert ratings.nunique() >= 8


def test_dates_lie_in_1998_to_2020(tiny_fields: pd.DataFrame) -> None:
    dates = [parse_date(text) for text in tiny_fields["date"].unique()]
    assert min(dates) >= dt.date(1998, 1, 1)
    assert max(dates) <= dt.date(2020, 12, 31)


def test_tiny_has_users_on_both_sides_of_its_band(tiny_fields: pd.DataFrame) -> None:
    spec = SIZES["tiny"]
    per_user = tiny_fields.groupby("user").size()
    assert len(per_user) == spec.n_users
    assert (per_user < spec.band.min_ratings).sum() == spec.light.n_users
    assert (per_user > spec.band.max_ratings).sum() == spec.heavy.n_users


def test_user_labels_and_taste_groups_describe_the_records(tiny_fields: pd.DataFrame) -> None:
    data = generate_dataset("tiny", seed=0)
    assert len(set(data.user_labels.tolist())) == data.user_labels.size
    assert set(data.user_labels.tolist()) == set(tiny_fields["user"].unique())
    assert set(data.taste_groups.tolist()) <= set(range(SIZES["tiny"].n_taste_groups))


def test_users_of_one_taste_group_share_more_movies() -> None:
    """The planted groups are visible to Jaccard: more overlap inside a group than across."""
    data = generate_dataset("tiny", seed=0)
    frame = fields(data.records)
    user_index = pd.Index(data.user_labels).get_indexer(frame["user"])
    movie_index = pd.factorize(frame["movie"])[0]
    rated = sp.csr_matrix((np.ones(len(frame)), (user_index, movie_index)))
    common = (rated @ rated.T).toarray()
    sizes = np.diag(common)
    jaccard = common / (sizes[:, None] + sizes[None, :] - common)
    same = data.taste_groups[:, None] == data.taste_groups[None, :]
    np.fill_diagonal(same, False)
    different = data.taste_groups[:, None] != data.taste_groups[None, :]
    assert jaccard[same].mean() > 1.1 * jaccard[different].mean()


def test_written_file_loads_back_without_pickle(tiny: np.ndarray, tmp_path) -> None:
    path = write_dataset_npy(tmp_path / "sub" / "Dataset.npy", tiny)
    assert path == tmp_path / "sub" / "Dataset.npy"
    loaded = np.load(path, allow_pickle=False)
    assert loaded.dtype == tiny.dtype
    np.testing.assert_array_equal(loaded, tiny)
    assert [p.name for p in path.parent.iterdir()] == ["Dataset.npy"]


def test_writing_an_object_array_is_refused(tmp_path) -> None:
    with pytest.raises(DataError, match="unicode"):
        write_dataset_npy(tmp_path / "x.npy", np.array(["a", "b"], dtype=object))
    assert not (tmp_path / "x.npy").exists()


def test_seed_size_matches_the_assignments_reduced_set() -> None:
    frame = fields(generate_records("seed", seed=0))
    assert not frame.duplicated(["user", "movie"]).any()
    kept = counts_in_range(frame, 150, 300)
    for key, target in ORIGINAL_REDUCED.items():
        assert kept[key] == pytest.approx(target, rel=0.03), key
    per_user = frame.groupby("user").size()
    assert (per_user < 150).sum() > 1_000
    assert (per_user > 300).sum() > 0
    assert abs(frame["rating"].mean() - 7.0) < 0.1


@pytest.mark.slow
def test_full_size_matches_the_original_file_before_and_after_filtering() -> None:
    frame = fields(generate_records("full", seed=0))
    before = {
        "users": frame["user"].nunique(),
        "movies": frame["movie"].nunique(),
        "ratings": len(frame),
    }
    for key, target in ORIGINAL_FULL.items():
        assert before[key] == pytest.approx(target, rel=0.03), key
    kept = counts_in_range(frame, 150, 300)
    for key, target in ORIGINAL_REDUCED.items():
        assert kept[key] == pytest.approx(target, rel=0.03), key


def test_generate_then_read_round_trip(tiny: np.ndarray, tmp_path) -> None:
    from clusterrec.data.filtering import filter_users
    from clusterrec.data.readers import read_ratings

    path = write_dataset_npy(tmp_path / "Dataset.npy", tiny)
    ratings = read_ratings(path)
    reference = fields(tiny)
    assert (len(ratings), ratings.n_users, ratings.n_items) == (
        len(reference),
        reference["user"].nunique(),
        reference["movie"].nunique(),
    )
    frame = ratings.to_frame()
    assert (frame["user"].astype(str).to_numpy() == reference["user"].to_numpy()).all()
    assert (frame["rating"].to_numpy() == reference["rating"].to_numpy()).all()
    dates = frame["time"].dt.date.to_numpy()
    assert (dates == np.array([parse_date(d) for d in reference["date"]])).all()
    kept, _ = filter_users(ratings, 5, 60)
    expected = counts_in_range(reference, 5, 60)
    assert (kept.n_users, kept.n_items, len(kept)) == (
        expected["users"],
        expected["movies"],
        expected["ratings"],
    )


def test_movielens_shaped_csv_has_half_stars_and_reads_back(tmp_path) -> None:
    """The ML-10M-shaped writer on the tiny size: MovieLens' columns, ratings 0.5..5 in half
    stars (the 1..10 score halved, so each record matches the Dataset.npy draw), read back by
    the MovieLens reader with every record kept."""
    from clusterrec import read_ratings
    from clusterrec.data.synthetic import generate_records, write_movielens_csv

    path = write_movielens_csv(tmp_path / "ratings.csv", "tiny", seed=3)
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert frame["rating"].between(0.5, 5).all() and ((frame["rating"] * 2) % 1 == 0).all()
    scores = np.array([int(r.split(",")[2]) for r in generate_records("tiny", seed=3)])
    np.testing.assert_array_equal(np.sort(frame["rating"] * 2), np.sort(scores))
    ratings = read_ratings(path)
    assert len(ratings) == len(frame) and ratings.scale.step == 0.5


def test_the_ml10m_size_has_the_shape_of_movielens_10m() -> None:
    from clusterrec.data.synthetic import SIZES

    spec = SIZES["ml10m"]
    assert spec.n_users == 69_878 and spec.n_catalogue == 10_677
    assert 9.5e6 < spec.expected_ratings() < 10.5e6
    assert spec.band.min_ratings == 20  # as in MovieLens-10M: every user has >= 20 ratings
