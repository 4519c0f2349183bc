"""Figures of the model's results: learning curves, errors per cluster, the k-fold comparison."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "cluster_errors_figure",
    "kfold_figure",
    "learning_curves_figure",
]


def learning_curves_figure(curves: pd.DataFrame, target: str = "residual") -> Figure:
    """Training (solid) and validation (dashed) loss per epoch, one colour per cluster; the
    kept epoch marked."""
    from matplotlib import colormaps

    figure = Figure(figsize=(8, 4.4), layout="constrained")
    axes = figure.subplots()
    palette = colormaps["tab10"]
    for index, (cluster, rows) in enumerate(curves.groupby("cluster")):
        color = palette(index % 10)
        axes.plot(rows["epoch"], rows["train_loss"], "-", color=color, label=f"cluster {cluster}")
        if rows["validation_loss"].notna().any():
            axes.plot(rows["epoch"], rows["validation_loss"], "--", color=color)
        best = rows[rows["best"].astype(bool)]
        if not best.empty:
            column = "validation_loss" if best["validation_loss"].notna().all() else "train_loss"
            axes.plot(best["epoch"], best[column], "o", color=color)
    what = "scaled residual over the bias baseline" if target == "residual" else "rating"
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"mean squared error ({what})")
    axes.set_title("Learning curves: training (solid), validation users (dashed), kept epoch (o)")
    axes.legend(fontsize="small", frameon=False, ncols=2)
    return figure


def cluster_errors_figure(clusters: pd.DataFrame, overall: Mapping) -> Figure:
    """Training and test MAE per cluster as bars, the overall values as lines."""
    figure = Figure(figsize=(8, 4.2), layout="constrained")
    axes = figure.subplots()
    x = np.arange(len(clusters))
    axes.bar(x - 0.2, clusters["train_mae"], 0.4, label="training users", color="#3b6ea8")
    axes.bar(x + 0.2, clusters["test_mae"], 0.4, label="test users", color="#c2693a")
    axes.axhline(overall["train_mae"], color="#3b6ea8", linestyle=":", linewidth=1)
    axes.axhline(overall["test_mae"], color="#c2693a", linestyle=":", linewidth=1)
    axes.set_xticks(x, [str(c) for c in clusters["cluster"]])
    axes.set_xlabel("cluster")
    axes.set_ylabel("mean absolute error")
    axes.set_title("Per-cluster networks: MAE of training and test users (dotted: overall)")
    axes.legend(frameon=False)
    return figure


def kfold_figure(summary: pd.DataFrame) -> Figure:
    """MAE and RMSE of each model: mean over folds (dot) and the fold standard deviation."""
    figure = Figure(figsize=(8, 3.6), layout="constrained")
    panels = figure.subplots(1, 2, sharey=True)
    y = np.arange(len(summary))
    for axes, metric in zip(panels, ("mae", "rmse"), strict=True):
        errors = summary.get(f"{metric}_std", pd.Series(np.zeros(len(summary)))).fillna(0)
        axes.errorbar(summary[metric], y, xerr=errors, fmt="o", color="#3b6ea8", capsize=4)
        axes.set_yticks(y, summary["model"])
        axes.set_xlabel(f"{metric.upper()} (mean over folds ± sd)")
        axes.grid(axis="x", color="#dddddd")
    panels[0].invert_yaxis()
    panels[0].set_ylim(len(summary) - 0.5, -0.5)
    figure.suptitle("k-fold cross-validation over ratings")
    return figure
