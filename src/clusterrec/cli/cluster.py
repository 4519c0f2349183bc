"""``clusterrec cluster``: cluster users for one or several L, write labels, figures, evidence."""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clusterrec._atomic import atomic_write
from clusterrec.cli.common import (
    add_data_options,
    load_data,
    print_json,
    set_command,
    warn_dropped,
)
from clusterrec.errors import ConfigError

if TYPE_CHECKING:
    from clusterrec.clustering.sweep import Sweep
    from clusterrec.data.ratings import Ratings

#: Metrics offered on the command line (any of clusterrec.distances.METRICS works).
CLI_METRICS = ("euclidean", "cosine", "jaccard", "euclidean_rms")
#: Most L values drawn side by side in the embedding figure.
EMBEDDING_PANELS = 4


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
    add_data_options(parser)
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
        help="default: kmeans for euclidean/cosine, kmedoids for jaccard",
    )
    options.add_argument(
        "--clusters",
        required=True,
        metavar="L|A-B",
        help="number of clusters L, or a range A-B to sweep and suggest one",
    )
    options.add_argument(
        "--n-init", type=int, default=4, metavar="N", help="k-means restarts (default 4)"
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

    metrics = parse_metrics(args.metric)
    values = parse_cluster_range(args.clusters)
    algorithms = {metric: resolve_algorithm(metric, args.algorithm) for metric in metrics}
    ratings = load_data(args)
    kept, filtered = filter_users(ratings, args.min_ratings, args.max_ratings)
    warn_dropped(ratings)
    if values[-1] > kept.n_users:
        raise ConfigError(
            f"--clusters asks for up to {values[-1]} clusters but only {kept.n_users:,} users "
            "are kept; ask for fewer clusters or widen --min-ratings/--max-ratings"
        )
    payload = cluster_and_write(kept, algorithms, values, Path(args.out), args.seed, args.n_init)
    payload["input"] = {
        "path": ratings.source.path if ratings.source else None,
        "users": kept.n_users,
        "items": kept.n_items,
        "ratings": len(kept),
    }
    payload["filter"] = {"min_ratings": filtered.min_ratings, "max_ratings": filtered.max_ratings}
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
) -> dict:
    """Sweep every metric, write labels, figures and evidence to ``out``; the JSON payload."""
    from clusterrec.clustering.sweep import sweep_n_clusters
    from clusterrec.distances.engine import MEASURED_SHRINKAGE
    from clusterrec.evaluation.evidence import metric_evidence

    runs, sweeps = [], {}
    for metric, algorithm in algorithms.items():
        started = time.perf_counter()
        sweep = sweep_n_clusters(
            ratings,
            metric,
            values,
            algorithm,
            seed=seed,
            n_init=n_init,
            shrinkage=MEASURED_SHRINKAGE,
            progress=True,
        )
        sweeps[metric] = sweep
        runs.append(_run_payload(ratings, sweep, out, time.perf_counter() - started))
    figures = write_figures(sweeps, out, seed)
    evidence_L = {m: s.suggested or values[0] for m, s in sweeps.items()}
    evidence = metric_evidence(
        ratings,
        {m: s.point(evidence_L[m]).clustering.labels for m, s in sweeps.items()},
        {m: s.distances for m, s in sweeps.items()},
        algorithms=algorithms,
        users=next(iter(sweeps.values())).users,
        seed=seed,
    )
    evidence["table"] = str(write_evidence_csv(out / "evidence.csv", evidence["metrics"]))
    evidence["agreement_table"] = str(
        write_evidence_csv(out / "agreement.csv", evidence["agreement"])
    )
    config = {
        "metrics": list(algorithms),
        "algorithms": algorithms,
        "clusters": list(values),
        "seed": seed,
        "n_init": n_init,
    }
    return {
        "config": config,
        "out": str(out),
        "runs": runs,
        "figures": figures,
        "evidence": evidence,
    }


def _run_payload(ratings: Ratings, sweep: Sweep, out: Path, seconds: float) -> dict:
    clusters = []
    for point in sweep.points:
        clustering = point.clustering
        path = out / f"labels_{sweep.metric}_{sweep.algorithm}_L{point.n_clusters}.csv"
        write_labels_csv(path, ratings.user_labels, clustering.labels)
        clusters.append(
            {
                "L": point.n_clusters,
                "sizes": clustering.sizes.tolist(),
                "objective": clustering.objective,
                "silhouette": point.silhouette,
                "n_iter": clustering.n_iter,
                "converged": clustering.converged,
                "uncovered_users": clustering.n_uncovered,
                "seconds": round(point.seconds, 3),
                "labels": str(path),
            }
        )
    return {
        "metric": sweep.metric,
        "algorithm": sweep.algorithm,
        "suggested_L": sweep.suggested,
        "rule": sweep.rule,
        "silhouette_users": None if sweep.users is None else len(sweep.users),
        "seconds": round(seconds, 3),
        "clusters": clusters,
    }


def write_figures(sweeps: dict[str, Sweep], out: Path, seed: int) -> dict[str, str]:
    """The choose-L figure (for a range) and the 2-D embedding figure; their paths."""
    from clusterrec.clustering.embedding import embed_sweep
    from clusterrec.viz.clusters import (
        choose_n_clusters_figure,
        cluster_embedding_figure,
        pick_panels,
    )
    from clusterrec.viz.data import save_figure

    figures = {}
    names = "_".join(sweeps)
    any_sweep = next(iter(sweeps.values()))
    if len(any_sweep.points) > 1:
        figure = choose_n_clusters_figure(list(sweeps.values()))
        figures["choose_L"] = str(save_figure(figure, out / f"choose_L_{names}.png"))
    embeddings, labels, shares = {}, {}, {}
    for metric, sweep in sweeps.items():
        users, embeddings[metric], shares[metric] = embed_sweep(sweep, seed=seed)
        shown = pick_panels([p.n_clusters for p in sweep.points], sweep.suggested, EMBEDDING_PANELS)
        labels[metric] = {L: sweep.point(L).clustering.labels[users] for L in shown}
    figure = cluster_embedding_figure(embeddings, labels, axis_shares=shares)
    figures["embedding"] = str(save_figure(figure, out / f"clusters_2d_{names}.png"))
    return figures


def write_labels_csv(path: Path, user_labels: np.ndarray, labels: np.ndarray) -> Path:
    """``user,cluster`` rows with the original user ids, written atomically."""
    with atomic_write(path, "w") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["user", "cluster"])
        writer.writerows(zip(user_labels.tolist(), labels.tolist(), strict=True))
    return Path(path)


def write_evidence_csv(path: Path, rows: Sequence[dict]) -> Path:
    """A list of flat dicts as CSV (columns from the first row), written atomically."""
    with atomic_write(path, "w") as handle:
        columns = list(rows[0]) if rows else []
        for row in rows[1:]:
            columns += [key for key in row if key not in columns]
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def write_json(path: Path, payload: dict) -> Path:
    """The payload as JSON, written atomically."""
    import json

    with atomic_write(path, "w") as handle:
        json.dump(payload, handle, indent=2, default=_plain)
        handle.write("\n")
    return Path(path)


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


def _plain(value: object) -> object:
    """numpy scalars and paths as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
