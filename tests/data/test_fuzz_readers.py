"""Fuzzing every reader of a user's file: on any bytes, `Ratings` or one `DataError` (or
`ConfigError`) naming the file, never another exception; and the CLI says it in one line with
exit status 2. Bounded (derandomized, fixed numbers of examples) to a few seconds in CI;
``benchmarks/fuzz_readers.py`` sweeps 10,000 inputs."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from fuzzing import (
    NASTY,
    NPY_HEADERS,
    check_input,
    insert,
    long_line,
    mixed_line_endings,
    npy_arrays,
    npy_with_header,
    parquet_tables,
    set_byte,
    truncate,
    valid_files,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusterrec.cli import main
from clusterrec.data.ratings import Ratings
from clusterrec.data.readers import read_items
from clusterrec.errors import ClusterrecError, DataError
from clusterrec.evaluation.splits import load_split_file
from clusterrec.run.config import RunConfig, load_config

CORPUS = Path(__file__).parent / "corpus"
VALID = valid_files()
NAMES = sorted(VALID)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Each corpus file (the nastiest inputs found by fuzzing, and the issue's two) and what
#: reading it says: part of the DataError, or "Ratings N" when it is read.
CORPUS_EXPECTED = {
    "Dataset-first-200-bytes.npy": "the file is cut short: its header announces an array of "
    "shape (50,)",
    "any-rating-huge.csv": "fit none of the known scales",
    "csv-unbalanced-quote.csv": "line 5: a quoted field runs over the end of the line",
    "fields-npy-bad-code-point.npy": "row 4: holds no valid Unicode text",
    "fields-npy-cut-short.npy": "the file is cut short",
    "imdb-id-not-ur.csv": "line 5: user id is not 'ur' and digits",
    "ml-latest-bom-crlf.csv": "Ratings 6",
    "ml1m-mutated.dat": "line 7: expected 4 fields, found 1",
    "npy-cut-short.npy": "the file is cut short",
    "npy-header-unclosed.npy": "not a readable .npy file",
    "npy-huge-shape.npy": "the file is cut short: its header announces an array of shape "
    "(9999999999,)",
    "npy-negative-shape.npy": "not a readable .npy file (shape (-3,))",
    "npy-object.npy": "dtype object",
    "npy-surrogate.npy": "row 0: holds no valid Unicode text",
    "parquet-binary-not-utf8.parquet": "cannot be read as text (Invalid UTF8 payload)",
    "parquet-bom.parquet": "not a readable Parquet file",
    "parquet-corrupt-page.parquet": "not a readable Parquet file",
    "parquet-list-column.parquet": "holds list<element: int64>",
    "parquet-null-ids.parquet": "holds null",
    "parquet-nulls.parquet": "holds null",
    "parquet-struct-column.parquet": "holds struct<a: int64>",
    "random-4k.bin": "line 1: not UTF-8 text",
    "random-bytes.csv": "line 1: not UTF-8 text",
    "tsv-carriage-return.tsv": "line 3: expected 4 fields, found 1",
    "u-data-cr-only.data": "Ratings 6",
    "u-data-id-not-integer.data": "line 4: user id is not a whole number",
    "u-data-not-utf8.data": "line 5: not UTF-8 text (byte 0xff)",
    "u-data-nul.data": "line 2: time is not whole unix seconds",
    "u-data-time-huge.data": "line 4: time is not whole unix seconds (of the years 1698 to 2242)",
}


@pytest.fixture(autouse=True)
def _quiet() -> None:
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def _outcome(path: Path, data: bytes) -> Ratings | DataError:
    return check_input(path, data)  # raises anything but a DataError naming the file


# -- the corpus and the issue's two files ---------------------------------------------------------


def test_the_corpus_is_what_the_table_lists() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(CORPUS_EXPECTED)


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_file_gives_ratings_or_a_data_error_naming_file_and_line(
    name: str, tmp_path: Path
) -> None:
    result = _outcome(tmp_path / name, (CORPUS / name).read_bytes())
    said = f"Ratings {len(result)}" if isinstance(result, Ratings) else str(result)
    assert CORPUS_EXPECTED[name] in said


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("random-4k.bin", "random-4k.bin, line 1: not UTF-8 text"),
        ("Dataset-first-200-bytes.npy", "Dataset-first-200-bytes.npy: the file is cut short"),
    ],
)
def test_the_issues_two_files_give_one_line_and_exit_2(
    name: str, said: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["describe", str(CORPUS / name)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("clusterrec: error: ") and said in err


def test_valid_files_of_every_format_are_read(tmp_path: Path) -> None:
    for name, data in VALID.items():
        result = _outcome(tmp_path / name, data)
        assert isinstance(result, Ratings) and len(result) == 6, (name, result)


# -- generated inputs -----------------------------------------------------------------------------

files = st.sampled_from(NAMES)
positions = st.integers(0, 1 << 20)


@FUZZ
@given(name=files, data=st.binary(max_size=4096))
def test_random_bytes(tmp_path: Path, name: str, data: bytes) -> None:
    _outcome(tmp_path / name, data)


@FUZZ
@given(name=files, at=positions)
def test_every_format_truncated_anywhere(tmp_path: Path, name: str, at: int) -> None:
    _outcome(tmp_path / name, truncate(VALID[name], at))


@FUZZ
@given(
    name=files, changes=st.lists(st.tuples(positions, st.integers(0, 255)), min_size=1, max_size=3)
)
def test_single_byte_mutations(tmp_path: Path, name: str, changes: list) -> None:
    data = VALID[name]
    for at, value in changes:
        data = set_byte(data, at, value)
    _outcome(tmp_path / name, data)


@FUZZ
@given(name=files, at=positions, piece=st.sampled_from(NASTY) | st.binary(min_size=1, max_size=16))
def test_inserted_nul_invalid_utf8_quotes_and_separators(
    tmp_path: Path, name: str, at: int, piece: bytes
) -> None:
    _outcome(tmp_path / name, insert(VALID[name], at, piece))


@FUZZ
@given(name=files, pattern=st.integers(0, (1 << 32) - 1), bom=st.booleans())
def test_mixed_line_endings_and_a_bom(tmp_path: Path, name: str, pattern: int, bom: bool) -> None:
    data = mixed_line_endings(VALID[name], pattern)
    _outcome(tmp_path / name, (b"\xef\xbb\xbf" if bom else b"") + data)


@settings(FUZZ, max_examples=15)
@given(name=files, at=positions, length=st.integers(1, 1 << 17), byte=st.integers(0, 255))
def test_very_long_lines(tmp_path: Path, name: str, at: int, length: int, byte: int) -> None:
    _outcome(tmp_path / name, long_line(VALID[name], at, length, byte))


@FUZZ
@given(
    header=st.sampled_from(NPY_HEADERS) | st.binary(max_size=80),
    body=st.integers(0, 800),
    version=st.sampled_from([1, 2]),
)
def test_npy_with_wrong_headers_and_truncated_data(
    tmp_path: Path, header: bytes, body: int, version: int
) -> None:
    data = npy_with_header(header, VALID["Dataset.npy"][128 : 128 + body], version)
    _outcome(tmp_path / "Dataset.npy", data)


@FUZZ
@given(seed=st.integers(0, 1 << 31))
def test_npy_of_wrong_shapes_dtypes_and_contents(tmp_path: Path, seed: int) -> None:
    _outcome(tmp_path / "Dataset.npy", npy_arrays(np.random.default_rng(seed)))


@settings(FUZZ, max_examples=30)
@given(seed=st.integers(0, 1 << 31))
def test_parquet_with_missing_or_wrongly_typed_columns(tmp_path: Path, seed: int) -> None:
    result = _outcome(tmp_path / "ratings.parquet", parquet_tables(np.random.default_rng(seed)))
    assert isinstance(result, DataError)


# -- where a format defines its fields, a field off the definition is a bad record ----------------


@pytest.mark.parametrize(
    ("name", "old", "new", "said"),
    [
        ("u.data", b"2\t13", b"2.0\t13", "line 4: user id is not a whole number"),
        ("ratings.dat", b"::13::", b"::x13::", "line 4: item id is not a whole number"),
        ("ratings.csv", b"3,14", b"3,-14", "line 7: item id is not a whole number"),
        ("imdb.csv", b"ur2,tt0000013", b"ur2,0000013", "line 4: item id is not 'tt' and digits"),
        (
            "Dataset.npy",
            "ur3,tt0000014".encode("utf-32-le"),
            "uR3,tt0000014".encode("utf-32-le"),
            "row 5: user id is not 'ur' and digits",
        ),
        ("u.data", b"878887116", b"878887116.5", "line 4: time is not whole unix seconds"),
        ("u.data", b"878887116", b"-9999999999", "line 4: time is not whole unix seconds"),
    ],
)
def test_a_field_off_its_format_is_a_bad_record_not_a_new_id(
    tmp_path: Path, name: str, old: bytes, new: bytes, said: str
) -> None:
    assert VALID[name].count(old) == 1
    result = _outcome(tmp_path / name, VALID[name].replace(old, new))
    assert isinstance(result, DataError) and said in str(result)


def test_skipping_a_field_off_its_format_counts_it(tmp_path: Path) -> None:
    from clusterrec.data.readers import read_ratings

    path = tmp_path / "u.data"
    path.write_bytes(VALID["u.data"].replace(b"2\t13", b"2x\t13"))
    ratings = read_ratings(path, on_bad_record="skip")
    assert len(ratings) == 5 and ratings.source.bad_records == 1
    assert "2x" not in list(ratings.user_labels)


# -- the other files a user hands over ------------------------------------------------------------

TOML = RunConfig().to_toml().encode()
SPLIT = io.BytesIO()
np.save(SPLIT, np.arange(6) % 2)
ITEMS = {
    "items.tsv": b"item_id\ttitle\n1\tToy Story (1995)\n2\tGoldenEye (1995)\n",
    "movies.csv": b'movieId,title,genres\n1,"Toy Story (1995)",Comedy\n2,Jumanji (1995),Fantasy\n',
    "u.item": b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0\n2|GoldenEye (1995)|x|y\n",
}
OTHERS = {
    "run.toml": (TOML, load_config),
    "split.npy": (SPLIT.getvalue(), lambda path: load_split_file(path, 6, 2)),
    **{name: (data, read_items) for name, data in ITEMS.items()},
}


def _mutated(draw: st.DrawFn, data: bytes) -> bytes:
    how = draw(st.sampled_from(["random", "truncate", "byte", "insert", "bom", "npy"]))
    at = draw(positions)
    if how == "random":
        return draw(st.binary(max_size=512))
    if how == "truncate":
        return truncate(data, at)
    if how == "byte":
        return set_byte(data, at, draw(st.integers(0, 255)))
    if how == "insert":
        return insert(data, at, draw(st.sampled_from(NASTY)))
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    return npy_with_header(
        draw(st.sampled_from(NPY_HEADERS)), data[128:][: draw(st.integers(0, 64))]
    )


@settings(FUZZ, max_examples=120)
@given(name=st.sampled_from(sorted(OTHERS)), data=st.data())
def test_config_split_and_items_files(tmp_path: Path, name: str, data: st.DataObject) -> None:
    original, read = OTHERS[name]
    path = tmp_path / name
    path.write_bytes(_mutated(data.draw, original))
    try:
        read(path)
    except ClusterrecError as error:
        assert name in str(error)


def test_the_other_files_unchanged_are_read(tmp_path: Path) -> None:
    for name, (data, read) in OTHERS.items():
        (tmp_path / name).write_bytes(data)
        assert read(tmp_path / name) is not None


def test_a_config_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_bytes(b"seed = 1\n# caf\xe9\n")
    with pytest.raises(ClusterrecError, match=r"run.toml, line 2: not UTF-8"):
        load_config(path)
