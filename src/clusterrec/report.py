"""The run report: one self-contained HTML page, and the figures only the report draws.

The page follows the assignment: the data, clustering with each masked metric, the Jaccard
clustering and its weaknesses, the per-cluster networks, the k-fold comparison with the
baselines and sample recommendations, then how the run was made. Every discussion sentence is
generated from the measured numbers (:func:`metric_discussion`, :func:`jaccard_discussion`,
...), so it changes when the data do. Figures are embedded as base64 PNG, so the file opens
offline; a small inline script records each image's decoded width in ``data-natural-width``
(and the count of broken images on ``<body>``) for ``scripts/check_report.py``.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

#: Kaufman and Rousseeuw's reading of the mean silhouette: (lower bound, wording).
SILHOUETTE_SCALE = (
    (0.70, "a strong structure"),
    (0.50, "a reasonable structure"),
    (0.25, "a weak structure that could be artificial"),
    (-1.0, "no substantial cluster structure"),
)


@dataclass
class ReportInputs:
    """Everything the report shows, as plain values read from the run's stage outputs."""

    config_toml: str
    manifest: dict
    data: dict
    counts: pd.DataFrame
    figures: Mapping[str, Path]
    sweeps: Mapping[str, dict]
    evidence: dict
    jaccard: dict
    users_protocol: pd.DataFrame
    networks: dict
    neighbours: pd.DataFrame
    kfold: pd.DataFrame
    kfold_meta: dict
    recommendations: pd.DataFrame
    profiles: pd.DataFrame
    titles_available: bool
    generated: dict | None


# -- numbers into words ---------------------------------------------------------------------------


def silhouette_words(value: float | None) -> str:
    """Kaufman and Rousseeuw's reading of a mean silhouette."""
    if value is None or not math.isfinite(value):
        return "undefined"
    return next(words for low, words in SILHOUETTE_SCALE if value > low)


def strength(rho: float) -> str:
    """How strong a rank correlation is, in words."""
    size = abs(rho)
    if size >= 0.5:
        return "strongly"
    if size >= 0.3:
        return "moderately"
    if size >= 0.1:
        return "weakly"
    return "hardly"


def elbow(points: Sequence[dict]) -> int | None:
    """The L where the objective bends most (largest second difference); None below 3 L."""
    if len(points) < 3:
        return None
    values = np.array([p["objective"] for p in points], dtype=np.float64)
    bends = values[:-2] - 2 * values[1:-1] + values[2:]
    return int(points[int(np.argmax(bends)) + 1]["L"])


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "undefined" if value is None else f"{value:+.2f}"


def _evidence_row(evidence: dict, metric: str) -> dict | None:
    return next((row for row in evidence.get("metrics", []) if row["metric"] == metric), None)


def _share(value: float) -> str:
    """A share as a percentage, with two decimals below 1%."""
    return f"{value:.2%}" if value < 0.01 else f"{value:.1%}"


def metric_discussion(metric: str, sweep: dict, row: dict | None) -> list[str]:
    """Sentences judging one metric's clustering, from its sweep and evidence row."""
    points = sweep["points"]
    best = sweep["suggested"]
    chosen = next((p for p in points if p["L"] == best), points[0])
    sentences = [
        f"The mean silhouette is largest at L = {chosen['L']} ({_number(chosen['silhouette'])}),"
        f" which by Kaufman and Rousseeuw's scale is {silhouette_words(chosen['silhouette'])}."
    ]
    bend = elbow(points)
    if bend is not None:
        first, last = points[0], points[-1]
        drop = 1 - last["objective"] / first["objective"] if first["objective"] else 0.0
        sentences.append(
            f"The objective falls by {drop:.0%} from L = {first['L']} to L = {last['L']}; it bends"
            f" most at L = {bend}"
            + (", where the silhouette also points." if bend == chosen["L"] else ".")
        )
    if row is None:
        return sentences
    rho = row.get("spearman_co_rated")
    if rho is not None:
        sentences.append(_overlap_sentence(metric, rho, row["pairs"]))
    sentences.append(_spread_sentence(metric, row))
    if row["no_co_rated_share"] > 0:
        sentences.append(
            f"{_share(row['no_co_rated_share'])} of the user pairs share no movie"
            + (
                "; their distance is undefined and set to the metric's largest value."
                if metric != "jaccard"
                else " and are at the largest distance, 1."
            )
        )
    sizes = chosen["sizes"]
    sentences.append(
        f"At L = {chosen['L']} the clusters hold {min(sizes):,} to {max(sizes):,} users "
        f"(size entropy {row['size_entropy']:.2f}, where 1 means equal sizes)."
    )
    if chosen.get("uncovered_users"):
        sentences.append(
            f"{chosen['uncovered_users']:,} users shared no movie with any centroid and were "
            "put in the cluster covering the most movies."
        )
    if "ari_vs_truth" in row:
        sentences.append(
            "Against the taste groups planted in the generated data the clustering reaches an "
            f"adjusted Rand index of {row['ari_vs_truth']:.3f}: "
            f"{recovery_words(row['ari_vs_truth'])}."
        )
        if row["ari_vs_truth"] >= 0.5 and (chosen["silhouette"] or 0) < 0.25:
            sentences.append(
                "So a low silhouette here means groups that overlap, not groups that are absent."
            )
    return sentences


def recovery_words(ari: float) -> str:
    """How well a clustering recovers known groups, from its adjusted Rand index."""
    if ari >= 0.9:
        return "the groups are recovered almost exactly"
    if ari >= 0.5:
        return "the groups are largely recovered"
    if ari >= 0.1:
        return "the groups are partly recovered"
    return "no better than chance"


def agreement_words(ari: float) -> str:
    """How much two clusterings agree, from their adjusted Rand index."""
    if ari >= 0.9:
        return "almost the same clustering"
    if ari >= 0.5:
        return "largely agree"
    if ari >= 0.1:
        return "agree in part"
    return "hardly agree"


def _overlap_sentence(metric: str, rho: float, pairs: int) -> str:
    lead = (
        f"{metric.capitalize()} distances correlate {strength(rho)} with the number of co-rated "
        f"movies (Spearman rho = {rho:+.2f} over {pairs:,} pairs)"
    )
    if metric == "jaccard":
        return lead + ": by construction, sharing more movies is what makes users close."
    if rho >= 0.3:
        return (
            lead + ", so much of the distance is how many movies two users share rather than how "
            "differently they rate them: each co-rated movie adds a non-negative term, and users "
            "with few movies in common look close."
        )
    if rho <= -0.3:
        return (
            lead + ", so users who share more movies look closer: how much two users overlap, "
            "not only how alike they rate, drives the distance."
        )
    return (
        lead + ", so the distance mostly reflects the ratings on the shared movies, not how many "
        "there are."
    )


def _spread_sentence(metric: str, row: dict) -> str:
    q25, median, q75 = row.get("q25"), row.get("median"), row.get("q75")
    if median is None:
        return "No pair of users has a defined distance."
    text = (
        f"Half of the defined distances lie between {_number(q25)} and {_number(q75)} around a "
        f"median of {_number(median)}"
    )
    spread = row.get("relative_iqr")
    if spread is not None and spread < 0.1:
        return text + (
            f" (interquartile range / median = {spread:.3f}): almost every pair is about equally "
            "far apart, which leaves the clustering little to separate."
        )
    if metric == "cosine" and median < 0.1:
        return text + (
            ": ratings are all positive, so every user's rating vector points the same way "
            "and cosine distances stay close to 0."
        )
    return text + "."


def agreement_discussion(evidence: dict) -> str:
    """One sentence on how much each pair of metrics' clusterings agree."""
    rows = evidence.get("agreement", [])
    if not rows:
        return ""
    parts = [
        f"{r['metric_a']} and {r['metric_b']} {agreement_words(r['ari'])} (ARI {r['ari']:.3f})"
        for r in rows
    ]
    return (
        "At each metric's suggested L, by the adjusted Rand index (1: the same clustering, "
        "0: chance): " + "; ".join(parts) + "."
    )


def jaccard_discussion(jaccard: dict, evidence: dict) -> list[str]:
    """Sentences on what Jaccard ignores and how it treats sparse users, from measurements."""
    sentences = [
        "The Jaccard distance, 1 − |phi(u) ∩ phi(v)| / |phi(u) ∪ phi(v)|, compares only which "
        "movies two users rated; it never looks at the ratings themselves, and it needs no "
        "co-rated movie to be defined, so it works on the n x n matrix with k-medoids where "
        "k-means (which needs a mean of users) cannot."
    ]
    tracks = jaccard.get("tracks_disagreement", {})
    if tracks.get("jaccard") is not None:
        others = ", ".join(
            f"{_signed(v)} for {m}" for m, v in tracks.items() if m != "jaccard" and v is not None
        )
        sentences.append(
            f"Over the {jaccard['pairs']:,} user pairs with at least "
            f"{jaccard['min_pairs_overlap']} co-rated movies, the Jaccard distance correlates "
            f"with how differently the two users rate those movies (root mean square difference) "
            f"at rho = {_signed(tracks['jaccard'])}"
            + (f", against {others}" if others else "")
            + _blindness_verdict(tracks)
        )
    nearest = {
        row["metric"]: row
        for row in jaccard.get("nearest_neighbour", [])
        if row.get("median_rms_difference") is not None
    }
    if "jaccard" in nearest:
        sentences.append(_nearest_neighbour_sentence(nearest))
    sparse = jaccard.get("sparse_users")
    if sparse:
        sentences.append(_sparse_sentence(sparse))
        sentences.append(
            f"The distance also caps similarity by size: a user with {sparse['fewest_ratings']} "
            f"ratings and one with {sparse['most_ratings']} can be at most "
            f"{sparse['largest_similarity_fewest_vs_most']:.2f} similar (distance "
            f"{1 - sparse['largest_similarity_fewest_vs_most']:.2f}) even if every movie of the "
            "first is among the second's."
        )
    sentences.extend(_activity_sentences(jaccard.get("activity_by_cluster", [])))
    row = _evidence_row(evidence, "jaccard")
    if row is not None and row.get("median") is not None and row["median"] >= 0.8:
        low_silhouette = row.get("silhouette") is not None and row["silhouette"] < 0.1
        sentences.append(
            f"Jaccard distances are concentrated near 1: median {row['median']:.3f}, half of the "
            f"pairs between {row['q25']:.3f} and {row['q75']:.3f}"
            + (
                f", which keeps its silhouettes near 0 (best {_number(row['silhouette'])})."
                if low_silhouette
                else "."
            )
        )
    return sentences


def _nearest_neighbour_sentence(nearest: Mapping[str, dict]) -> str:
    """How alike in rating each metric's nearest neighbours are, Jaccard first."""
    mine = nearest["jaccard"]
    others = "; ".join(
        f"{row['median_co_rated']:.0f} movies and {row['median_rms_difference']:.2f} for "
        f"the nearest {m} neighbour"
        for m, row in nearest.items()
        if m != "jaccard"
    )
    closest = min(nearest.values(), key=lambda row: row["median_rms_difference"])
    if len(nearest) == 1:
        verdict = ""
    elif _agrees_least(nearest, "jaccard"):
        verdict = " Of these, Jaccard's nearest neighbours agree least with the user."
    else:
        verdict = f" The {closest['metric']} neighbours agree best."
    return (
        f"A user's nearest Jaccard neighbour shares a median of {mine['median_co_rated']:.0f} "
        f"movies with them and rates those {mine['median_rms_difference']:.2f} points apart "
        f"(RMS)" + (f"; against {others}." if others else ".") + verdict
    )


def _sparse_sentence(sparse: Mapping) -> str:
    """How far users with few ratings are from their nearest Jaccard neighbour."""
    low, high = sparse["nn_distance_lowest_quartile"], sparse["nn_distance_highest_quartile"]
    lead = (
        "Sparse users are farther from everyone"
        if low > high
        else "In these data sparse users are not farther from their nearest neighbour"
    )
    return (
        f"{lead}: the median Jaccard distance to the nearest neighbour is {low:.3f} for the "
        f"quarter of users with at most {sparse['ratings_lowest_quartile']:.0f} ratings and "
        f"{high:.3f} for the quarter with at least {sparse['ratings_highest_quartile']:.0f} "
        f"(Spearman rho of ratings with that distance "
        f"{_signed(sparse['spearman_ratings_vs_nn_distance'])})."
    )


def _agrees_least(nearest: Mapping[str, dict], metric: str) -> bool:
    """Are ``metric``'s nearest neighbours the least alike in rating of all metrics'?"""
    mine = nearest[metric]["median_rms_difference"]
    return all(mine >= row["median_rms_difference"] for row in nearest.values())


def _blindness_verdict(tracks: Mapping[str, float | None]) -> str:
    """How the Jaccard correlation with rating disagreement compares with the others'."""
    mine = tracks["jaccard"]
    others = [v for m, v in tracks.items() if m != "jaccard" and v is not None]
    if abs(mine) < 0.1:
        return (
            ": it is blind to agreement, so two users who rated the same movies in opposite "
            "ways are as close as two who agree."
        )
    if others and mine < min(others) - 0.05:
        return (
            ": it sees agreement only indirectly, where users who choose the same movies also "
            "happen to rate them alike, and less than the metrics that read the ratings."
        )
    return (
        ": here choosing the same movies goes with rating them alike, so Jaccard tracks "
        "agreement about as well as the metrics that read the ratings."
    )


def _activity_sentences(rows: Sequence[dict]) -> list[str]:
    by_metric = {row["metric"]: row for row in rows}
    if "jaccard" not in by_metric:
        return []
    mine = by_metric["jaccard"]
    others = [row for m, row in by_metric.items() if m != "jaccard"]
    text = (
        f"Across the L range, Jaccard clusters explain eta² = {mine['min']:.3f} to "
        f"{mine['max']:.3f} of the variance of users' log number of ratings"
    )
    if not others:
        return [text + "."]
    comparison = ", ".join(f"{r['min']:.3f} to {r['max']:.3f} for {r['metric']}" for r in others)
    more = mine["mean"] > 2 * max(r["mean"] for r in others)
    return [
        text
        + f", against {comparison}"
        + (
            ": Jaccard groups users partly by how much they rate, not only by what."
            if more
            else ": in these data activity does not drive the Jaccard clusters more than the "
            "others."
        )
    ]


def networks_discussion(table: pd.DataFrame, meta: dict) -> list[str]:
    """Sentences on training and test errors of the per-cluster networks."""
    clusters = table[table["cluster"].astype(str) != "all"]
    overall = meta["overall"]
    gap = overall["test_mae"] / overall["train_mae"] - 1 if overall["train_mae"] else float("nan")
    worst = clusters.loc[clusters["test_mae"].idxmax()]
    best = clusters.loc[clusters["test_mae"].idxmin()]
    sentences = [
        f"Over all clusters the networks reach a training MAE of {overall['train_mae']:.3f} "
        f"and a test MAE of {overall['test_mae']:.3f} on the held-out users (RMSE "
        f"{overall['train_rmse']:.3f} and {overall['test_rmse']:.3f}); the test error is "
        f"{gap:.0%} {'higher' if gap >= 0 else 'lower'} than the training error.",
        f"Test MAE ranges from {best['test_mae']:.3f} (cluster {best['cluster']}) to "
        f"{worst['test_mae']:.3f} (cluster {worst['cluster']}).",
        f"{overall['test_fallback_share']:.1%} of the test ratings had no neighbour who rated "
        "the movie; those predictions are the bias baseline (mu + b_u + b_i) and are counted, "
        "not hidden.",
    ]
    epochs = [c["epochs"] for c in meta.get("clusters", [])]
    if epochs:
        best_epochs = [c["best_epoch"] + 1 for c in meta["clusters"]]
        sentences.append(
            f"Training ran {min(epochs)} to {max(epochs)} epochs per cluster; the kept weights "
            f"are from epoch {min(best_epochs)} to {max(best_epochs)}"
            + (
                " (early stopping on validation users)."
                if meta["network"].get("validation_share", 0) > 0
                else " (no early stopping in this preset)."
            )
        )
    return sentences


def kfold_discussion(summary: pd.DataFrame, top_n: int) -> list[str]:
    """Sentences comparing the models of the k-fold table by MAE and NDCG."""
    if summary.empty:
        return []
    ordered = summary.sort_values("mae")
    order = ", ".join(f"{r.model} ({r.mae:.3f})" for r in ordered.itertuples())
    sentences = [f"By mean absolute error the models rank: {order}."]
    if {"clusterrec", "bias"} <= set(summary["model"]):
        ours = summary.set_index("model").loc["clusterrec"]
        bias = summary.set_index("model").loc["bias"]
        difference = ours["mae"] - bias["mae"]
        spread = max(float(ours.get("mae_std", np.nan)), float(bias.get("mae_std", np.nan)))
        if math.isfinite(spread) and abs(difference) <= spread:
            verdict = "within the fold-to-fold spread, so the two cannot be told apart"
        else:
            verdict = "better" if difference < 0 else "worse"
            verdict = f"{verdict} than the bias baseline beyond the fold-to-fold spread"
        sentences.append(
            f"clusterrec's MAE differs from the bias baseline's by {difference:+.3f} "
            f"(largest fold standard deviation {spread:.3f}): {verdict}."
        )
    column = f"ndcg_at_{top_n}"
    if column in summary:
        best = summary.loc[summary[column].idxmax()]
        sentences.append(
            f"For top-{top_n} recommendation the best NDCG is {best[column]:.3f}, by {best.model}."
        )
    return sentences


def recommendation_discussion(recommendations: pd.DataFrame) -> str:
    """How many of the shown recommendations had neighbour evidence."""
    fallback = recommendations["fallback"].astype(str).str.lower().isin(["true", "1"])
    users = recommendations["user"].nunique()
    text = (
        f"{len(recommendations)} recommendations for {users} users chosen at random (seeded); "
        f"for {int(fallback.sum())} of them no neighbour rated the movie, so the prediction is "
        "the bias baseline's (marked 'yes' under fallback)"
    )
    if fallback.mean() > 0.5:
        text += (
            ": most of the top of these lists comes from the baseline, which ranks movies with "
            "large item biases first, not from the networks"
        )
    return text + "."


def data_discussion(data: dict) -> list[str]:
    """Sentences on the kept data: counts, density, ratings per user, time spans."""
    stats = data["statistics"]
    filtering = data["filter"]
    high = filtering["max_ratings"] if filtering["max_ratings"] is not None else "any number of"
    per_user = stats["ratings_per_user"]
    sentences = [
        f"Keeping the users with {filtering['min_ratings']} to {high} ratings leaves "
        f"{stats['users']:,} users, {stats['items']:,} movies and {stats['ratings']:,} ratings "
        f"(density {stats['density']:.5f}: each user rated {stats['density']:.3%} of the movies).",
        f"Users have {per_user['min']} to {per_user['max']} ratings (median {per_user['median']});"
        f" the mean rating is {stats['mean_rating']:.2f} on the scale {stats['scale']}.",
    ]
    spans = stats.get("span_days_per_user")
    if spans:
        sentences.append(
            f"A user's ratings span a median of {spans['median']} days (from {spans['min']} to "
            f"{spans['max']}), between {stats['first_rating']} and {stats['last_rating']}."
        )
    return sentences


# -- figures --------------------------------------------------------------------------------------


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


# -- HTML -----------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
       max-width: 1080px; margin: 0 auto; padding: 1rem 1.5rem 3rem; line-height: 1.5; }
h1 { font-size: 1.7rem; margin: .4rem 0 .2rem; }
h2 { border-bottom: 2px solid #d0d4da; padding-bottom: .2rem; margin-top: 2.4rem; }
h3 { margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .7rem 0 1rem; font-size: .88rem;
        font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #b8bec6; padding: .22rem .5rem; text-align: right; }
td { white-space: nowrap; }
td.text { white-space: normal; }
.side { display: flex; flex-wrap: wrap; gap: 0 2rem; align-items: flex-start; }
th { background: #eef1f5; }
td.text, th.text { text-align: left; }
.scroll { overflow-x: auto; }
figure { margin: 1rem 0 1.4rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #d0d4da; }
figcaption { font-size: .85rem; color: #555; }
.summary { background: #f5f7fa; border: 1px solid #d0d4da; padding: .5rem 1rem; }
.note { color: #555; font-size: .9rem; }
nav ol { columns: 2; margin: .3rem 0; }
pre { background: #f5f7fa; border: 1px solid #d0d4da; padding: .6rem; overflow-x: auto;
      font-size: .8rem; }
"""

# Records each image's decoded width, so a headless browser's DOM dump shows broken images.
_IMAGE_CHECK = """
window.addEventListener("load", function () {
  var images = document.images, broken = 0;
  for (var i = 0; i < images.length; i++) {
    var image = images[i];
    image.setAttribute("data-natural-width", image.naturalWidth);
    if (!image.complete || image.naturalWidth === 0) { broken++; }
  }
  document.body.setAttribute("data-images", images.length);
  document.body.setAttribute("data-broken-images", broken);
});
"""

_SECTIONS = (
    ("data", "Data"),
    ("clustering", "Clustering with the masked metrics"),
    ("jaccard", "Jaccard clustering and its weaknesses"),
    ("networks", "Neighbours and per-cluster networks"),
    ("kfold", "k-fold comparison with the baselines"),
    ("recommendations", "Sample recommendations"),
    ("run", "How this report was made"),
)


def render_report(inputs: ReportInputs) -> str:
    """The whole report as one HTML string."""
    body = [
        _header(inputs),
        _data_section(inputs),
        _clustering_section(inputs),
        _jaccard_section(inputs),
        _networks_section(inputs),
        _kfold_section(inputs),
        _recommendations_section(inputs),
        _run_section(inputs),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>clusterrec report</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_IMAGE_CHECK}</script>\n</body>\n</html>\n"
    )


def _header(inputs: ReportInputs) -> str:
    manifest = inputs.manifest
    source = manifest["input"]
    stats = inputs.data["statistics"]
    origin = (
        f"generated data in the assignment's Dataset.npy format (size {inputs.generated['size']}"
        f", seed {inputs.generated['seed']})"
        if inputs.generated
        else "the file"
    )
    reused = manifest["stages_reused"]
    computed = sum(stage["computed_seconds"] for stage in manifest["stages"])
    stages = len(manifest["stages"])
    lines = [
        "<h1>clusterrec: cluster-based collaborative filtering report</h1>",
        f'<p class="note">{_esc(origin)} <code>{_esc(source["path"])}</code> '
        f"(SHA-256 <code>{source['sha256'][:16]}…</code>); seed {manifest['seed']}; made "
        f"{_esc(manifest['created'])} with clusterrec {_esc(manifest['clusterrec'])} in "
        f"{manifest['seconds']:.1f} s ({reused} of {stages} stages reused from the cache; "
        f"computing all of them took {computed:.0f} s).</p>",
        '<div class="summary"><ul>',
        f"<li>{stats['users']:,} users, {stats['items']:,} movies, {stats['ratings']:,} ratings "
        "after filtering.</li>",
    ]
    for metric, sweep in inputs.sweeps.items():
        best = next((p for p in sweep["points"] if p["L"] == sweep["suggested"]), None)
        if best is not None:
            lines.append(
                f"<li>{_esc(metric)} ({_esc(sweep['algorithm'])}): suggested L = {best['L']}, "
                f"silhouette {_number(best['silhouette'])}.</li>"
            )
    overall = inputs.networks["overall"]
    lines.append(
        f"<li>Per-cluster networks (users protocol): training MAE {overall['train_mae']:.3f}, "
        f"test MAE {overall['test_mae']:.3f}.</li>"
    )
    if not inputs.kfold.empty:
        best = inputs.kfold.sort_values("mae").iloc[0]
        lines.append(f"<li>k-fold: lowest MAE {best['mae']:.3f} by {_esc(best['model'])}.</li>")
    lines.append("</ul></div>")
    lines.append(
        "<nav><ol>"
        + "".join(f'<li><a href="#{key}">{_esc(title)}</a></li>' for key, title in _SECTIONS)
        + "</ol></nav>"
    )
    return "\n".join(lines)


def _data_section(inputs: ReportInputs) -> str:
    data = inputs.data
    dropped = data["filter"]
    read = data["read"]
    parts = [
        _heading("data"),
        _paragraphs(data_discussion(data)),
        _table(inputs.counts.rename(columns={"what": ""}), text_columns=("",)),
        _paragraph(
            f"Dropped: {read.get('bad_records', 0):,} bad records, "
            f"{read.get('duplicates', 0):,} duplicate (user, movie) pairs, "
            f"{dropped['users_below']:,} users below Rmin and {dropped['users_above']:,} above "
            f"Rmax (the counts above are before and after this filter)."
        ),
    ]
    counts = data["statistics"]["rating_counts"]
    parts.append(
        _table(
            pd.DataFrame([counts], index=["ratings"]).rename_axis("rating").reset_index(),
            text_columns=("rating",),
        )
    )
    parts.append(_figure(inputs, "ratings_per_user", "Number of ratings per kept user, |phi(u)|."))
    parts.append(
        _figure(
            inputs,
            "rating_span_days",
            "Each kept user's rating time span: days between their first and last rating.",
        )
    )
    return "\n".join(parts)


def _sweep_table(sweep: dict) -> str:
    rows = [
        {
            "L": p["L"],
            "objective": p["objective"],
            "silhouette": p["silhouette"],
            "iterations": p["n_iter"],
            "cluster sizes": " ".join(str(s) for s in p["sizes"]),
            "seconds": p["seconds"],
        }
        for p in sweep["points"]
    ]
    return _table(pd.DataFrame(rows), text_columns=("cluster sizes",))


def _metric_block(inputs: ReportInputs, metric: str) -> str:
    sweep = inputs.sweeps[metric]
    row = _evidence_row(inputs.evidence, metric)
    sample = sweep.get("silhouette_users")
    note = f" Silhouettes over a sample of {sample:,} users." if sample else ""
    return "\n".join(
        [
            f"<h3>{_esc(metric)} ({_esc(sweep['algorithm'])})</h3>",
            _sweep_table(sweep),
            _figure(
                inputs,
                f"choose_L_{metric}",
                f"Choosing L for {metric}: objective (elbow) and mean silhouette against L; "
                f"suggested: {sweep['rule']}.{note}",
            ),
            _figure(
                inputs,
                f"clusters_2d_{metric}",
                f"Users in 2-D (classical MDS of the {metric} distances), coloured by cluster, "
                "for several L.",
            ),
            _paragraphs(metric_discussion(metric, sweep, row)),
        ]
    )


#: Rows of the diagnostics table: evidence key -> (label, what it tells).
_EVIDENCE_ROWS = {
    "algorithm": ("algorithm", ""),
    "n_clusters": ("L (suggested)", "the L the row's cluster measures are taken at"),
    "no_co_rated_share": ("pairs without a co-rated movie", "no evidence for the masked metrics"),
    "undefined_share": ("undefined pairs", "set to the metric's largest value"),
    "at_max_share": ("pairs at the largest value", "indistinguishable from 'nothing in common'"),
    "q05": ("5% quantile", "of the defined distances"),
    "median": ("median", ""),
    "q95": ("95% quantile", ""),
    "relative_iqr": ("IQR / median", "small: every pair about equally far (concentration)"),
    "spearman_co_rated": ("Spearman rho vs co-rated movies", "0: independent of overlap"),
    "silhouette": ("silhouette", "> 0.25 weak, > 0.5 reasonable, > 0.7 strong structure"),
    "size_entropy": ("size entropy", "1: clusters of equal size"),
    "largest_to_smallest": ("largest / smallest cluster", ""),
    "ari_vs_truth": ("ARI vs planted groups", "generated data only; 1: recovered exactly"),
}


def _evidence_table(evidence: dict) -> str:
    """Metrics as columns, measures as rows, with what each measure tells."""
    rows = {row["metric"]: row for row in evidence["metrics"]}
    lines = []
    for key, (label, meaning) in _EVIDENCE_ROWS.items():
        if not any(key in row for row in rows.values()):
            continue
        line = {"measure": label}
        for metric, row in rows.items():
            value = row.get(key)
            line[metric] = _percent(value) if key.endswith("_share") else value
        line["what it tells"] = meaning
        lines.append(line)
    return _table(pd.DataFrame(lines), text_columns=("measure", "what it tells"))


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _clustering_section(inputs: ReportInputs) -> str:
    metrics = [m for m in inputs.sweeps if m != "jaccard"]
    parts = [
        _heading("clustering"),
        _paragraph(
            "Each metric is computed over co-rated movies only (the masked distances); k-means "
            "runs on the sparse ratings with centroids that cover the movies their members "
            "rated. For each L the objective (elbow) and the mean silhouette on the metric's "
            "own distances are recorded."
        ),
    ]
    parts += [_metric_block(inputs, metric) for metric in metrics]
    parts += [
        "<h3>Diagnostics: how well each metric captures similarity</h3>",
        _paragraph(
            f"Measured over {inputs.evidence['metrics'][0]['pairs']:,} user pairs at each "
            "metric's suggested L (quantiles over pairs with a defined distance)."
        ),
        _evidence_table(inputs.evidence),
        _paragraph(agreement_discussion(inputs.evidence)),
    ]
    return "\n".join(parts)


def _jaccard_section(inputs: ReportInputs) -> str:
    jaccard = inputs.jaccard
    tracks = pd.DataFrame(
        {
            "metric": list(jaccard.get("tracks_disagreement", {})),
            "Spearman with RMS rating difference": list(
                jaccard.get("tracks_disagreement", {}).values()
            ),
        }
    )
    nearest = pd.DataFrame(jaccard.get("nearest_neighbour", [])).rename(
        columns={
            "median_co_rated": "median co-rated movies",
            "median_rms_difference": "median RMS rating difference",
            "share_without_co_rated": "share with no co-rated movie",
        }
    )
    activity = pd.DataFrame(jaccard.get("activity_by_cluster", [])).rename(
        columns={"min": "eta² min", "max": "eta² max", "mean": "eta² mean"}
    )
    parts = [_heading("jaccard")]
    if "jaccard" in inputs.sweeps:
        parts.append(_metric_block(inputs, "jaccard"))
    parts += [
        "<h3>What Jaccard ignores, measured</h3>",
        _paragraphs(jaccard_discussion(jaccard, inputs.evidence)),
        _caption_table(
            "Does the distance track rating disagreement? (pairs with at least "
            f"{jaccard.get('min_pairs_overlap', 5)} co-rated movies)",
            tracks,
        ),
        _caption_table("Each user's nearest neighbour under each metric", nearest),
        _caption_table(
            "Share of the variance of log(number of ratings) explained by the clusters "
            "(eta², over the L range)",
            activity,
        ),
    ]
    return "\n".join(parts)


def _networks_section(inputs: ReportInputs) -> str:
    network = inputs.networks["network"]
    hidden = " → ".join(str(h) for h in network["hidden"])
    table = inputs.users_protocol.rename(
        columns={
            "train_users": "train users",
            "test_users": "test users",
            "train_ratings": "train ratings",
            "test_ratings": "test ratings",
            "train_mae": "train MAE",
            "test_mae": "test MAE",
            "train_rmse": "train RMSE",
            "test_rmse": "test RMSE",
            "test_fallback_share": "test fallback",
        }
    )
    table["test fallback"] = [_percent(v) for v in table["test fallback"]]
    neighbours = inputs.neighbours.rename(
        columns={
            "mean_distance": "mean distance to the k",
            "nearest_distance": "mean distance to the nearest",
            "empty_slot_share": "empty neighbour slots",
        }
    )
    neighbours["empty neighbour slots"] = [_percent(v) for v in neighbours["empty neighbour slots"]]
    return "\n".join(
        [
            _heading("networks"),
            _paragraph(
                "Inside each Jaccard cluster every user gets their k nearest neighbours by "
                "Jaccard distance (never themselves, and only training users), and one "
                "multilayer network per cluster maps what the neighbours did with a movie to "
                f"the user's rating. Network: inputs {_esc(network['inputs'])}, target "
                f"{_esc(network['target'])}, hidden layers {hidden}, k = "
                f"{network['n_neighbors']}, Adam {network['learning_rate']:g}, up to "
                f"{network['epochs']} epochs."
            ),
            _paragraph(f"Protocol: {inputs.networks['protocol']}."),
            _caption_table("Neighbours inside each cluster (Jaccard distances)", neighbours),
            _caption_table("Training and test error per cluster (the assignment's table)", table),
            _paragraphs(networks_discussion(inputs.users_protocol, inputs.networks)),
            _figure(inputs, "mae_per_cluster", "MAE of training and test users per cluster."),
            _figure(
                inputs,
                "learning_curves",
                "Learning curves of the per-cluster networks (mean squared error per epoch).",
            ),
        ]
    )


def _kfold_section(inputs: ReportInputs) -> str:
    summary = inputs.kfold
    meta = inputs.kfold_meta
    frame = pd.DataFrame({"model": summary["model"]})
    for column in summary.columns:
        if column in ("model", "n_ranked_users", "predict_seconds") or column.endswith("_std"):
            continue
        if column.endswith("_seconds"):
            frame[column.replace("_seconds", " s")] = summary[column].round(2)
            continue
        spread = summary.get(f"{column}_std", pd.Series(np.nan, index=summary.index))
        name = column.replace("_at_", "@").replace("_share", "")
        frame[name] = [_mean_sd(m, s) for m, s in zip(summary[column], spread, strict=True)]
    top_n = next(
        (int(c.rsplit("_", 1)[1]) for c in summary.columns if c.startswith("ndcg_at_")), 10
    )
    return "\n".join(
        [
            _heading("kfold"),
            _paragraph(f"Protocol: {meta['protocol']} Top-N ranked for {meta['ranking']}."),
            _paragraph(
                "Each cell: mean over folds ± standard deviation; times in seconds per fold."
            ),
            _table(frame, text_columns=("model",)),
            _paragraphs(kfold_discussion(summary, top_n)),
            _figure(inputs, "kfold", "MAE and RMSE per model, mean over folds ± sd."),
        ]
    )


def _recommendations_section(inputs: ReportInputs) -> str:
    parts = [_heading("recommendations")]
    if inputs.titles_available:
        parts.append(_paragraph("Titles come from the items table given with --items."))
    else:
        parts.append(
            _paragraph(
                "Titles are unavailable: "
                + (
                    "the generated data have movie ids only."
                    if inputs.generated
                    else "no items table was given (run with --items FILE to show titles)."
                )
            )
        )
    recs = inputs.recommendations
    if recs.empty:
        return "\n".join([*parts, _paragraph("No sample users were asked for.")])
    parts.append(_paragraph(recommendation_discussion(recs)))
    for user, table in recs.groupby("user", sort=False):
        role = "a test user" if bool(table["test_user"].iloc[0]) else "a training user"
        profile = inputs.profiles[inputs.profiles["user"] == user].drop(columns="user")
        shown = table.drop(columns=["user", "test_user"]).rename(
            columns={"predicted_rating": "predicted", "fallback": "fallback (no neighbour)"}
        )
        shown["predicted"] = shown["predicted"].round(2)
        parts += [
            f"<h3>User {_esc(user)} ({role})</h3>",
            '<div class="side">',
            "<div>" + _caption_table("Their best-rated movies", profile) + "</div>",
            "<div>"
            + _caption_table("Recommended (not rated by them), best first", shown)
            + "</div>",
            "</div>",
        ]
    return "\n".join(parts)


def _run_section(inputs: ReportInputs) -> str:
    manifest = inputs.manifest
    stages = pd.DataFrame(manifest["stages"]).drop(columns=["key"])
    stages = stages.round({"seconds": 2, "peak_rss_mib": 0, "computed_seconds": 2})
    stages = stages.rename(
        columns={
            "cached": "reused",
            "seconds": "seconds (this run)",
            "peak_rss_mib": "peak RSS MiB",
            "computed_seconds": "seconds when computed",
        }
    )
    packages = pd.DataFrame([{"package": k, "version": v} for k, v in manifest["packages"].items()])
    return "\n".join(
        [
            _heading("run"),
            _paragraph(
                f"Stage outputs are cached in <code>{_esc(manifest['cache']['folder'])}</code>, "
                "keyed on the input's SHA-256 and the parameters each stage depends on. Peak "
                f"memory: {_esc(manifest['memory_method'])}. The run directory holds "
                "figures/, results/ (every table as CSV), model/, config.toml and manifest.json.",
                escape=False,
            ),
            _table(stages, text_columns=("name",)),
            _table(packages, text_columns=("package", "version")),
            "<h3>Effective configuration</h3>",
            f"<pre>{_esc(inputs.config_toml)}</pre>",
        ]
    )


# -- HTML pieces ----------------------------------------------------------------------------------


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _heading(key: str) -> str:
    number = [k for k, _ in _SECTIONS].index(key) + 1
    title = dict(_SECTIONS)[key]
    return f'<h2 id="{key}">{number}. {_esc(title)}</h2>'


def _paragraph(text: str, *, escape: bool = True) -> str:
    return f"<p>{_esc(text) if escape else text}</p>" if text else ""


def _paragraphs(sentences: Sequence[str]) -> str:
    return _paragraph(" ".join(sentences))


def _figure(inputs: ReportInputs, name: str, caption: str) -> str:
    path = inputs.figures.get(name)
    if path is None:
        return ""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(caption)}" '
        f'data-name="{_esc(name)}"><figcaption>{_esc(caption)}</figcaption></figure>'
    )


def _mean_sd(mean: float, sd: float) -> str:
    return f"{mean:.4f} ± {sd:.4f}" if math.isfinite(sd) else f"{mean:.4f}"


def _caption_table(caption: str, frame: pd.DataFrame) -> str:
    if frame.empty:
        return ""
    text = tuple(c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]))
    return f'<p class="note">{_esc(caption)}</p>' + _table(frame, text_columns=text)


def _table(frame: pd.DataFrame, *, text_columns: Sequence[str] = ()) -> str:
    """A bordered HTML table; numbers formatted, text columns left-aligned."""
    head = "".join(
        f'<th class="text">{_esc(c)}</th>' if c in text_columns else f"<th>{_esc(c)}</th>"
        for c in frame.columns
    )
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, values, strict=True):
            css = ' class="text"' if column in text_columns else ""
            cells.append(f"<td{css}>{_esc(_cell(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="scroll"><table><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        value = float(value)
        if not math.isfinite(value):
            return "–"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1000:
            return f"{value:,.1f}"
        return f"{value:.4g}" if abs(value) >= 0.001 else f"{value:.3g}"
    return str(value)
