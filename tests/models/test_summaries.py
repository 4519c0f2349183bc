"""ClusterSummaries: the per-cluster training table equals the summaries' fields."""

from __future__ import annotations

import math

from clusterrec.models.summaries import SUMMARY_COLUMNS, ClusterSummaries, ClusterSummary


def _summaries() -> ClusterSummaries:
    return ClusterSummaries(
        [
            ClusterSummary(
                0, 10, 8, 120, 3, 5, 2, 0.5, (1.0, 0.8, 0.7, 0.65, 0.6), (0.9, 0.85, 0.8)
            ),
            ClusterSummary(1, 4, 3, 30, 0, 2, 1, 0.1, (2.0, 1.5), ()),
        ]
    )


def test_frame_values_equal_the_summaries() -> None:
    summaries = _summaries()
    frame = summaries.to_frame()
    assert [frame.index.name, *frame.columns] == list(SUMMARY_COLUMNS)
    assert list(frame.index) == [0, 1]
    for summary in summaries:
        row = frame.loc[summary.cluster]
        for name in ("users", "training_users", "rows", "rows_without_evidence", "epochs"):
            assert row[name] == getattr(summary, name)
        assert row["best_epoch"] == summary.best_epoch
        assert row["final_train_loss"] == summary.train_loss[-1]
    # the kept epoch (index 2) of cluster 0's validation curve; none for cluster 1
    assert frame.loc[0, "best_validation_loss"] == 0.8
    assert math.isnan(frame.loc[1, "best_validation_loss"])


def test_is_a_tuple_of_summaries_and_shows_as_html() -> None:
    summaries = _summaries()
    assert isinstance(summaries, tuple) and len(summaries) == 2
    assert summaries[1].cluster == 1
    assert ClusterSummaries(list(summaries)) == summaries
    html = summaries._repr_html_()
    assert "<table" in html and "best_validation_loss" in html
    assert ClusterSummaries().to_frame().empty
