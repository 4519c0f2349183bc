"""Sweep.to_frame / summary / _repr_html_: the table equals the sweep's own fields."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from clusterrec.clustering.sweep import sweep_n_clusters
from clusterrec.viz.clusters import sweep_embedding_figure


def test_sweep_frame_equals_its_points(taste_ratings) -> None:
    sweep = sweep_n_clusters(taste_ratings, "cosine", [2, 3, 4], seed=0)
    frame = sweep.to_frame()
    assert list(frame.index) == [2, 3, 4]
    assert list(frame.columns) == [
        "objective",
        "silhouette",
        "sizes",
        "n_iter",
        "converged",
        "uncovered_users",
        "seconds",
    ]
    for point in sweep.points:
        row = frame.loc[point.n_clusters]
        assert row["objective"] == point.clustering.objective
        assert row["silhouette"] == point.silhouette
        assert row["sizes"] == tuple(int(s) for s in point.clustering.sizes)
        assert sum(row["sizes"]) == taste_ratings.n_users
        assert row["n_iter"] == point.clustering.n_iter
        assert row["converged"] == point.clustering.converged
        assert row["uncovered_users"] == point.clustering.n_uncovered
    summary = sweep.summary()
    assert summary["suggested"] == sweep.suggested
    assert summary["silhouette_users"] is None
    html = sweep._repr_html_()
    assert "<table" in html and f"suggested L = {sweep.suggested}" in html
    assert f"{sweep.points[0].clustering.objective:.4f}" in html


def test_undefined_silhouette_is_nan_in_the_frame(taste_ratings) -> None:
    # one cluster: the silhouette is undefined (None in the sweep, NaN in the table)
    sweep = sweep_n_clusters(taste_ratings, "jaccard", [1, 2], seed=0)
    frame = sweep.to_frame()
    assert sweep.point(1).silhouette is None and math.isnan(frame.loc[1, "silhouette"])
    assert frame["silhouette"].dtype == np.float64


def test_sweep_embedding_figure_has_a_panel_per_shown_L(taste_ratings) -> None:
    sweeps = [
        sweep_n_clusters(taste_ratings, m, [2, 3, 4, 5], seed=0) for m in ("cosine", "jaccard")
    ]
    figure = sweep_embedding_figure(sweeps, panels=3, seed=0)
    assert isinstance(figure, Figure)
    # a row per metric, a column per L shown (3 of the 4, the suggested among them)
    scatter_axes = [a for a in figure.axes if a.collections]
    assert len(scatter_axes) == 6
    titles = [a.get_title() for a in scatter_axes]
    for sweep in sweeps:
        assert f"{sweep.metric}, L = {sweep.suggested}" in titles
        # every plotted user has one colour per cluster: the legend counts add up to all users
        mine = [a for a in scatter_axes if a.get_title().startswith(sweep.metric)]
        for axes in mine:
            assert sum(len(c.get_offsets()) for c in axes.collections) == taste_ratings.n_users
