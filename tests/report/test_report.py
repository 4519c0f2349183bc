"""The run report: sentences generated from measured numbers, a self-contained page, and the
page as headless Chromium renders it (``scripts/check_report.py``)."""

from __future__ import annotations

import base64
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import tiny_run

from clusterrec.report.wording import (
    ablation_discussion,
    ablation_not_run,
    agreement_discussion,
    elbow,
    jaccard_discussion,
    kfold_discussion,
    metric_discussion,
    silhouette_words,
    strength,
)
from clusterrec.run.pipeline import RunResult

ROOT = Path(__file__).resolve().parents[2]
CHECK_SCRIPT = ROOT / "scripts" / "check_report.py"
CHROMIUM = Path("/usr/bin/chromium")


def load_checker() -> object:
    spec = importlib.util.spec_from_file_location("check_report", CHECK_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The tiny run of test_pipeline (its stages come from the shared cache when it ran)."""
    return tiny_run(tmp_path_factory, tmp_path_factory.mktemp("report") / "run")


# -- numbers into words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0.8, "a strong structure"),
        (0.6, "a reasonable structure"),
        (0.3, "a weak structure that could be artificial"),
        (0.1, "no substantial cluster structure"),
        (None, "undefined"),
    ],
)
def test_silhouette_words_follow_kaufman_and_rousseeuw(value: float | None, words: str) -> None:
    assert silhouette_words(value) == words


def test_strength_and_elbow() -> None:
    assert [strength(r) for r in (0.7, -0.4, 0.2, 0.05)] == [
        "strongly",
        "moderately",
        "weakly",
        "hardly",
    ]
    values = (100, 60, 50, 45, 42)
    points = [{"L": L, "objective": v} for L, v in zip(range(2, 7), values, strict=True)]
    assert elbow(points) == 3
    assert elbow(points[:2]) is None


def _sweep() -> dict:
    return {
        "suggested": 4,
        "algorithm": "kmeans",
        "rule": "largest silhouette",
        "points": [
            {"L": 2, "objective": 30.0, "silhouette": 0.12, "sizes": [500, 579]},
            {"L": 3, "objective": 27.0, "silhouette": 0.17, "sizes": [300, 379, 400]},
            {"L": 4, "objective": 24.5, "silhouette": 0.22, "sizes": [264, 270, 271, 274]},
            {"L": 5, "objective": 24.3, "silhouette": 0.16, "sizes": [4, 260, 270, 271, 274]},
        ],
    }


def _row(**changes: object) -> dict:
    row = {
        "metric": "cosine",
        "pairs": 581_581,
        "spearman_co_rated": 0.098,
        "no_co_rated_share": 0.0015,
        "q25": 0.02,
        "median": 0.039,
        "q75": 0.06,
        "relative_iqr": 1.02,
        "size_entropy": 0.9999,
        "silhouette": 0.22,
    }
    return {**row, **changes}


def test_metric_discussion_is_made_of_the_measured_numbers() -> None:
    text = " ".join(metric_discussion("cosine", _sweep(), _row(ari_vs_truth=1.0)))
    assert "largest at L = 4 (0.220)" in text
    assert "no substantial cluster structure" in text
    assert "bends most at L = 4, where the silhouette also points" in text
    assert "correlate hardly with the number of co-rated movies (Spearman rho = +0.10" in text
    assert "mostly reflects the ratings on the shared movies" in text
    assert "cosine distances stay close to 0" in text
    assert "0.15% of the user pairs share no movie" in text
    assert "264 to 274 users" in text
    assert "recovered almost exactly" in text and "groups that overlap" in text


def test_metric_discussion_flags_distance_driven_by_overlap() -> None:
    text = " ".join(metric_discussion("euclidean", _sweep(), _row(spearman_co_rated=0.57)))
    assert "correlate strongly" in text and "rho = +0.57" in text
    assert "how many movies two users share rather than how differently they rate" in text


def _jaccard(tracks: dict) -> dict:
    return {
        "pairs": 489_144,
        "min_pairs_overlap": 5,
        "tracks_disagreement": tracks,
        "nearest_neighbour": [
            {"metric": "euclidean", "median_co_rated": 18, "median_rms_difference": 2.2},
            {"metric": "jaccard", "median_co_rated": 19, "median_rms_difference": 2.74},
        ],
        "sparse_users": {
            "nn_distance_lowest_quartile": 0.957,
            "nn_distance_highest_quartile": 0.951,
            "ratings_lowest_quartile": 170,
            "ratings_highest_quartile": 246,
            "spearman_ratings_vs_nn_distance": -0.41,
            "fewest_ratings": 150,
            "most_ratings": 300,
            "largest_similarity_fewest_vs_most": 0.5,
        },
        "activity_by_cluster": [
            {"metric": "euclidean", "min": 0.0, "max": 0.011, "mean": 0.003},
            {"metric": "jaccard", "min": 0.2, "max": 0.4, "mean": 0.3},
        ],
    }


def test_jaccard_discussion_reports_its_measured_weaknesses() -> None:
    row = _row(metric="jaccard", median=0.981, q25=0.976, q75=0.986, silhouette=0.001)
    evidence = {"metrics": [row]}
    blind = " ".join(jaccard_discussion(_jaccard({"jaccard": 0.03, "euclidean": 0.7}), evidence))
    assert "rho = +0.03, against +0.70 for euclidean: it is blind to agreement" in blind
    assert "agree least with the user" in blind
    assert "at most 0.50 similar" in blind and "150 ratings and one with 300" in blind
    assert "Sparse users are farther from everyone: the median Jaccard distance" in blind
    assert "Jaccard groups users partly by how much they rate" in blind
    assert "concentrated near 1: median 0.981" in blind and "silhouettes near 0" in blind
    indirect = " ".join(jaccard_discussion(_jaccard({"jaccard": 0.52, "euclidean": 0.72}), {}))
    assert "sees agreement only indirectly" in indirect


def test_agreement_and_kfold_discussions() -> None:
    evidence = {
        "agreement": [
            {"metric_a": "euclidean", "metric_b": "cosine", "ari": 0.566},
            {"metric_a": "cosine", "metric_b": "jaccard", "ari": 0.02},
        ]
    }
    text = agreement_discussion(evidence)
    assert "euclidean and cosine largely agree (ARI 0.566)" in text
    assert "cosine and jaccard hardly agree (ARI 0.020)" in text
    summary = pd.DataFrame(
        {
            "model": ["clusterrec", "bias", "mean"],
            "mae": [1.340, 1.356, 1.583],
            "mae_std": [0.004, 0.005, 0.008],
            "ndcg_at_10": [0.022, 0.016, 0.004],
        }
    )
    sentences = " ".join(kfold_discussion(summary, 10))
    assert "clusterrec (1.340), bias (1.356), mean (1.583)" in sentences
    assert "by -0.016" in sentences and "better than the bias baseline" in sentences
    close = summary.assign(mae=[1.354, 1.356, 1.583])
    assert "cannot be told apart" in " ".join(kfold_discussion(close, 10))


def _ablation_summary(clusters: float, low: float, high: float) -> pd.DataFrame:
    """An ablation summary: the seed moves RMSE by up to 0.002; implicit feedback is worth
    0.03 in every split; the clusters ``clusters`` (``low``..``high`` over two splits)."""
    rows = [
        ("full", "", "none", 0.0, 0.0, 0.0),
        ("full, seed + 1", "", "seed", 0.0005, -0.001, 0.002),
        ("− clusters", "clusters", "removed", clusters, low, high),
        ("− implicit feedback", "implicit", "removed", 0.031, 0.030, 0.032),
        ("+ averaging (3 seeds x 3 snapshots)", "averaging", "added", -0.004, -0.005, -0.003),
    ]
    return pd.DataFrame(
        [
            {
                "variant": variant,
                "part": part,
                "change": change,
                "delta_rmse": mean,
                "delta_rmse_min": min_,
                "delta_rmse_max": max_,
                "delta_rmse_std": abs(max_ - min_) / 2**0.5,
            }
            for variant, part, change, mean, min_, max_ in rows
        ]
    )


def test_ablation_discussion_says_which_part_matters_and_whether_clusters_help() -> None:
    text = " ".join(ablation_discussion(_ablation_summary(0.0003, -0.0002, 0.0008)))
    assert "Implicit feedback matters most: without it RMSE changes by +0.0310" in text
    assert "The clusters do not measurably help: without them RMSE changes by +0.0003" in text
    assert "(the full model with the next seed moves RMSE by up to 0.0020)" in text
    assert "help measurably: implicit feedback, averaging" in text
    helping = " ".join(ablation_discussion(_ablation_summary(0.012, 0.011, 0.013)))
    assert "The clusters help measurably: without them RMSE changes by +0.0120" in helping
    hurting = " ".join(ablation_discussion(_ablation_summary(-0.012, -0.013, -0.011)))
    assert "The clusters hurt measurably here" in hurting
    assert "about 2 minutes more" in ablation_not_run(130.0)
    assert "about 40 s more" in ablation_not_run(40.0)
    assert "--set evaluation.ablation=true" in ablation_not_run(40.0)


# -- the page -------------------------------------------------------------------------------------


def test_report_is_self_contained_and_follows_the_assignment(run: RunResult) -> None:
    text = run.report.read_text(encoding="utf-8")
    checker = load_checker()
    page = checker.parse_page(text)
    assert checker.static_problems(page) == []
    assert len(page.images) == len(list((run.out / "figures").glob("*.png")))
    assert not re.search(r"""(src|href)=["']https?:""", text)
    for heading in (
        "1. Data",
        "2. Clustering with the masked metrics",
        "3. Jaccard clustering and its weaknesses",
        "4. Neighbours and per-cluster networks",
        "5. k-fold comparison with the baselines",
        "6. Ablation of the default model",
        "7. Sample recommendations",
    ):
        assert heading in text
    assert "Titles are unavailable: the generated data have movie ids only." in text


def test_report_discussion_quotes_the_run_s_own_evidence(run: RunResult) -> None:
    text = run.report.read_text(encoding="utf-8")
    evidence = pd.read_csv(run.out / "results" / "evidence.csv").set_index("metric")
    rho = evidence.loc["cosine", "spearman_co_rated"]
    assert f"Spearman rho = {rho:+.2f}" in text
    protocol = pd.read_csv(run.out / "results" / "users_protocol.csv")
    overall = protocol[protocol["cluster"].astype(str) == "all"].iloc[0]
    assert f"test MAE of {overall['test_mae']:.3f}" in text


def test_checker_finds_a_broken_image(run: RunResult, tmp_path: Path) -> None:
    checker = load_checker()
    text = run.report.read_text(encoding="utf-8")
    start = text.index("data:image/png;base64,") + len("data:image/png;base64,")
    data = bytearray(base64.b64decode(text[start : text.index('"', start)]))
    data[60] ^= 0xFF  # inside the first chunks: the CRC no longer matches
    broken = text[:start] + base64.b64encode(bytes(data)).decode() + text[text.index('"', start) :]
    problems = checker.static_problems(checker.parse_page(broken))
    assert len(problems) == 1 and "does not decode" in problems[0]
    dom = checker.parse_page('<body data-broken-images="1"><img data-natural-width="0"></body>')
    found = checker.browser_problems(checker.parse_page("<img src='x'>"), dom)
    assert any("1 images did not load" in p for p in found)
    assert any("no decoded width" in p for p in found)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_report_renders_in_headless_chromium(run: RunResult, tmp_path: Path) -> None:
    shot = tmp_path / "first-screen.png"
    done = subprocess.run(
        [sys.executable, str(CHECK_SCRIPT), str(run.report), "--screenshot", str(shot)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.startswith("ok:")
    width, height = load_checker().decode_png(shot.read_bytes())
    assert (width, height) == (1366, 900)
    counts = dict(re.findall(r"(\w+) (\d+)", done.stdout))
    assert counts["rendered_images"] == counts["images"] != "0"
    assert counts["rendered_tables"] == counts["tables"] != "0"
