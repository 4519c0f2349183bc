"""The report's words, generated from the measured numbers, so they change when the data do."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from clusterrec.run.stages import NetworksResult

__all__ = [
    "SILHOUETTE_SCALE",
    "ablation_discussion",
    "ablation_not_run",
    "agreement_discussion",
    "agreement_words",
    "data_discussion",
    "elbow",
    "jaccard_discussion",
    "kfold_discussion",
    "metric_discussion",
    "networks_discussion",
    "recommendation_discussion",
    "recovery_words",
    "silhouette_words",
    "strength",
]

#: Kaufman and Rousseeuw's reading of the mean silhouette: (lower bound, wording).
SILHOUETTE_SCALE = (
    (0.70, "a strong structure"),
    (0.50, "a reasonable structure"),
    (0.25, "a weak structure that could be artificial"),
    (-1.0, "no substantial cluster structure"),
)


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


def networks_discussion(networks: NetworksResult) -> list[str]:
    """Sentences on training and test errors of the per-cluster networks."""
    table = networks.table
    clusters = table[table["cluster"].astype(str) != "all"]
    overall = networks.overall
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
    epochs = [c.epochs for c in networks.clusters]
    if epochs:
        best_epochs = [c.best_epoch + 1 for c in networks.clusters]
        sentences.append(
            f"Training ran {min(epochs)} to {max(epochs)} epochs per cluster; the kept weights "
            f"are from epoch {min(best_epochs)} to {max(best_epochs)}"
            + (
                " (early stopping on validation users)."
                if networks.network.validation_share > 0
                else " (no early stopping in this preset)."
            )
        )
    return sentences


def leaky_rows(networks: NetworksResult) -> pd.DataFrame:
    """The original notebook's evaluation (LEAKY) beside the honest users protocol, same
    data, clusters and k: one row each (empty when the run did not make the comparison)."""
    if not networks.leaky:
        return pd.DataFrame()
    leaky, honest = networks.leaky["overall"], networks.overall
    return pd.DataFrame(
        [
            {
                "protocol": "notebook-leaky (LEAKY: the original notebook's evaluation)",
                "train MAE": leaky["train_mae"],
                "test MAE": leaky["test_mae"],
                "test RMSE": leaky["test_rmse"],
                "test ratings": leaky["test_ratings"],
            },
            {
                "protocol": "users protocol (honest, the table above)",
                "train MAE": honest["train_mae"],
                "test MAE": honest["test_mae"],
                "test RMSE": honest["test_rmse"],
                "test ratings": honest["test_ratings"],
            },
        ]
    )


def leaky_discussion(networks: NetworksResult) -> list[str]:
    """Why the notebook's figure and the honest one differ, with both numbers."""
    if not networks.leaky:
        return []
    leaky, honest = networks.leaky["overall"]["test_mae"], networks.overall["test_mae"]
    if leaky > 0 and honest >= 2 * leaky:
        compared = f", {honest / leaky:.0f} times larger"
    else:
        compared = f", {honest - leaky:+.3f}"
    return [
        f"The original notebook's evaluation reports a test MAE of {leaky:.3f} on these "
        f"clusters; the honest protocol measures {honest:.3f}{compared}.",
        "They differ because the notebook made every user their own nearest neighbour and "
        "split rows, not users, at random: the rating to predict is one of the network's "
        "inputs, so its test error measures copying, not prediction "
        "(`clusterrec evaluate --protocol notebook-leaky` reproduces it; never a default).",
    ]


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


def ablation_discussion(summary: pd.DataFrame) -> list[str]:
    """Which part of the default model matters most and whether the clusters help, from the
    ablation summary (the numbers of :func:`clusterrec.evaluation.ablation.part_effects`)."""
    from clusterrec.evaluation.ablation import part_effects

    effects = part_effects(summary)
    if effects.empty:
        return []
    seed_noise = float(effects["seed_noise"].iloc[0])
    sentences = [
        "A part counts as helping measurably when the model without it is worse in every "
        "split and by more than the noise: the larger of that difference's standard "
        "deviation over the splits and the seed's own effect"
        + (
            f" (the full model with the next seed moves RMSE by up to {seed_noise:.4f})."
            if math.isfinite(seed_noise)
            else "."
        )
    ]
    top = effects.iloc[0]
    if top["worth"] > 0:
        subject, verb, pronoun = _PART_GRAMMAR.get(top["part"], (top["name"], "matters", "it"))
        sentences.append(
            f"{subject} {verb} most: without {pronoun} RMSE changes by {_worth(top)}"
            + (
                "."
                if top["verdict"] == "helps"
                else ", but even that is within the noise, so no part measurably helps."
            )
        )
    else:
        sentences.append(
            "No part makes RMSE better on average: the model is as good or better without "
            "each of them on these splits."
        )
    clusters = effects[effects["part"] == "clusters"]
    if len(clusters):
        sentences.append(_clusters_sentence(clusters.iloc[0]))
    helping = [r.name for r in effects.itertuples() if r.verdict == "helps"]
    hurting = [r.name for r in effects.itertuples() if r.verdict == "hurts"]
    within = [r.name for r in effects.itertuples() if r.verdict == "within noise"]
    parts = []
    if helping:
        parts.append("help measurably: " + ", ".join(helping))
    if hurting:
        parts.append("hurt measurably: " + ", ".join(hurting))
    if within:
        parts.append("within the noise: " + ", ".join(within))
    sentences.append("In all: " + "; ".join(parts) + ".")
    return sentences


#: (subject, verb, pronoun) of each part in a sentence.
_PART_GRAMMAR = {
    "clusters": ("The clusters", "matter", "them"),
    "user_neighbours": ("The user neighbours", "matter", "them"),
    "item_neighbours": ("The item neighbours", "matter", "them"),
    "factors": ("The factors", "matter", "them"),
    "implicit": ("Implicit feedback", "matters", "it"),
    "autoencoder": ("The item autoencoder", "matters", "it"),
    "averaging": ("Averaging", "matters", "it"),
}


def _worth(effect: Mapping) -> str:
    """``+0.0315 (+0.0301 to +0.0330 over the splits)``: how much RMSE rises without the
    part."""
    low, high = effect["worth_min"], effect["worth_max"]
    if low == high:
        return f"{effect['worth']:+.4f}"
    return f"{effect['worth']:+.4f} ({low:+.4f} to {high:+.4f} over the splits)"


def _clusters_sentence(effect: Mapping) -> str:
    worth, noise = _worth(effect), f"{effect['noise']:.4f}"
    if effect["verdict"] == "helps":
        return (
            f"The clusters help measurably: without them RMSE changes by {worth}, worse in "
            f"every split and by more than the noise ({noise})."
        )
    if effect["verdict"] == "hurts":
        return (
            f"The clusters hurt measurably here: without them RMSE changes by {worth}, lower "
            f"in every split and by more than the noise ({noise})."
        )
    return (
        f"The clusters do not measurably help: without them RMSE changes by {worth}, within "
        f"the noise ({noise})."
    )


def ablation_not_run(seconds: float) -> str:
    """Why the report has no ablation table, how to add it and its rough cost here."""
    cost = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} minutes"
    return (
        "The ablation table (each part of the default model removed in turn, RMSE and MAE on "
        "validation slices of the k-fold training sides) was not run: it is off by default "
        "to keep the run short. Add it with --set evaluation.ablation=true (or ablation = "
        f"true under [evaluation] in the configuration file); on these data it takes about "
        f"{cost} more (18 fits of the default model; a rough estimate)."
    )


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
