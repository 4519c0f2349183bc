"""Readers: every format on small files written here, items tables, empty and unknown
inputs, real data. What the readers do with bad records and duplicates: test_validation.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import IMDB_LINES, frame_of, write

from clusterrec.data.formats import detect_format
from clusterrec.data.readers import read_items, read_ratings
from clusterrec.errors import DataError

# -- each format ----------------------------------------------------------------------------------


def test_imdb_npy_strings(tmp_path: Path) -> None:
    path = tmp_path / "Dataset.npy"
    np.save(path, np.array(IMDB_LINES))
    ratings = read_ratings(path)
    assert ratings.source.format == "imdb-npy"
    assert frame_of(ratings) == [
        ("ur1", "tt0000001", 10.0, "2005-01-16"),
        ("ur1", "tt0000002", 7.0, "2010-03-05"),
        ("ur2", "tt0000001", 3.0, "1999-12-01"),
    ]
    assert (ratings.n_users, ratings.n_items) == (2, 2)
    assert str(ratings.scale) == "1..10 in steps of 1"


def test_imdb_npy_two_dimensional(tmp_path: Path) -> None:
    path = tmp_path / "fields.npy"
    np.save(path, np.array([line.split(",") for line in IMDB_LINES]))
    assert frame_of(read_ratings(path))[2] == ("ur2", "tt0000001", 3.0, "1999-12-01")


def test_imdb_npy_object_array_is_refused_with_a_way_out(tmp_path: Path) -> None:
    path = tmp_path / "Dataset.npy"
    np.save(path, np.array(IMDB_LINES, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"dtype object.*astype\(str\)"):
        read_ratings(path)


def test_imdb_npy_bad_row_is_named_by_index(tmp_path: Path) -> None:
    path = tmp_path / "Dataset.npy"
    np.save(path, np.array([*IMDB_LINES, "ur3,tt0000009,11,1 May 2001"]))
    with pytest.raises(DataError, match=r"Dataset.npy, row 3: rating outside the scale 1\.\.10"):
        read_ratings(path)


def test_imdb_npy_empty_element_is_a_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "Dataset.npy"
    np.save(path, np.array([IMDB_LINES[0], "", IMDB_LINES[1]]))
    with pytest.raises(DataError, match=r"row 1: empty record"):
        read_ratings(path)
    ratings = read_ratings(path, on_bad_record="skip")
    assert len(ratings) == 2 and ratings.source.bad_records == 1


def test_imdb_csv_text(tmp_path: Path) -> None:
    path = write(tmp_path, "records.csv", "\n".join(IMDB_LINES) + "\n")
    assert detect_format(path) == "imdb-csv"
    assert len(read_ratings(path)) == 3


def test_movielens_100k_layout(tmp_path: Path) -> None:
    path = write(tmp_path, "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    ratings = read_ratings(path)
    assert ratings.source.format == "ml-100k"
    assert list(ratings.user_labels) == ["196", "186"]
    assert ratings.time.tolist() == [881250949, 891717742]


def test_movielens_1m_layout(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    ratings = read_ratings(path)
    assert ratings.source.format == "ml-1m"
    assert ratings.rating.tolist() == [5.0, 3.0]
    assert list(ratings.item_labels) == ["1193", "661"]


def test_movielens_latest_half_stars_and_unnamed_columns(tmp_path: Path) -> None:
    text = "userId,movieId,rating,timestamp,,\n1,31,2.5,1260759144,,\n1,1029,0.5,1260759179,,9.1\n"
    ratings = read_ratings(write(tmp_path, "ratings.csv", text))
    assert ratings.source.format == "ml-latest"
    assert ratings.rating.tolist() == [2.5, 0.5]
    assert any(
        "1 records carry values in columns without a header name" in n for n in ratings.source.notes
    )


def test_generic_csv_with_named_columns(tmp_path: Path) -> None:
    text = "who;what;score;when\nalice;m1;4;2020-01-02\nbob;m1;2;2020-01-03T10:00:00\n"
    path = write(tmp_path, "any.txt", text.replace(";", ","))
    ratings = read_ratings(
        path, "csv", user_col="who", item_col="what", rating_col="score", time_col="when"
    )
    assert frame_of(ratings) == [
        ("alice", "m1", 4.0, "2020-01-02"),
        ("bob", "m1", 2.0, "2020-01-03"),
    ]


def test_generic_csv_guesses_common_column_names_and_time_is_optional(tmp_path: Path) -> None:
    ratings = read_ratings(write(tmp_path, "r.csv", "user_id,item_id,rating\nu,i,5\nv,i,1\n"))
    assert ratings.time is None and len(ratings) == 2


def test_generic_missing_column_names_the_choices(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "a,b,c\nu,i,5\n")
    with pytest.raises(
        DataError, match=r"r.csv: cannot tell which column holds the user.*--user-col"
    ):
        read_ratings(path)
    with pytest.raises(DataError, match=r"no column 'zz' for the rating"):
        read_ratings(path, user_col="a", item_col="b", rating_col="zz")


def test_tsv_and_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user": ["u1", "u2"],
            "item": [10, 11],
            "rating": [4.5, 3.0],
            "time": pd.to_datetime(["2001-01-01", "2002-02-02"]),
        }
    )
    frame.to_parquet(tmp_path / "r.parquet")
    parquet = read_ratings(tmp_path / "r.parquet")
    assert parquet.source.format == "parquet"
    assert frame_of(parquet) == [("u1", "10", 4.5, "2001-01-01"), ("u2", "11", 3.0, "2002-02-02")]
    frame.assign(time=frame["time"].astype("datetime64[s]").astype("int64")).to_csv(
        tmp_path / "r.tsv", sep="\t", index=False
    )
    assert frame_of(read_ratings(tmp_path / "r.tsv")) == frame_of(parquet)


def test_items_tables(tmp_path: Path) -> None:
    tsv = write(tmp_path, "items.tsv", "item_id\ttitle\tyear\n1\tToy Story\t1995\n")
    csv = write(tmp_path, "movies.csv", 'movieId,title,genres\n2,"Jumanji, The (1995)",Adventure\n')
    pipe = tmp_path / "u.item"
    pipe.write_bytes("3|Four Rooms (1995)|01-Jan-1995\n4|Caf\xe9 (1994)|x\n".encode("latin-1"))
    assert read_items(tsv).to_dict() == {"1": "Toy Story"}
    assert read_items(csv).to_dict() == {"2": "Jumanji, The (1995)"}
    assert read_items(pipe).to_dict() == {"3": "Four Rooms (1995)", "4": "Caf\xe9 (1994)"}


# -- empty and unknown inputs ---------------------------------------------------------------------


def test_empty_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        read_ratings(write(tmp_path, "u.data", ""))
    with pytest.raises(DataError, match="empty"):
        read_ratings(write(tmp_path, "r.csv", "user,item,rating\n"))
    np.save(tmp_path / "e.npy", np.array([], dtype="U10"))
    with pytest.raises(DataError, match="empty"):
        read_ratings(tmp_path / "e.npy")
    with pytest.raises(DataError, match="no such file"):
        read_ratings(tmp_path / "missing.csv")


def test_unknown_format_lists_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown format 'xls'; accepted: imdb-npy, imdb-csv"):
        read_ratings(write(tmp_path, "u.data", "1\t1\t5\t1\n"), "xls")


# -- real data ------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_movielens_100k_counts(ml100k_dir: Path) -> None:
    ratings = read_ratings(ml100k_dir / "u.data")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_000, 943, 1_682)
    assert ratings.source.bad_records == 0 and ratings.source.duplicates == 0
    assert ratings.rating.mean() == pytest.approx(3.52986, abs=1e-5)
    titles = read_items(ml100k_dir / "items.tsv")
    assert len(titles) == 1_682 and titles["1"] == "Toy Story"


@pytest.mark.realdata
def test_movielens_latest_small_counts(ml_latest_small: Path) -> None:
    ratings = read_ratings(ml_latest_small)
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_004, 671, 9_066)
    assert str(ratings.scale) == "0.5..5 in steps of 0.5"
    notes = " ".join(ratings.source.notes)
    assert re.search(r"\b2 records carry values in columns without a header name", notes)
