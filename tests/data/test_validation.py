"""Validation of what the readers parsed: bad records (stop or skip, named by file, line and
text), duplicates, record numbers, ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import IMDB_LINES, frame_of, write

from clusterrec.data.readers import read_ratings
from clusterrec.errors import DataError

# -- bad records ----------------------------------------------------------------------------------

BAD_CASES = [
    ("ur9,tt0000009,7", "expected 4 fields, found 3"),
    ("ur9,tt0000009,7,1 May 2001,extra", "expected 4 fields, found 5"),
    ("ur9,tt0000009,abc,1 May 2001", "rating is not a number"),
    ("ur9,tt0000009,NaN,1 May 2001", "rating is not a number"),
    ("ur9,tt0000009,11,1 May 2001", "rating outside the scale"),
    ("ur9,tt0000009,7.5,1 May 2001", "rating outside the scale"),
    ("ur9,tt0000009,0,1 May 2001", "rating 0 is not a rating"),
    (",tt0000009,7,1 May 2001", "empty user id"),
    ("ur9,,7,1 May 2001", "empty item id"),
    ("ur9,tt0000009,7,32 May 2001", "date does not match"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_CASES)
def test_bad_record_stops_the_read_naming_file_line_and_text(
    tmp_path: Path, line: str, problem: str
) -> None:
    path = write(tmp_path, "records.csv", "\n".join([*IMDB_LINES[:2], line, IMDB_LINES[2]]) + "\n")
    with pytest.raises(DataError) as caught:
        read_ratings(path, "imdb-csv")
    message = str(caught.value)
    assert message.startswith("records.csv, line 3: ")
    assert problem in message
    assert repr(line) in message


@pytest.mark.parametrize(("line", "problem"), BAD_CASES)
def test_skip_counts_and_reports_bad_records(tmp_path: Path, line: str, problem: str) -> None:
    path = write(tmp_path, "records.csv", "\n".join([*IMDB_LINES[:2], line, IMDB_LINES[2]]) + "\n")
    ratings = read_ratings(path, "imdb-csv", on_bad_record="skip")
    assert len(ratings) == 3
    assert ratings.source.bad_records == 1
    assert ratings.source.records == 4
    (example,) = ratings.source.bad_examples
    assert example.location == "records.csv, line 3" and problem in example.problem


def test_first_bad_record_in_file_order_wins_and_others_are_counted(tmp_path: Path) -> None:
    lines = [IMDB_LINES[0], "a,b,c,1 May 2001", "only,three,fields", "ur5,tt1,0,1 May 2001"]
    path = write(tmp_path, "records.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 2: rating is not a number.*2 more bad records"):
        read_ratings(path, "imdb-csv")
    report = read_ratings(path, "imdb-csv", on_bad_record="skip").source
    assert [e.location for e in report.bad_examples] == [
        "records.csv, line 2",
        "records.csv, line 3",
        "records.csv, line 4",
    ]


def test_blank_lines_in_text_are_not_records(tmp_path: Path) -> None:
    path = write(tmp_path, "records.csv", IMDB_LINES[0] + "\n\n" + IMDB_LINES[1] + "\n\n")
    ratings = read_ratings(path, "imdb-csv")
    assert len(ratings) == 2 and ratings.source.bad_records == 0


def test_declared_scale_is_enforced(tmp_path: Path) -> None:
    path = write(tmp_path, "u.data", "1\t1\t5\t1\n2\t1\t4\t1\n")
    with pytest.raises(DataError, match=r"line 1: rating outside the scale 1\.\.4"):
        read_ratings(path, scale="1,4")


# -- duplicates -----------------------------------------------------------------------------------


def test_duplicates_keep_the_latest_by_time(tmp_path: Path) -> None:
    lines = [
        "ur1,tt1,4,1 May 2005",
        "ur1,tt1,9,1 May 2007",  # latest: kept
        "ur1,tt1,2,1 May 2006",
        "ur2,tt1,5,1 May 2005",
    ]
    ratings = read_ratings(write(tmp_path, "d.csv", "\n".join(lines) + "\n"), "imdb-csv")
    assert ratings.source.duplicates == 2
    assert sorted(frame_of(ratings)) == [
        ("ur1", "tt1", 9.0, "2007-05-01"),
        ("ur2", "tt1", 5.0, "2005-05-01"),
    ]


def test_duplicates_without_times_keep_the_last_seen(tmp_path: Path) -> None:
    text = "user,item,rating\nu,i,1\nu,i,3\nu,j,2\nu,i,2\n"
    ratings = read_ratings(write(tmp_path, "d.csv", text))
    assert ratings.source.duplicates == 2
    assert dict(
        zip(ratings.to_frame()["item"].astype(str), ratings.rating.tolist(), strict=True)
    ) == {"i": 2.0, "j": 2.0}


def test_duplicates_with_equal_times_keep_the_last_seen(tmp_path: Path) -> None:
    text = "1\t1\t1\t100\n1\t1\t4\t100\n"
    assert read_ratings(write(tmp_path, "u.data", text)).rating.tolist() == [4.0]


# -- records and ids ------------------------------------------------------------------------------


def test_record_numbers_follow_the_file_even_after_drops(tmp_path: Path) -> None:
    lines = [
        IMDB_LINES[0],  # record 0
        "too,few,fields",  # record 1: rejected by the parser
        "",  # a blank line is not a record
        "ur7,tt0000007,0,1 May 2001",  # record 2: rating 0
        IMDB_LINES[1],  # record 3
        "ur1,tt0000001,9,1 May 2001",  # record 4: an older duplicate of record 0
        IMDB_LINES[2],  # record 5
    ]
    path = write(tmp_path, "records.csv", "\n".join(lines) + "\n")
    ratings = read_ratings(path, "imdb-csv", on_bad_record="skip")
    assert ratings.record.tolist() == [0, 3, 5]
    assert ratings.take(np.array([False, True, True])).record.tolist() == [3, 5]
    npy = tmp_path / "Dataset.npy"
    np.save(npy, np.array([IMDB_LINES[0], "", "x,y", IMDB_LINES[1]]))
    assert read_ratings(npy, on_bad_record="skip").record.tolist() == [0, 3]


def test_ids_with_surrounding_spaces_are_the_same_id(tmp_path: Path) -> None:
    text = "user,item,rating\nu1,i1,4\n u1 ,i2,3\nu2, i1,5\n"
    ratings = read_ratings(write(tmp_path, "r.csv", text))
    assert list(ratings.user_labels) == ["u1", "u2"] and list(ratings.item_labels) == ["i1", "i2"]
    assert ratings.counts_per_user().tolist() == [2, 1]
