"""The run report as one self-contained HTML page.

The page follows the assignment: the data, clustering with each masked metric, the Jaccard
clustering and its weaknesses, the per-cluster networks, the k-fold comparison with the
baselines, the default model's ablation (or how to add it) and sample recommendations, then
how the run was made. Figures are embedded as base64 PNG, so the file opens offline; a small
inline script records each image's decoded width in ``data-natural-width`` (and the count of
broken images on ``<body>``) for ``scripts/check_report.py``.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clusterrec.report.wording import (
    _evidence_row,
    _number,
    ablation_discussion,
    ablation_not_run,
    agreement_discussion,
    data_discussion,
    jaccard_discussion,
    kfold_discussion,
    leaky_discussion,
    leaky_rows,
    metric_discussion,
    networks_discussion,
    recommendation_discussion,
)

if TYPE_CHECKING:
    from clusterrec.run.stages import (
        AblationStageResult,
        ClusteringResult,
        DataResult,
        EvidenceResult,
        KFoldResult,
        NetworksResult,
    )

__all__ = [
    "ReportInputs",
    "render_report",
]


@dataclass
class ReportInputs:
    """Everything the report shows: the run's typed stage results and the figures drawn from
    them."""

    config_toml: str
    manifest: dict
    data: DataResult
    counts: pd.DataFrame
    figures: Mapping[str, Path]
    clusterings: Mapping[str, ClusteringResult]
    evidence: EvidenceResult
    networks: NetworksResult
    kfold: KFoldResult
    recommendations: pd.DataFrame
    profiles: pd.DataFrame
    titles_available: bool
    generated: dict | None
    ablation: AblationStageResult | None = None  # None: not run ([evaluation] ablation)
    ablation_seconds: float = 0.0  # its rough cost here, quoted when it was not run


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
    ("ablation", "Ablation of the default model"),
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
        _ablation_section(inputs),
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
    stats = inputs.data.statistics
    origin = (
        f"generated data in the assignment's Dataset.npy format (size {inputs.generated['size']}"
        f", seed {inputs.generated['seed']})"
        if inputs.generated
        else f"{source['builtin']} (MovieLens, shipped in the package; no DATA given), read from"
        if source.get("builtin")
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
    for metric, clustering in inputs.clusterings.items():
        best = next((p for p in clustering.points if p.L == clustering.suggested), None)
        if best is not None:
            lines.append(
                f"<li>{_esc(metric)} ({_esc(clustering.algorithm)}): suggested L = {best.L}, "
                f"silhouette {_number(best.silhouette)}.</li>"
            )
    overall = inputs.networks.overall
    lines.append(
        f"<li>Per-cluster networks (users protocol): training MAE {overall['train_mae']:.3f}, "
        f"test MAE {overall['test_mae']:.3f}.</li>"
    )
    if not inputs.kfold.summary.empty:
        best = inputs.kfold.summary.sort_values("mae").iloc[0]
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
    dropped = data.filter
    read = data.read
    parts = [
        _heading("data"),
        _paragraphs(data_discussion(data.info)),
        _table(inputs.counts.rename(columns={"what": ""}), text_columns=("",)),
        _paragraph(
            f"Dropped: {read.get('bad_records', 0):,} bad records, "
            f"{read.get('duplicates', 0):,} duplicate (user, movie) pairs, "
            f"{dropped.users_below:,} users below Rmin and {dropped.users_above:,} above "
            f"Rmax (the counts above are before and after this filter)."
        ),
    ]
    counts = data.statistics["rating_counts"]
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


def _sweep_table(clustering: ClusteringResult) -> str:
    rows = [
        {
            "L": p.L,
            "objective": p.objective,
            "silhouette": p.silhouette,
            "iterations": p.n_iter,
            "cluster sizes": " ".join(str(s) for s in p.sizes),
            "seconds": p.seconds,
        }
        for p in clustering.points
    ]
    return _table(pd.DataFrame(rows), text_columns=("cluster sizes",))


def _metric_block(inputs: ReportInputs, metric: str) -> str:
    clustering = inputs.clusterings[metric]
    row = _evidence_row(inputs.evidence.evidence, metric)
    sample = clustering.silhouette_users
    note = f" Silhouettes over a sample of {sample:,} users." if sample else ""
    return "\n".join(
        [
            f"<h3>{_esc(metric)} ({_esc(clustering.algorithm)})</h3>",
            _sweep_table(clustering),
            _figure(
                inputs,
                f"choose_L_{metric}",
                f"Choosing L for {metric}: objective (elbow) and mean silhouette against L; "
                f"suggested: {clustering.rule}.{note}",
            ),
            _figure(
                inputs,
                f"clusters_2d_{metric}",
                f"Users in 2-D (classical MDS of the {metric} distances), coloured by cluster, "
                "for several L.",
            ),
            _paragraphs(metric_discussion(metric, clustering.summary(), row)),
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
    metrics = [m for m in inputs.clusterings if m != "jaccard"]
    evidence = inputs.evidence.evidence
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
            f"Measured over {evidence['metrics'][0]['pairs']:,} user pairs at each "
            "metric's suggested L (quantiles over pairs with a defined distance)."
        ),
        _evidence_table(evidence),
        _paragraph(agreement_discussion(evidence)),
    ]
    return "\n".join(parts)


def _jaccard_section(inputs: ReportInputs) -> str:
    jaccard = inputs.evidence.jaccard
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
    if "jaccard" in inputs.clusterings:
        parts.append(_metric_block(inputs, "jaccard"))
    parts += [
        "<h3>What Jaccard ignores, measured</h3>",
        _paragraphs(jaccard_discussion(jaccard, inputs.evidence.evidence)),
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
    networks = inputs.networks
    network = networks.network
    hidden = " → ".join(str(h) for h in network.hidden)
    table = networks.table.rename(
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
    neighbours = networks.neighbours.rename(
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
                f"the user's rating. Network: inputs {_esc(network.inputs)}, target "
                f"{_esc(network.target)}, hidden layers {hidden}, k = "
                f"{network.n_neighbors}, Adam {network.learning_rate:g}, up to "
                f"{network.epochs} epochs."
            ),
            _paragraph(f"Protocol: {networks.protocol}."),
            _caption_table("Neighbours inside each cluster (Jaccard distances)", neighbours),
            _caption_table("Training and test error per cluster (the assignment's table)", table),
            _paragraphs(networks_discussion(networks)),
            _leaky_block(networks),
            _figure(inputs, "mae_per_cluster", "MAE of training and test users per cluster."),
            _figure(
                inputs,
                "learning_curves",
                "Learning curves of the per-cluster networks (mean squared error per epoch).",
            ),
        ]
    )


def _leaky_block(networks: NetworksResult) -> str:
    """The notebook's leaky figure beside the honest one (nothing when not computed)."""
    rows = leaky_rows(networks)
    if rows.empty:
        return ""
    return "\n".join(
        [
            _caption_table(
                "The original notebook's evaluation (LEAKY) beside the honest one: same data, "
                "clusters and k (the notebook counts the user among their k)",
                rows,
            ),
            _paragraph(f"Protocol of the first row: {networks.leaky['protocol']}."),
            _paragraphs(leaky_discussion(networks)),
        ]
    )


def _kfold_section(inputs: ReportInputs) -> str:
    summary = inputs.kfold.summary
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
            _paragraph(
                f"Protocol: {inputs.kfold.protocol} Top-N ranked for {inputs.kfold.ranking}."
            ),
            _paragraph(
                "Each cell: mean over folds ± standard deviation; times in seconds per fold."
            ),
            _table(frame, text_columns=("model",)),
            _paragraphs(kfold_discussion(summary, top_n)),
            _figure(inputs, "kfold", "MAE and RMSE per model, mean over folds ± sd."),
        ]
    )


def _ablation_section(inputs: ReportInputs) -> str:
    """The ablation table, its protocol and what it says; when not run, how to add it."""
    from clusterrec.evaluation.ablation import delta_text

    if inputs.ablation is None:
        return "\n".join(
            [_heading("ablation"), _paragraph(ablation_not_run(inputs.ablation_seconds))]
        )
    summary = inputs.ablation.summary
    rows = summary.to_dict("records")
    frame = pd.DataFrame(
        {
            "variant": summary["variant"],
            "what": summary["what"],
            "RMSE": [_mean_sd(r["rmse"], r["rmse_std"]) for r in rows],
            "MAE": [_mean_sd(r["mae"], r["mae_std"]) for r in rows],
            "Δ RMSE": [delta_text(r, "rmse") for r in rows],
            "Δ MAE": [delta_text(r, "mae") for r in rows],
            "fallback": [_percent(r["fallback_share"]) for r in rows],
            "fit s": summary["fit_seconds"].round(1),
        }
    )
    return "\n".join(
        [
            _heading("ablation"),
            _paragraph(f"Protocol: {inputs.ablation.protocol}"),
            _paragraph(
                "Each cell: mean over splits ± standard deviation; Δ: the variant minus the "
                "full model in the same split, mean (smallest..largest); fit seconds per split."
            ),
            _table(frame, text_columns=("variant", "what", "Δ RMSE", "Δ MAE")),
            _paragraphs(ablation_discussion(summary)),
        ]
    )


def _recommendations_section(inputs: ReportInputs) -> str:
    parts = [_heading("recommendations")]
    if inputs.titles_available and inputs.manifest["input"].get("builtin"):
        parts.append(_paragraph("Titles come from the built-in data set's movies.csv."))
    elif inputs.titles_available:
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
