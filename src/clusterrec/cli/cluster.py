"""``clusterrec cluster``: cluster users for one or several L, write labels, figures, evidence.

It runs the same stage functions as ``clusterrec run`` (distances, clustering, evidence) and
draws with the same figure functions; its defaults are the run configuration's
(:class:`clusterrec.run.config.RunConfig`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from clusterrec.cli.common import (
    add_data_options,
    apply_run_defaults,
    load_data,
    print_json,
    set_command,
    warn_dropped,
)
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from clusterrec.data.ratings import Ratings
    from clusterrec.run.config import RunConfig
    from clusterrec.run.stages import ClusteringResult

__all__ = [
    "CLI_METRICS",
    "add_to",
    "cluster_and_write",
    "format_cluster_summary",
    "parse_cluster_range",
    "parse_metrics",
    "run_cluster",
    "write_evidence_csv",
    "write_figures",
    "write_labels_csv",
]

#: Metrics offered on the command line (any of clusterrec.distances.METRICS works).
CLI_METRICS = ("euclidean", "cosine", "jaccard", "euclidean_rms")


def add_to(commands: argparse._SubParsersAction) -> None:
    """Add the ``cluster`` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "cluster",
        help="cluster users (k-means, k-medoids, average linkage) for one L or a range",
        description="Cluster the users of DATA (kept by --min-ratings..--max-ratings) under "
        "each --metric for each L in --clusters. Writes, in --out: a labels CSV per metric and "
        "L (original user id, cluster), the figure for choosing L (when a range is given), the "
        "users in 2-D coloured by cluster, and the evidence table for judging the metrics.",
    )
    add_data_options(parser, run_defaults=True)
    options = parser.add_argument_group("clustering")
    options.add_argument(
        "--metric",
        required=True,
        metavar="METRIC[,METRIC...]",
        help=f"distance: {', '.join(CLI_METRICS)}; several, comma-separated, are compared",
    )
    options.add_argument(
        "--algorithm",
        choices=["kmeans", "kmedoids", "agglomerative"],
        help="default: kmeans for euclidean/cosine, as clusterrec run ([jaccard] algorithm) "
        "for jaccard",
    )
    options.add_argument(
        "--clusters",
        required=True,
        metavar="L|A-B",
        help="number of clusters L, or a range A-B to sweep and suggest one",
    )
    options.add_argument(
        "--n-init",
        type=int,
        default=argparse.SUPPRESS,
        metavar="N",
        help="k-means restarts (default: as clusterrec run, [clustering] n_init)",
    )
    parser.add_argument(
        "--out", default="clusters", metavar="DIR", help="folder for outputs (default: clusters)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    set_command(parser, run_cluster)


#: The hook name the modules of ``clusterrec.cli.COMMANDS`` provide.


def run_cluster(args: argparse.Namespace) -> int:
    """Run ``clusterrec cluster``; options are checked before the data are read."""
    from clusterrec.clustering.entry import resolve_algorithm
    from clusterrec.data.filtering import filter_users

    defaults = apply_run_defaults(args, n_init="clustering.n_init")
    metrics = parse_metrics(args.metric)
    values = parse_cluster_range(args.clusters)
    algorithms = {
        metric: resolve_algorithm(
            metric,
            args.algorithm or (defaults.jaccard.algorithm if metric == "jaccard" else None),
        )
        for metric in metrics
    }
    ratings = load_data(args)
    kept, filtered = filter_users(ratings, args.min_ratings, args.max_ratings)
    warn_dropped(ratings)
    if values[-1] > kept.n_users:
        raise ConfigError(
            f"--clusters asks for up to {values[-1]} clusters but only {kept.n_users:,} users "
            "are kept; ask for fewer clusters or widen --min-ratings/--max-ratings"
        )
    payload = cluster_and_write(
        kept, algorithms, values, Path(args.out), args.seed, args.n_init, defaults
    )
    payload["input"] = {
        "path": ratings.source.path if ratings.source else None,
        "users": kept.n_users,
        "items": kept.n_items,
        "ratings": len(kept),
    }
    payload["filter"] = {"min_ratings": filtered.min_ratings, "max_ratings": filtered.max_ratings}
    from clusterrec._files import write_json

    write_json(Path(args.out) / "cluster.json", payload)
    if args.json:
        print_json(payload)
    else:
        print(format_cluster_summary(payload))
    return 0


def parse_metrics(text: str) -> list[str]:
    """``"euclidean,jaccard"`` -> ``["euclidean", "jaccard"]``, each known and given once."""
    metrics = [part.strip() for part in str(text).split(",") if part.strip()]
    unknown = [m for m in metrics if m not in CLI_METRICS]
    if not metrics or unknown or len(set(metrics)) != len(metrics):
        raise ConfigError(
            f"--metric {text!r} not understood: give one or more of {', '.join(CLI_METRICS)}, "
            "comma-separated, each once"
        )
    return metrics


def parse_cluster_range(text: str) -> list[int]:
    """``"5"`` -> ``[5]``, ``"2-10"`` -> ``[2, ..., 10]``; L >= 1 (a range starts at >= 2)."""
    parts = str(text).strip().split("-")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    valid = (len(numbers) == 1 and numbers[0] >= 1) or (
        len(numbers) == 2 and 2 <= numbers[0] <= numbers[1]
    )
    if not valid:
        raise ConfigError(
            f"--clusters {text!r} not understood: give a number L >= 1 (e.g. 5) or a range "
            "A-B with 2 <= A <= B (e.g. 2-10)"
        )
    return list(range(numbers[0], numbers[-1] + 1))


def cluster_and_write(
    ratings: Ratings,
    algorithms: dict[str, str],
    values: Sequence[int],
    out: Path,
    seed: int,
    n_init: int,
    defaults: RunConfig | None = None,
) -> dict:
    """Sweep every metric with the run's stage functions (distances and embedding settings:
    ``defaults``, default ``RunConfig()``), write labels, figures and evidence to ``out``;
    the JSON payload."""
    from clusterrec._files import write_csv
    from clusterrec.run.config import RunConfig
    from clusterrec.run.stages import compute_clustering, compute_distances, compute_evidence

    defaults = defaults or RunConfig()
    settings = defaults.distances
    runs, distances, clusterings = [], {}, {}
    for metric, algorithm in algorithms.items():
        started = time.perf_counter()
        distances[metric] = compute_distances(ratings, metric, settings, seed)
        clusterings[metric] = compute_clustering(
            ratings,
            distances[metric],
            algorithm,
            values,
            settings=settings,
            n_init=n_init,
            embedding_users=defaults.clustering.embedding_users,
            seed=seed,
            progress=True,
        )
        seconds = time.perf_counter() - started
        runs.append(_run_payload(ratings, clusterings[metric], out, seconds))
    figures = write_figures(clusterings, out, defaults.clustering.panels)
    found = compute_evidence(
        ratings, clusterings, distances, None, min_overlap=settings.min_overlap, seed=seed
    )
    evidence = dict(found.evidence)
    evidence["table"] = str(write_csv(out / "evidence.csv", found.metrics))
    evidence["agreement_table"] = str(write_csv(out / "agreement.csv", found.agreement))
    config = {
        "metrics": list(algorithms),
        "algorithms": algorithms,
        "clusters": list(values),
        "seed": seed,
        "n_init": n_init,
    }
    payload = {
        "config": config,
        "out": str(out),
        "runs": runs,
        "figures": figures,
        "evidence": evidence,
    }
    if found.jaccard:
        payload["jaccard"] = found.jaccard
    return payload


def _run_payload(ratings: Ratings, clustering: ClusteringResult, out: Path, seconds: float) -> dict:
    clusters = []
    for point in clustering.points:
        name = f"labels_{clustering.metric}_{clustering.algorithm}_L{point.L}.csv"
        path = write_labels_csv(out / name, ratings.user_labels, clustering.labels[point.L])
        clusters.append(
            {
                "L": point.L,
                "sizes": list(point.sizes),
                "objective": point.objective,
                "silhouette": point.silhouette,
                "n_iter": point.n_iter,
                "converged": point.converged,
                "uncovered_users": point.uncovered_users,
                "seconds": round(point.seconds, 3),
                "labels": str(path),
            }
        )
    return {
        "metric": clustering.metric,
        "algorithm": clustering.algorithm,
        "suggested_L": clustering.suggested,
        "rule": clustering.rule,
        "silhouette_users": clustering.silhouette_users,
        "seconds": round(seconds, 3),
        "clusters": clusters,
    }


def write_figures(
    clusterings: dict[str, ClusteringResult], out: Path, panels: int
) -> dict[str, str]:
    """The choose-L figure (for a range) and the 2-D embedding figure, drawn by the same
    functions as the run's report; their paths."""
    from clusterrec.viz.clusters import choose_n_clusters_figure
    from clusterrec.viz.data import save_figure
    from clusterrec.viz.figures import clustering_embedding_figure

    figures = {}
    names = "_".join(clusterings)
    shown = list(clusterings.values())
    if len(shown[0].points) > 1:
        figure = choose_n_clusters_figure(shown)
        figures["choose_L"] = str(save_figure(figure, out / f"choose_L_{names}.png"))
    figure = clustering_embedding_figure(shown, panels)
    figures["embedding"] = str(save_figure(figure, out / f"clusters_2d_{names}.png"))
    return figures


def write_labels_csv(path: Path, user_labels: np.ndarray, labels: np.ndarray) -> Path:
    """``user,cluster`` rows with the original user ids, written atomically."""
    import numpy as np
    import pandas as pd

    from clusterrec._files import write_csv

    frame = pd.DataFrame({"user": np.asarray(user_labels).astype(str), "cluster": labels})
    return write_csv(path, frame)


def write_evidence_csv(path: Path, rows: Sequence[dict]) -> Path:
    """A list of flat dicts as CSV (:func:`clusterrec._files.write_rows_csv`)."""
    from clusterrec._files import write_rows_csv

    return write_rows_csv(path, rows)


def format_cluster_summary(payload: dict) -> str:
    """The readable summary ``clusterrec cluster`` prints."""
    source = payload["input"]
    lines = [f"{source['path']}: {source['users']:,} users, {source['items']:,} items"]
    for run in payload["runs"]:
        lines.append("")
        suggested = run["suggested_L"]
        note = f"; suggested L = {suggested} ({run['rule']})" if len(run["clusters"]) > 1 else ""
        lines.append(f"{run['metric']} ({run['algorithm']}), {run['seconds']:.1f} s{note}")
        lines.append(f"  {'L':>3}  {'objective':>12}  {'silhouette':>10}  sizes")
        for item in run["clusters"]:
            score = "-" if item["silhouette"] is None else f"{item['silhouette']:.3f}"
            sizes = " ".join(str(s) for s in item["sizes"])
            lines.append(f"  {item['L']:>3}  {item['objective']:>12.5g}  {score:>10}  {sizes}")
    lines.append("")
    for row in payload["evidence"]["metrics"]:
        lines.append(
            f"{row['metric']}: pairs without a co-rated movie {row['no_co_rated_share']:.1%}, "
            f"at the largest value {row['at_max_share']:.1%}, Spearman with co-rated count "
            f"{_number(row['spearman_co_rated'])}, size entropy {row['size_entropy']:.3f}"
        )
    for row in payload["evidence"]["agreement"]:
        lines.append(f"agreement {row['metric_a']} vs {row['metric_b']}: ARI {row['ari']:.3f}")
    lines.append(f"outputs in {payload['out']}: cluster.json, evidence.csv, labels_*.csv, *.png")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
