"""The protocols of the field: temporal, leave-last-N-out, users held out with history; each
leak-free, each named in its table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import random_ratings

from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.protocols import (
    PROTOCOLS,
    evaluate_split,
    leave_last_out_split,
    make_split,
    temporal_split,
    users_holdout_split,
)
from clusterrec.models.baselines import BiasBaseline, UserKNN


def timed(ratings: Ratings, seed: int = 0) -> Ratings:
    """``ratings`` with distinct random times (unix seconds)."""
    rng = np.random.default_rng(seed)
    times = 1_000_000_000 + rng.permutation(len(ratings)) * 3600
    return Ratings.from_records(
        ratings.user_labels[ratings.user], ratings.item_labels[ratings.item], ratings.rating, times
    )


@pytest.fixture(scope="module")
def data() -> Ratings:
    return timed(random_ratings(40, 30, 0.4, seed=3, cover=True))


def perturbed(ratings: Ratings, mask: np.ndarray, seed: int = 1) -> Ratings:
    """The records of ``mask`` with new random ratings and times pushed a year later."""
    rng = np.random.default_rng(seed)
    values = ratings.rating.copy()
    values[mask] = rng.integers(1, 6, int(mask.sum()))
    times = ratings.time.copy()
    times[mask] += 365 * 86_400
    return Ratings.from_records(
        ratings.user_labels[ratings.user], ratings.item_labels[ratings.item], values, times
    )


def training_predictions(ratings: Ratings, split_of) -> dict[str, np.ndarray]:
    split = split_of(ratings)
    train, _ = split.parts(ratings)
    users, items = train.user_labels[train.user], train.item_labels[train.item]
    return {
        name: model.fit(train).predict(users, items).rating
        for name, model in {"bias": BiasBaseline(), "userknn": UserKNN(n_neighbors=5)}.items()
    }


def test_temporal_split_trains_only_before_the_cut(data: Ratings) -> None:
    split = temporal_split(data, 0.25)
    assert split.name == "temporal" and split.description.startswith("temporal: one global cut")
    assert data.time[~split.test].max() < data.time[split.test].min()
    assert split.test.sum() == len(data) - int(np.floor(len(data) * 0.75))


def test_temporal_split_is_leak_free(data: Ratings) -> None:
    """Changing every rating after the cut (values, and times pushed later) changes neither
    the split's training side nor any prediction of the models fitted on it."""
    split = temporal_split(data, 0.2)
    changed = perturbed(data, split.test)
    again = temporal_split(changed, 0.2)
    np.testing.assert_array_equal(again.test, split.test)
    before = training_predictions(data, lambda r: temporal_split(r, 0.2))
    after = training_predictions(changed, lambda r: temporal_split(r, 0.2))
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_leave_last_out_tests_each_users_latest(data: Ratings) -> None:
    split = leave_last_out_split(data, 2)
    frame = data.to_frame().assign(test=split.test, time=data.time)
    for _, rows in frame.groupby("user", observed=True):
        if len(rows) <= 2:
            assert not rows["test"].any()
            continue
        latest = rows.nlargest(2, "time").index
        assert set(rows.index[rows["test"]]) == set(latest)
    assert split.description.startswith("leave-last-2-out")


def test_leave_last_out_breaks_time_ties_by_record_and_keeps_small_users() -> None:
    ratings = Ratings.from_records(
        ["a", "a", "a", "b"], ["x", "y", "z", "x"], [1, 2, 3, 4], [5, 9, 9, 1]
    )
    np.testing.assert_array_equal(leave_last_out_split(ratings, 1).test, [0, 0, 1, 0])


def test_leave_last_out_is_leak_free(data: Ratings) -> None:
    split = leave_last_out_split(data, 1)
    changed = perturbed(data, split.test)
    np.testing.assert_array_equal(leave_last_out_split(changed, 1).test, split.test)
    before = training_predictions(data, lambda r: leave_last_out_split(r, 1))
    after = training_predictions(changed, lambda r: leave_last_out_split(r, 1))
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_users_holdout_gives_history_and_tests_the_rest(data: Ratings) -> None:
    split = users_holdout_split(data, test_share=0.25, history_share=0.4, seed=5)
    tested = np.unique(data.user[split.test])
    assert len(tested) == 10  # 25% of 40 users
    counts = np.bincount(data.user, minlength=data.n_users)
    for user in tested:
        mine = data.user == user
        history = int(np.count_nonzero(mine & ~split.test))
        assert history == max(1, min(round(0.4 * counts[user]), counts[user] - 1))
    np.testing.assert_array_equal(
        users_holdout_split(data, 0.25, 0.4, seed=5).test, split.test
    )  # seeded
    assert not np.array_equal(users_holdout_split(data, 0.25, 0.4, seed=6).test, split.test)


def test_users_holdout_is_leak_free(data: Ratings) -> None:
    split = users_holdout_split(data, seed=2)
    changed = perturbed(data, split.test)
    np.testing.assert_array_equal(users_holdout_split(changed, seed=2).test, split.test)
    before = training_predictions(data, lambda r: users_holdout_split(r, seed=2))
    after = training_predictions(changed, lambda r: users_holdout_split(r, seed=2))
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_evaluate_split_names_the_protocol_in_every_table(data: Ratings) -> None:
    split = make_split(data, "leave-last", n=1)
    result = evaluate_split(data, {"bias": BiasBaseline, "userknn": UserKNN}, split, top_n=5)
    assert list(result.folds["model"]) == ["bias", "userknn"]
    assert result.protocol.startswith("leave-last-1-out") and "One split." in result.protocol
    table = result.to_markdown()
    assert table.startswith("Protocol: leave-last-1-out") and " ± " not in table
    assert result.folds["n_test"].iloc[0] == split.test.sum()
    assert set(result.summary()) == {"bias", "userknn"}


def test_protocol_errors() -> None:
    untimed = random_ratings(10, 10, 0.5, seed=1, cover=True)
    for name in ("temporal", "leave-last"):
        with pytest.raises(DataError, match="needs rating times"):
            make_split(untimed, name)
    with pytest.raises(ConfigError, match="accepted: temporal, leave-last, users-holdout"):
        make_split(untimed, "future")
    with pytest.raises(ConfigError, match="between 0 and 1"):
        users_holdout_split(untimed, history_share=1.0)


def test_cli_evaluate_split_protocols(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from clusterrec.cli import main
    from clusterrec.cli.evaluate import SPLIT_PROTOCOLS

    assert SPLIT_PROTOCOLS == PROTOCOLS
    data = timed(random_ratings(30, 20, 0.5, seed=4, cover=True))
    path = tmp_path / "ratings.csv"
    frame = data.to_frame()
    frame["time"] = data.time
    frame.to_csv(path, index=False)
    for protocol in PROTOCOLS:
        argv = ["evaluate", str(path), "--min-ratings", "1", "--protocol", protocol]
        assert main([*argv, "--models", "bias,mean", "--json", "--no-progress"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert payload["protocol"] == protocol and payload["leaky"] is False
        assert set(payload["models"]) == {"bias", "mean"}
