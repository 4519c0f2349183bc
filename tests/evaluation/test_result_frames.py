"""to_frame and _repr_html_ of the evaluation results: the tables equal the results' fields."""

from __future__ import annotations

import pandas as pd
import pytest

from clusterrec.evaluation.cross_validation import CrossValidationResult
from clusterrec.evaluation.notebook_leaky import LeakyResult
from clusterrec.evaluation.users_protocol import UserSplitResult

_USER_COLUMNS = [
    "users",
    "train_users",
    "test_users",
    "train_ratings",
    "test_ratings",
    "train_mae",
    "test_mae",
    "train_rmse",
    "test_rmse",
    "test_fallback_share",
]


def _user_row(cluster: int | None, scale: float) -> dict:
    values = dict(zip(_USER_COLUMNS, [10, 8, 2, 80, 20, 0.5, 0.7, 0.6, 0.9, 0.1], strict=True))
    row = {k: (v * scale if isinstance(v, float) else v) for k, v in values.items()}
    return row if cluster is None else {"cluster": cluster, **row}


def test_user_split_frame_is_the_clusters_then_all() -> None:
    clusters = pd.DataFrame([_user_row(0, 1.0), _user_row(1, 1.1)])
    overall = _user_row(None, 1.05)
    result = UserSplitResult(clusters, overall, "users protocol (test)")
    frame = result.to_frame()
    assert list(frame.index) == ["0", "1", "all"]
    assert list(frame.columns) == _USER_COLUMNS
    for c in (0, 1):
        assert frame.loc[str(c)].to_dict() == pytest.approx(
            clusters.drop(columns="cluster").iloc[c].to_dict()
        )
    assert frame.loc["all"].to_dict() == pytest.approx(overall)
    html = result._repr_html_()
    assert "Protocol: users protocol (test)." in html and f"{0.7 * 1.1:.4f}" in html


def test_leaky_frame_is_the_clusters_then_all_and_says_leaky() -> None:
    columns = ["cluster", "users", "train_ratings", "train_mae", "test_ratings", "test_mae"]
    clusters = pd.DataFrame(
        [[0, 5, 40, 0.01, 10, 0.02], [1, 3, 20, 0.03, 5, 0.04]], columns=columns
    )
    overall = {
        "users": 8,
        "train_ratings": 60,
        "train_mae": 0.02,
        "test_ratings": 15,
        "test_mae": 0.03,
    }
    result = LeakyResult(clusters, overall, "notebook-leaky (LEAKY, ...)", leaky=True)
    frame = result.to_frame()
    assert list(frame.index) == ["0", "1", "all"]
    assert list(frame.columns) == columns[1:]
    assert frame.loc["1"].to_dict() == pytest.approx(clusters.iloc[1, 1:].to_dict())
    assert frame.loc["all"].to_dict() == pytest.approx(overall)
    assert "LEAKY" in result._repr_html_()


def test_cross_validation_html_is_the_summary_under_the_protocol() -> None:
    folds = pd.DataFrame(
        [
            {
                "fold": f,
                "model": m,
                "rmse": r,
                "mae": a,
                "fallback_share": 0.0,
                "fit_seconds": 1.0,
                "predict_seconds": 0.1,
                "rank_seconds": 0.2,
                "n_ranked_users": 3,
            }
            for f, (m, r, a) in enumerate([("bias", 0.9, 0.7), ("bias", 1.1, 0.9)])
        ]
    )
    result = CrossValidationResult(folds, 2, 0, 10, 4.0, "random")
    frame = result.to_frame()
    assert frame.loc["bias", "rmse"] == pytest.approx(1.0)
    assert frame.loc["bias", "mae"] == pytest.approx(0.8)
    html = result._repr_html_()
    assert html.startswith("<p><em>Protocol: 2-fold cross-validation")
    assert "1.0000" in html and "0.8000" in html and ">bias<" in html


def test_one_split_html_has_no_standard_deviations() -> None:
    folds = pd.DataFrame(
        [
            {
                "fold": 0,
                "model": "bias",
                "rmse": 0.9,
                "mae": 0.7,
                "fallback_share": 0.0,
                "fit_seconds": 1.0,
                "predict_seconds": 0.1,
                "rank_seconds": 0.2,
                "n_ranked_users": 3,
            }
        ]
    )
    result = CrossValidationResult(
        folds,
        1,
        0,
        10,
        4.0,
        "temporal",
        {"protocol": "temporal", "description": "temporal: one cut"},
    )
    html = result._repr_html_()
    assert "Protocol: temporal: one cut" in html and "0.9000" in html
    assert "_std" not in html and "rmse_std" in result.to_frame().columns
