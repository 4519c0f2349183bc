"""Figures of user clusterings: choosing L, and the users in 2-D coloured by cluster.

Drawn with matplotlib's object API (no pyplot); write them with
:func:`clusterrec.viz.data.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from clusterrec.clustering._common import SUGGESTION_RULE

if TYPE_CHECKING:
    from clusterrec.clustering.sweep import Sweep
    from clusterrec.run.stages import ClusteringResult

__all__ = [
    "choose_n_clusters_figure",
    "cluster_embedding_figure",
    "pick_panels",
    "sweep_embedding_figure",
]

_OBJECTIVE_COLOR = "#3b6ea8"
_SILHOUETTE_COLOR = "#c2693a"


def choose_n_clusters_figure(sweeps: Sequence[ClusteringResult | Sweep]) -> Figure:
    """One panel per sweep (a saved ``ClusteringResult`` or a ``Sweep``): objective (elbow,
    left axis) and silhouette (right axis) against L, the suggested L marked with a dashed
    line."""
    figure = Figure(figsize=(5.2 * len(sweeps), 4.2), layout="constrained")
    for axes, sweep in zip(np.atleast_1d(figure.subplots(1, len(sweeps))), sweeps, strict=True):
        _draw_sweep(axes, _curve(sweep))
    figure.suptitle(f"Choosing the number of clusters L; suggested L: {SUGGESTION_RULE}")
    return figure


def _curve(sweep: ClusteringResult | Sweep) -> dict:
    """What the choose-L panel shows, from a saved result or a sweep in memory."""
    points = sweep.points
    in_memory = bool(points) and hasattr(points[0], "clustering")
    if in_memory:
        sample = None if sweep.users is None else len(sweep.users)
        objective = [p.clustering.objective for p in points]
    else:
        sample = sweep.silhouette_users
        objective = [p.objective for p in points]
    return {
        "metric": sweep.metric,
        "algorithm": sweep.algorithm,
        "L": [p.n_clusters for p in points],
        "objective": objective,
        "silhouette": [np.nan if p.silhouette is None else p.silhouette for p in points],
        "suggested": sweep.suggested,
        "sample": sample,
    }


def _draw_sweep(axes: object, curve: dict) -> None:
    Ls, objective, scores = curve["L"], curve["objective"], curve["silhouette"]
    lines = axes.plot(Ls, objective, "o-", color=_OBJECTIVE_COLOR, label="objective (elbow)")
    axes.set_xlabel("number of clusters L")
    axes.set_ylabel("objective (lower is tighter)", color=_OBJECTIVE_COLOR)
    axes.set_xticks(Ls)
    right = axes.twinx()
    lines += right.plot(Ls, scores, "s--", color=_SILHOUETTE_COLOR, label="silhouette")
    right.set_ylabel("mean silhouette (higher is better)", color=_SILHOUETTE_COLOR)
    suggested = curve["suggested"]
    if suggested is not None:
        lines.append(
            axes.axvline(
                suggested, color="black", linestyle=":", label=f"suggested L = {suggested}"
            )
        )
    axes.legend(handles=lines, loc="best", fontsize="small", frameon=False)
    sample = curve["sample"]
    users = "" if sample is None else f", silhouette on {sample:,} sampled users"
    axes.set_title(f"{curve['metric']} ({curve['algorithm']}){users}", fontsize="medium")


def cluster_embedding_figure(
    embeddings: Mapping[str, np.ndarray],
    labels: Mapping[str, Mapping[int, np.ndarray]],
    *,
    axis_shares: Mapping[str, np.ndarray] | None = None,
    method: str = "classical MDS",
) -> Figure:
    """Users in 2-D coloured by cluster: a row per metric, a column per L.

    ``embeddings[metric]``: (n, 2) coordinates of the users plotted; ``labels[metric][L]``: the
    cluster of each of those users; ``axis_shares[metric]``: share of the trace each axis
    explains (for the axis titles).
    """
    metrics = list(embeddings)
    n_columns = max(len(labels[m]) for m in metrics)
    figure = Figure(figsize=(4.2 * n_columns, 4.0 * len(metrics)), layout="constrained")
    grid = np.atleast_2d(figure.subplots(len(metrics), n_columns, squeeze=False))
    for row, metric in enumerate(metrics):
        shares = None if axis_shares is None else axis_shares.get(metric)
        by_L = labels[metric]
        for column in range(n_columns):
            axes = grid[row, column]
            if column >= len(by_L):
                axes.set_axis_off()
                continue
            L = sorted(by_L)[column]
            _draw_embedding(axes, embeddings[metric], by_L[L], shares, method)
            axes.set_title(f"{metric}, L = {L}", fontsize="medium")
    figure.suptitle(f"Users in 2-D ({method} of each metric's distances), coloured by cluster")
    return figure


def sweep_embedding_figure(
    sweeps: Sequence[Sweep],
    panels: int = 4,
    *,
    max_users: int = 2_000,
    seed: int = 0,
) -> Figure:
    """The users in 2-D of each sweep in memory (classical MDS of its distance matrix, over at
    most ``max_users`` seeded users), coloured by cluster for up to ``panels`` of its L (the
    suggested L always among them): the run's cluster pictures, without a run."""
    from threadpoolctl import threadpool_limits

    from clusterrec.clustering.embedding import embed_sweep

    coordinates, labels, shares = {}, {}, {}
    for sweep in sweeps:
        # one BLAS thread, as the run's clustering stage: as fast, and far faster when busy
        with threadpool_limits(limits=1, user_api="blas"):
            users, points, axis_shares = embed_sweep(sweep, max_users=max_users, seed=seed)
        shown = pick_panels([p.n_clusters for p in sweep.points], sweep.suggested, panels)
        coordinates[sweep.metric] = points
        labels[sweep.metric] = {L: sweep.point(L).clustering.labels[users] for L in shown}
        shares[sweep.metric] = axis_shares
    return cluster_embedding_figure(coordinates, labels, axis_shares=shares)


def _draw_embedding(
    axes: object,
    points: np.ndarray,
    labels: np.ndarray,
    shares: np.ndarray | None,
    method: str,
) -> None:
    colors = _palette(int(labels.max()) + 1)
    for cluster in range(int(labels.max()) + 1):
        members = labels == cluster
        if not members.any():
            continue
        axes.scatter(
            points[members, 0],
            points[members, 1],
            s=6,
            alpha=0.7,
            color=colors[cluster],
            label=f"{cluster} ({int(members.sum()):,})",
            linewidths=0,
        )
    names = [f"{method} axis {i + 1}" for i in range(2)]
    if shares is not None:
        names = [
            f"{name} ({100 * share:.1f}% of the positive spectrum)"
            for name, share in zip(names, shares, strict=True)
        ]
    outside = _zoom_to_bulk(axes, points)
    if outside:
        axes.text(
            0.01,
            0.01,
            f"{outside:,} outlying users outside the view",
            transform=axes.transAxes,
            fontsize="x-small",
            color="gray",
        )
    axes.set_xlabel(names[0], fontsize="small")
    axes.set_ylabel(names[1], fontsize="small")
    axes.legend(
        title="cluster (users)",
        fontsize="x-small",
        title_fontsize="x-small",
        markerscale=2,
        frameon=False,
        loc="best",
    )


def _zoom_to_bulk(axes: object, points: np.ndarray, share: float = 0.99) -> int:
    """Limit the axes to the central ``share`` of the points on each axis (outliers, such as
    users at the undefined distance, would squash the rest); returns how many are outside."""
    tail = (1.0 - share) / 2
    low, high = np.quantile(points, [tail, 1.0 - tail], axis=0)
    margin = 0.08 * np.maximum(high - low, 1e-12)
    low, high = low - margin, high + margin
    axes.set_xlim(low[0], high[0])
    axes.set_ylim(low[1], high[1])
    inside = ((points >= low) & (points <= high)).all(axis=1)
    return int((~inside).sum())


def _palette(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def pick_panels(values: Sequence[int], suggested: int | None, most: int = 4) -> list[int]:
    """Up to ``most`` of the L values for side-by-side panels: spread over the range and
    always including the suggested L."""
    values = sorted(values)
    if len(values) <= most:
        return values
    positions = np.linspace(0, len(values) - 1, most).round().astype(int)
    chosen = {values[i] for i in positions}
    if suggested is not None and suggested not in chosen:
        nearest = min(chosen - {values[0]}, key=lambda L: abs(L - suggested))
        chosen = (chosen - {nearest}) | {suggested}
    return sorted(chosen)
