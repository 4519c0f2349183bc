"""The command line: JSON shapes, readable output, exit statuses, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clusterrec.cli import main

IMDB_LINES = [
    "ur1,tt0000001,10,16 January 2005",
    "ur1,tt0000002,7,5 March 2010",
    "ur2,tt0000001,3,1 December 1999",
    "ur1,tt0000001,8,17 January 2005",
]


def exit_status(argv: list[str]) -> int:
    """main's return value, or the status of the SystemExit argparse raises on usage errors."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_describe_json_shape_and_counts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "Dataset.npy"
    np.save(path, np.array(IMDB_LINES))
    payload = run_json(capsys, "describe", str(path), "--json", "--min-ratings", "2")
    assert payload["input"] == {
        "path": str(path),
        "format": "imdb-npy",
        "records": 4,
        "ratings": 3,
        "users": 2,
        "items": 2,
        "scale": "1..10 in steps of 1",
    }
    assert payload["kept"] == {"ratings": 2, "users": 1, "items": 2}
    dropped = payload["dropped"]
    assert (dropped["duplicates"], dropped["bad_records"], dropped["users_outside_range"]) == (
        1,
        0,
        1,
    )
    assert payload["statistics"]["ratings_per_user"]["median"] == 2


def test_describe_writes_both_histograms(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "u.data"
    path.write_text("1\t1\t5\t0\n1\t2\t4\t86400\n2\t1\t3\t0\n")
    payload = run_json(capsys, "describe", str(path), "--json", "--plots", str(tmp_path / "fig"))
    for name in ("ratings_per_user", "rating_span"):
        png = Path(payload["plots"][name])
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_describe_readable_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "u.data"
    path.write_text("1\t1\t5\t0\n1\t2\t4\t86400\n2\t1\t3\t0\n")
    assert main(["describe", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kept" in out and "3 ratings" in out and "span in days" in out


def test_skipped_bad_records_are_reported_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "u.data"
    path.write_text("1\t1\t5\t0\n1\t2\t0\t0\n2\t1\t3\t0\n")
    payload = run_json(capsys, "describe", str(path), "--json", "--on-bad-record", "skip")
    assert payload["dropped"]["bad_records"] == 1
    assert main(["describe", str(path), "--on-bad-record", "skip"]) == 0
    assert "u.data, line 2: rating 0 is not a rating" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["describe", "{missing}"], "no such file"),
        (["describe", "{bad}"], "line 2: rating is not a number"),
        (["describe", "{good}", "--min-ratings", "50"], "no user has 50..inf ratings"),
        (["describe", "{good}", "--min-ratings", "0"], "min_ratings must be"),
        (["describe", "{good}", "--format", "nope"], "invalid choice"),
        (["describe", "{good}", "--scale", "ten"], "rating scale 'ten' not understood"),
        (["nope"], "invalid choice"),
    ],
)
def test_user_errors_are_one_line_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], expected: str
) -> None:
    good = tmp_path / "u.data"
    good.write_text("1\t1\t5\t0\n")
    bad = tmp_path / "bad.data"
    bad.write_text("1\t1\t5\t0\n1\t2\tx\t0\n")
    paths = {"missing": tmp_path / "missing.csv", "bad": bad, "good": good}
    status = exit_status([a.format(**paths) for a in argv])
    err = capsys.readouterr().err
    assert status == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "clusterrec.cli", "describe", str(tmp_path / "nothing.npy")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"clusterrec: error: {tmp_path / 'nothing.npy'}: no such file"


def test_generate_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "tiny.npy"
    payload = run_json(capsys, "generate", "--out", str(out), "--size", "tiny", "--json")
    assert payload["records"] == len(np.load(out, allow_pickle=False))
    assert main(["generate", "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err


@pytest.mark.realdata
def test_describe_movielens_100k(ml100k_dir: Path, capsys: pytest.CaptureFixture) -> None:
    payload = run_json(
        capsys, "describe", str(ml100k_dir / "u.data"), "--json", "--min-ratings", "20"
    )
    assert payload["input"]["ratings"] == 100_000
    assert (payload["input"]["users"], payload["input"]["items"]) == (943, 1_682)
    assert payload["kept"]["users"] == 943  # every ML-100K user has at least 20 ratings
    assert payload["dropped"] == {
        **payload["dropped"],
        "duplicates": 0,
        "bad_records": 0,
        "users_outside_range": 0,
    }
