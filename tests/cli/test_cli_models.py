"""train, evaluate and recommend on the command line: JSON shapes and exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli


@pytest.fixture(scope="module")
def udata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small u.data-style file: 80 users, 50 items, two taste groups."""
    rng = np.random.default_rng(0)
    lines = []
    for user in range(80):
        items = rng.choice(50, size=rng.integers(12, 30), replace=False)
        for item in items:
            taste = 1 if (item % 2) == (user % 2) else -1
            rating = int(np.clip(round(3 + taste + rng.normal(0, 0.7)), 1, 5))
            lines.append(f"{user + 1}\t{item + 1}\t{rating}\t{880000000 + int(item) * 1000}")
    path = tmp_path_factory.mktemp("data") / "u.data"
    path.write_text("\n".join(lines) + "\n")
    return path


run = run_cli


def test_train_json_shape_then_recommend(
    udata: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out_dir = tmp_path / "model"
    status, out, _ = run(
        capsys,
        "train",
        str(udata),
        "--clusters",
        "2",
        "--preset",
        "notebook",
        "--out",
        str(out_dir),
        "--json",
        "--no-progress",
    )
    assert status == 0
    payload = json.loads(out)
    assert payload["protocol"] == "users"
    assert [c["cluster"] for c in payload["clusters"]] == [0, 1]
    for row in payload["clusters"]:
        assert {"users", "train_mae", "test_mae", "train_rmse", "test_rmse"} <= set(row)
    assert {"train_mae", "test_mae"} <= set(payload["overall"])
    assert sum(c["users"] for c in payload["clusters"]) == 80
    assert (out_dir / "model.json").is_file()

    items = tmp_path / "items.tsv"
    items.write_text("item_id\ttitle\n" + "".join(f"{i}\tMovie {i}\n" for i in range(1, 51)))
    status, out, _ = run(
        capsys, "recommend", str(out_dir), "--user", "3", "-n", "4", "--items", str(items), "--json"
    )
    assert status == 0
    recs = json.loads(out)["recommendations"]
    assert len(recs) == 4 and all(r["title"] == f"Movie {r['item']}" for r in recs)
    assert [r["predicted_rating"] for r in recs] == sorted(
        (r["predicted_rating"] for r in recs), reverse=True
    )


def test_evaluate_kfold_json_shape(udata: Path, capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run(
        capsys,
        "evaluate",
        str(udata),
        "--folds",
        "3",
        "--clusters",
        "2",
        "--models",
        "clusterrec,bias,mean",
        "--json",
        "--no-progress",
    )
    assert status == 0
    payload = json.loads(out)
    assert (payload["protocol"], payload["folds"]) == ("kfold", 3)
    assert set(payload["models"]) == {"clusterrec", "bias", "mean"}
    for scores in payload["models"].values():
        assert {"rmse", "rmse_std", "mae", "mae_std", "fit_seconds", "fallback_share"} <= set(
            scores
        )


def test_evaluate_with_a_published_split_file(
    udata: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    n = len(udata.read_text().splitlines())
    folds = tmp_path / "folds.npy"
    np.save(folds, np.arange(n) % 2)
    args = ["evaluate", str(udata), "--folds", "2", "--models", "mean", "--json"]
    status, out, _ = run(capsys, *args, "--split-file", str(folds))
    assert status == 0 and json.loads(out)["seed"] is None
    np.save(folds, np.arange(n - 1) % 2)
    status, _, err = run(capsys, *args, "--split-file", str(folds))
    assert status == 2 and "folds.npy" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["evaluate", "{data}", "--models", "svd"], "unknown models ['svd']"),
        (["train", "{data}", "--clusters", "0", "--out", "{tmp}/m"], "n_clusters"),
        (["recommend", "{tmp}/none", "--user", "1"], "no model.json"),
        (["evaluate", "{data}", "--protocol", "users", "--split-file", "x.npy"], "--split-file"),
    ],
)
def test_model_command_errors(
    udata: Path, tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], expected: str
) -> None:
    status, _, err = run(capsys, *[a.format(data=udata, tmp=tmp_path) for a in argv])
    assert status == 2
    assert expected in err and "Traceback" not in err
