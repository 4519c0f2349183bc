"""The run directory: figures/, results/, model/, config.toml, manifest.json and report.html."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clusterrec._atomic import atomic_write
from clusterrec._files import copy_file, write_csv, write_json
from clusterrec.run.cache import StageCache
from clusterrec.run.config import RunConfig
from clusterrec.run.manifest import build_manifest
from clusterrec.run.measure import StageRecord
from clusterrec.run.stages import (
    AblationStageResult,
    ClusteringResult,
    DataResult,
    DistanceResult,
    EvidenceResult,
    InputFile,
    KFoldResult,
    NetworksResult,
    RecommendationResult,
)

__all__ = [
    "RunOutputs",
    "copy_model",
    "data_counts",
    "export_results",
    "report_inputs",
    "sweep_table",
    "with_titles",
    "write_manifest",
    "write_run_directory",
]

# -- the run directory ----------------------------------------------------------------------------


@dataclass
class RunOutputs:
    """Every stage's results, as the run directory and the report need them."""

    config: RunConfig
    source: InputFile
    data: DataResult
    distances: dict[str, DistanceResult]
    clusterings: dict[str, ClusteringResult]
    evidence: EvidenceResult
    networks: NetworksResult
    kfold: KFoldResult
    recommendations: RecommendationResult
    titles: pd.Series | None
    items: Path | None
    ablation: AblationStageResult | None = None  # only with [evaluation] ablation = true


def write_run_directory(
    out: Path,
    outputs: RunOutputs,
    records: list[StageRecord],
    cache: StageCache,
    started: float,
) -> Path:
    """figures/, results/, model/, config.toml, manifest.json and report.html in ``out``."""
    from clusterrec import report
    from clusterrec.viz.figures import draw_run_figures

    out.mkdir(parents=True, exist_ok=True)
    figures = draw_run_figures(outputs, out / "figures")
    export_results(outputs, out / "results")
    copy_model(outputs.networks, out / "model")
    with atomic_write(out / "config.toml", "w") as handle:
        handle.write(outputs.config.to_toml())
    manifest = write_manifest(out, outputs, records, cache, time.perf_counter() - started)
    html = report.render_report(report_inputs(outputs, figures, manifest))
    with atomic_write(out / "report.html", "w") as handle:
        handle.write(html)
    return out / "report.html"


def write_manifest(
    out: Path, outputs: RunOutputs, records: list[StageRecord], cache: StageCache, seconds: float
) -> dict:
    """manifest.json and results/stages.csv; written again once the report step is measured."""
    manifest = build_manifest(outputs, records, cache, seconds)
    write_json(out / "manifest.json", manifest)
    write_csv(out / "results" / "stages.csv", pd.DataFrame(manifest["stages"]))
    return manifest


def copy_model(networks: NetworksResult, target: Path) -> Path:
    """The model folder the networks stage saved, copied file by file (atomically)."""
    for path in sorted(networks.model_folder.iterdir()):
        if path.is_file():
            copy_file(path, target / path.name)
    return target


def export_results(outputs: RunOutputs, folder: Path) -> None:
    """Every table of the run as CSV in ``folder``."""
    data = outputs.data
    write_csv(folder / "user_statistics.csv", data.user_statistics)
    write_csv(folder / "data_counts.csv", data_counts(data.info))
    counts = data.statistics["rating_counts"]
    write_csv(
        folder / "rating_counts.csv",
        pd.DataFrame({"rating": list(counts), "count": list(counts.values())}),
    )
    for metric, clustering in outputs.clusterings.items():
        write_csv(folder / f"sweep_{metric}.csv", sweep_table(clustering.summary()))
        labels = pd.DataFrame({"user": data.ratings.user_labels.astype(str)})
        for L, array in sorted(clustering.labels.items()):
            labels[f"L{L}"] = array
        write_csv(folder / f"labels_{metric}.csv", labels)
    evidence = outputs.evidence
    write_csv(folder / "evidence.csv", evidence.metrics)
    write_csv(folder / "agreement.csv", evidence.agreement)
    write_csv(folder / "activity_by_cluster.csv", evidence.activity)
    write_csv(folder / "nearest_neighbour.csv", evidence.nearest_neighbour)
    networks = outputs.networks
    write_csv(folder / "users_protocol.csv", networks.table)
    write_csv(folder / "learning_curves.csv", networks.curves)
    write_csv(folder / "neighbours_per_cluster.csv", networks.neighbours)
    if networks.leaky:  # LEAKY in its name, its protocol column and every row
        leaky = pd.DataFrame(networks.leaky["clusters"]).assign(protocol=networks.leaky["protocol"])
        write_csv(folder / "notebook_leaky_LEAKY.csv", leaky)
    write_csv(folder / "kfold_folds.csv", outputs.kfold.folds)
    write_csv(folder / "kfold_summary.csv", outputs.kfold.summary)
    if outputs.ablation is not None:
        write_csv(folder / "ablation.csv", outputs.ablation.summary)
        write_csv(folder / "ablation_splits.csv", outputs.ablation.splits)
    recs = with_titles(outputs.recommendations.recommendations, outputs.titles)
    write_csv(folder / "recommendations.csv", recs)
    write_csv(
        folder / "user_profiles.csv",
        with_titles(outputs.recommendations.profiles, outputs.titles),
    )


def data_counts(info: dict) -> pd.DataFrame:
    """Ratings, users and movies read, kept and dropped by the Rmin..Rmax filter."""
    before, after = info["filter"]["before"], info["filter"]["after"]
    return pd.DataFrame(
        [
            {"what": "read", **before},
            {"what": "kept", **after},
            {"what": "dropped", **{k: before[k] - after[k] for k in before}},
        ]
    )


def sweep_table(summary: dict) -> pd.DataFrame:
    """One row per L: objective, silhouette, sizes (space-separated), iterations, seconds."""
    rows = [
        {**point, "sizes": " ".join(str(s) for s in point["sizes"])} for point in summary["points"]
    ]
    return pd.DataFrame(rows)


def with_titles(frame: pd.DataFrame, titles: pd.Series | None) -> pd.DataFrame:
    """``frame`` with a title column after ``item`` when an items table was given."""
    if titles is None or frame.empty or "item" not in frame:
        return frame
    frame = frame.copy()
    lookup = titles[~titles.index.duplicated()]
    frame.insert(
        frame.columns.get_loc("item") + 1,
        "title",
        lookup.reindex(frame["item"].astype(str)).fillna("").to_numpy(),
    )
    return frame


def report_inputs(outputs: RunOutputs, figures: dict[str, Path], manifest: dict) -> object:
    """The values :func:`clusterrec.report.render_report` shows."""
    from clusterrec.report.html import ReportInputs
    from clusterrec.run.plan import DataShape, ablation_plan

    recs = outputs.recommendations
    shape = DataShape.of(outputs.data.ratings)
    return ReportInputs(
        config_toml=outputs.config.to_toml(),
        manifest=manifest,
        data=outputs.data,
        counts=data_counts(outputs.data.info),
        figures=figures,
        clusterings=outputs.clusterings,
        evidence=outputs.evidence,
        networks=outputs.networks,
        kfold=outputs.kfold,
        recommendations=with_titles(recs.recommendations, outputs.titles),
        profiles=with_titles(recs.profiles, outputs.titles),
        titles_available=outputs.titles is not None,
        generated=outputs.source.generated,
        ablation=outputs.ablation,
        ablation_seconds=ablation_plan(shape, outputs.config).seconds,
    )
