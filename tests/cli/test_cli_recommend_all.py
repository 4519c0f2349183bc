"""``clusterrec recommend MODEL --all``: a table for every user, the same lists as the library
call, written atomically as .parquet or .csv; a bad --out is one line and status 2. And
``--ratings my.csv``: a new user folded in, the same list as ``recommend_new``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from clusterrec.cli import main
from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained by ``clusterrec train`` on a small u.data-style file (40 users)."""
    rng = np.random.default_rng(1)
    lines = []
    for user in range(40):
        for item in rng.choice(30, size=rng.integers(8, 20), replace=False):
            rating = int(np.clip(round(3 + (item % 2 - 0.5) * 2 + rng.normal(0, 0.7)), 1, 5))
            lines.append(f"{user + 1}\t{item + 1}\t{rating}\t{880000000 + int(item)}")
    folder = tmp_path_factory.mktemp("data")
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    out = folder / "model"
    argv = ["train", str(folder / "u.data"), "--clusters", "2", "--preset", "notebook"]
    assert main([*argv, "--test-share", "0", "--out", str(out), "--no-progress"]) == 0
    return out


run = run_cli


@pytest.mark.parametrize("name", ["recs.parquet", "recs.csv"])
def test_recommend_all_writes_the_library_table(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    capsys.readouterr()
    out = tmp_path / name
    status, stdout, _ = run(
        capsys, "recommend", str(model_dir), "--all", "-n", "3", "--out", str(out), "--json"
    )
    assert status == 0
    summary = json.loads(stdout)
    assert (summary["users"], summary["rows"], summary["n"]) == (40, 120, 3)
    table = (
        pd.read_parquet(out)
        if name.endswith(".parquet")
        else pd.read_csv(out, dtype={"user": str, "item": str})
    )
    expected = ClusterNeighborRecommender.load(model_dir).recommend_all(3)
    assert list(table.columns) == ["user", "rank", "item", "predicted_rating", "fallback"]
    assert table["user"].astype(str).tolist() == expected["user"].tolist()
    assert table["item"].astype(str).tolist() == expected["item"].tolist()
    assert table["rank"].tolist() == expected["rank"].tolist()
    np.testing.assert_allclose(table["predicted_rating"], expected["predicted_rating"], rtol=1e-6)
    assert not list(tmp_path.glob(".*part"))  # no temporary file left behind


def test_recommend_all_to_stdout(model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    status, stdout, _ = run(capsys, "recommend", str(model_dir), "--all", "-n", "2")
    assert status == 0
    lines = stdout.splitlines()
    assert lines[0] == "user,rank,item,predicted_rating,fallback" and len(lines) == 81


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("{tmp}/recs.txt", "unknown table format '.txt'; accepted: .parquet, .csv"),
        ("{tmp}", "unknown table format"),
        ("{tmp}/folder.csv", "is a folder"),
        ("{tmp}/file/recs.csv", "is not a folder"),
    ],
)
def test_a_bad_out_is_one_line_and_status_2(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, out: str, expected: str
) -> None:
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "file").write_text("")
    capsys.readouterr()
    status, stdout, err = run(
        capsys, "recommend", str(model_dir), "--all", "--out", out.format(tmp=tmp_path)
    )
    assert status == 2 and stdout == ""
    assert expected in err and len(err.strip().splitlines()) == 1


def test_out_goes_with_all(model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    status, _, err = run(capsys, "recommend", str(model_dir), "--user", "1", "--out", "x.csv")
    assert status == 2 and "--out goes with --all" in err
    status, _, err = run(capsys, "recommend", str(model_dir))
    assert status == 2 and "--user" in err


def test_recommend_for_a_new_user_from_a_ratings_file(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    mine = tmp_path / "my.csv"
    mine.write_text("item,rating\n2,5\n4,5\n6,4\n1,1\n3,2\n999,3\n")
    capsys.readouterr()
    status, stdout, _ = run(capsys, "recommend", str(model_dir), "--ratings", str(mine), "--json")
    assert status == 0
    payload = json.loads(stdout)
    assert payload["cluster"] in (0, 1) and payload["unknown_items"] == 1
    expected = ClusterNeighborRecommender.load(model_dir).recommend_new(
        {"2": 5, "4": 5, "6": 4, "1": 1, "3": 2}, 10
    )
    assert [r["item"] for r in payload["recommendations"]] == expected["item"].tolist()
    assert not {"1", "2", "3", "4", "6"} & {r["item"] for r in payload["recommendations"]}
    few = tmp_path / "few.tsv"
    few.write_text("item\trating\n2\t5\n")
    status, stdout, _ = run(capsys, "recommend", str(model_dir), "--ratings", str(few), "-n", "3")
    assert status == 0 and "bias baseline mu + b_i only" in stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("movie,stars\n2,5\n", "needs a header with columns item and rating"),
        ("item,rating\n2,5\n4,abc\n", "line 3: rating is not a number: 'abc'"),
        ("item,rating\n2,5\n,4\n", "line 3: empty item id"),
        ("item,rating\n2,9\n4,5\n6,4\n", "scale 1..5"),
        ("", "not a table of item,rating"),
        ("item,rating\n2,5,7,8\n", "not a table of item,rating"),
    ],
)
def test_a_bad_ratings_file_is_one_line_and_status_2(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, text: str, expected: str
) -> None:
    mine = tmp_path / "my.csv"
    mine.write_text(text)
    capsys.readouterr()
    status, stdout, err = run(capsys, "recommend", str(model_dir), "--ratings", str(mine))
    assert status == 2 and stdout == ""
    assert expected in err and len(err.strip().splitlines()) == 1


def test_the_default_model_trains_saves_and_recommends_from_the_command_line(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``train --model clusterrec`` saves the default model; ``recommend`` reads any saved
    model by what its model.json names: the same list as the library's; --ratings, which it
    cannot fold in, is one line and status 2."""
    from clusterrec.models.cluster_hybrid import ClusterHybridRecommender
    from clusterrec.models.registry import load_model

    data = model_dir.parent / "u.data"
    out = tmp_path / "default"
    argv = ["train", str(data), "--model", "clusterrec", "--hybrid", "fast", "--clusters", "2"]
    status, stdout, _ = run(capsys, *argv, "--out", str(out), "--no-progress", "--json")
    assert status == 0 and json.loads(stdout)["ratings"] > 0
    model = load_model(out)
    assert isinstance(model, ClusterHybridRecommender)
    status, stdout, _ = run(capsys, "recommend", str(out), "--user", "3", "-n", "4", "--json")
    assert status == 0
    listed = [row["item"] for row in json.loads(stdout)["recommendations"]]
    assert listed == model.recommend("3", n=4)["item"].tolist()
    new_user = tmp_path / "me.csv"
    new_user.write_text("item,rating\n1,5\n2,4\n3,1\n")
    status, _, err = run(capsys, "recommend", str(out), "--ratings", str(new_user))
    assert status == 2 and "cannot fold in" in err and len(err.strip().splitlines()) == 1
    assert isinstance(load_model(model_dir), ClusterNeighborRecommender)


def test_load_model_names_a_folder_that_holds_no_model(tmp_path: Path) -> None:
    from clusterrec.errors import DataError
    from clusterrec.models.registry import load_model

    with pytest.raises(DataError, match="no model.json"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text('{"format": "clusterrec.Nope"}')
    with pytest.raises(DataError, match="holds clusterrec.Nope"):
        load_model(tmp_path)
