"""clusterrec run: configuration, stage cache, run directory, manifest and reuse of stages.

One tiny generated data set (200 users, ~4,100 ratings) runs end to end once per session; the
stage cache lives in the session's temporary folder, which tests/report/test_report.py shares.
"""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import COMPUTING_STAGES, TINY_HYBRID_SETTINGS, tiny_config, tiny_run

from clusterrec._files import file_sha256, json_text
from clusterrec.cli import main
from clusterrec.errors import ConfigError
from clusterrec.run import config as run_config
from clusterrec.run.cache import StageCache, stage_key
from clusterrec.run.config import (
    RunConfig,
    default_toml,
    load_config,
    parse_toml,
)
from clusterrec.run.measure import PeakMemory
from clusterrec.run.pipeline import RunResult


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return tiny_run(tmp_path_factory, tmp_path_factory.mktemp("runs") / "first")


def stage_states(result: RunResult) -> dict[str, bool]:
    return {record.name: record.cached for record in result.records}


# -- configuration ---------------------------------------------------------------------------------


def test_default_config_round_trips_through_toml() -> None:
    assert parse_toml(default_toml()) == RunConfig()
    assert load_config(None) == RunConfig()
    assert RunConfig().as_dict()["clustering"]["metrics"] == ["euclidean", "cosine"]


def test_unknown_key_names_the_key_and_the_section(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("seed = 1\n[model]\npreset = 'notebook'\ncolour = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'colour' in section \[model\]") as error:
        load_config(path)
    assert str(path) in str(error.value) and "n_clusters" in str(error.value)
    with pytest.raises(ConfigError, match=r"unknown section 'modle'"):
        parse_toml("[modle]\nn_clusters = 3\n")
    with pytest.raises(ConfigError, match=r"unknown top-level key 'sed'"):
        parse_toml("sed = 3\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[model]\nn_clusters = 'five'", r"\[model\] n_clusters must be an integer"),
        ("[model]\nn_clusters = true", r"\[model\] n_clusters must be an integer"),
        ("[data]\nmax_ratings = 'all'", r'must be an integer or "none"'),
        ("[data]\nmin_ratings = 400", r"max_ratings \(300\) must be >= min_ratings"),
        ("[clustering]\nmetrics = ['jaccard']", r"jaccard is clustered in its own step"),
        ("[clustering]\nmin_clusters = 5\nmax_clusters = 3", r"max_clusters must be >= 5"),
        ("[evaluation]\nmodels = ['svd']", r"'svd' is not accepted; accepted: clusterrec"),
        ("[model]\ntest_share = 1.0", r"test_share must be between 0 and 1"),
        ("[model]\npreset = 'big'", r"\[model\] preset: 'big' is not accepted"),
        ("seed = -1", r"seed must be >= 0"),
        ("[model", r"not valid TOML"),
    ],
)
def test_bad_values_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_toml(text)


def test_none_words_and_overrides() -> None:
    config = parse_toml('[data]\nmax_ratings = "none"\n[model]\nn_neighbors = 6\n')
    assert config.data.max_ratings is None and config.model.n_neighbors == 6
    assert 'max_ratings = "none"' in config.to_toml()
    overridden = load_config(None, ["model.preset=notebook", "seed=3", "evaluation.folds=3"])
    assert (overridden.model.preset, overridden.seed, overridden.evaluation.folds) == (
        "notebook",
        3,
        3,
    )
    with pytest.raises(ConfigError, match="--set 'preset' not understood"):
        load_config(None, ["preset"])


def test_config_names_mirror_the_library() -> None:
    from clusterrec.clustering._common import KMEANS_METRICS
    from clusterrec.models.presets import PRESETS

    assert set(run_config.PRESET_NAMES) == set(PRESETS)
    assert set(run_config.KMEANS_METRICS) == set(KMEANS_METRICS)


def test_cli_print_config_prints_the_defaults(capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert parse_toml(out) == RunConfig()
    assert "[model]" in out and 'preset = "default"' in out


def test_cli_bad_config_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[clustering]\nmax_clusterz = 4\n")
    assert main(["run", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "unknown key 'max_clusterz' in section [clustering]" in err[0]
    assert not (tmp_path / "out").exists()


# -- cache and measurement ------------------------------------------------------------------------


def test_stage_key_depends_on_name_and_params_only() -> None:
    key = stage_key("networks", {"a": 1, "b": [1, 2]})
    assert key == stage_key("networks", {"b": [1, 2], "a": 1})
    assert key != stage_key("networks", {"a": 2, "b": [1, 2]})
    assert key != stage_key("kfold", {"a": 1, "b": [1, 2]})


def test_a_failed_stage_leaves_nothing_behind(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)

    def fail(folder: Path) -> None:
        (folder / "half.json").write_text("{")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.build("data", "k" * 64, {}, fail)
    assert list(tmp_path.iterdir()) == []
    assert cache.lookup("data", "k" * 64) is None
    folder, _ = cache.build("data", "k" * 64, {}, lambda f: (f / "x.json").write_text("{}"))
    assert cache.lookup("data", "k" * 64) == folder


def test_peak_memory_is_per_block() -> None:
    with PeakMemory() as baseline:
        pass
    with PeakMemory() as block:
        array = np.ones(32 * 1024**2 // 8 * 8)  # 256 MiB
        array.sum()
        del array
    assert block.peak_mib >= baseline.peak_mib + 200


# -- the run --------------------------------------------------------------------------------------


def test_first_run_computes_every_stage_and_writes_the_run_directory(first: RunResult) -> None:
    states = stage_states(first)
    assert list(states) == [*COMPUTING_STAGES, "report"]
    out = first.out
    for name in ("report.html", "manifest.json", "config.toml", "model/model.json"):
        assert (out / name).is_file(), name
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {"ratings_per_user.png", "rating_span_days.png", "learning_curves.png"} <= figures
    assert {f"clusters_2d_{m}.png" for m in ("euclidean", "cosine", "jaccard")} <= figures
    results = {p.name for p in (out / "results").glob("*.csv")}
    assert {"users_protocol.csv", "kfold_summary.csv", "evidence.csv", "stages.csv"} <= results
    protocol = pd.read_csv(out / "results" / "users_protocol.csv")
    assert protocol["cluster"].astype(str).tolist() == ["0", "1", "all"]
    assert (protocol["test_mae"] > 0).all()
    assert parse_toml((out / "config.toml").read_text()) == tiny_config()


def test_manifest_records_input_config_versions_and_costs(first: RunResult) -> None:
    manifest = json.loads((first.out / "manifest.json").read_text())
    source = manifest["input"]
    assert source["sha256"] == file_sha256(Path(source["path"]))
    assert source["generated"] == {"size": "tiny", "seed": 0}
    assert source["after_filter"]["users"] < source["before_filter"]["users"]
    assert manifest["seed"] == 0 and manifest["config"] == tiny_config().as_dict()
    assert manifest["packages"]["numpy"] == np.__version__
    names = [stage["name"] for stage in manifest["stages"]]
    assert names == [*COMPUTING_STAGES, "report"]
    for stage in manifest["stages"]:
        assert stage["seconds"] >= 0 and stage["peak_rss_mib"] > 0
    assert manifest["seconds"] > 0


def test_saved_model_loads_and_recommends(first: RunResult) -> None:
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    model = ClusterNeighborRecommender.load(first.out / "model")
    recommendations = pd.read_csv(first.out / "results" / "recommendations.csv", dtype=str)
    user = recommendations["user"].iloc[0]
    table = model.recommend(user, n=3)
    assert table["item"].tolist() == recommendations[recommendations.user == user]["item"].tolist()


def test_second_run_reuses_every_stage(first: RunResult, tmp_path_factory) -> None:
    second = tiny_run(tmp_path_factory, tmp_path_factory.mktemp("runs") / "second")
    states = stage_states(second)
    assert all(states[name] for name in COMPUTING_STAGES)
    for name in ("users_protocol.csv", "kfold_folds.csv", "labels_jaccard.csv"):
        a = (first.out / "results" / name).read_text()
        assert a == (second.out / "results" / name).read_text(), name
    assert second.manifest["stages_reused"] == len(COMPUTING_STAGES)


def test_changing_the_preset_recomputes_only_what_depends_on_it(
    first: RunResult, tmp_path_factory: pytest.TempPathFactory
) -> None:
    config = tiny_config(model={"preset": "notebook"})
    changed = tiny_run(
        tmp_path_factory, tmp_path_factory.mktemp("runs") / "notebook", config=config
    )
    states = stage_states(changed)
    reused = {name for name in COMPUTING_STAGES if states[name]}
    assert reused == {
        "data",
        "distances-euclidean",
        "distances-cosine",
        "distances-jaccard",
        "clustering-euclidean",
        "clustering-cosine",
        "clustering-jaccard",
        "evidence",
    }
    meta = json.loads((changed.out / "manifest.json").read_text())
    assert meta["config"]["model"]["preset"] == "notebook"


def test_same_file_elsewhere_is_reused_and_titles_are_shown(
    first: RunResult, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    copy = shutil.copyfile(first.manifest["input"]["path"], tmp_path / "Dataset.npy")
    recommended = pd.read_csv(first.out / "results" / "recommendations.csv", dtype=str)
    items = tmp_path / "items.tsv"
    items.write_text(
        "item_id\ttitle\n"
        + "".join(f"{item}\tMovie {item}\n" for item in recommended["item"].unique())
    )
    again = tiny_run(tmp_path_factory, tmp_path / "out", data=copy, items=items)
    states = stage_states(again)
    assert states["data"] and states["clustering-jaccard"] and states["networks"]
    assert not states["evidence"]  # a named file has no planted groups to compare with
    shown = pd.read_csv(tmp_path / "out" / "results" / "recommendations.csv", dtype=str)
    assert (shown["title"] == "Movie " + shown["item"]).all()
    assert "Titles come from the items table" in (tmp_path / "out" / "report.html").read_text()


# -- typed stage results, figures drawn in the report step, one clustering ------------------------


def test_stage_results_round_trip_through_their_folders(first: RunResult, tmp_path: Path) -> None:
    from clusterrec.run.stages import (
        ClusteringResult,
        DataResult,
        EvidenceResult,
        KFoldResult,
        NetworksResult,
    )

    cache = Path(first.manifest["cache"]["folder"])
    for record in first.records[:-1]:
        kind = {
            "data": DataResult,
            "clustering-jaccard": ClusteringResult,
            "evidence": EvidenceResult,
            "networks": NetworksResult,
            "kfold": KFoldResult,
        }.get(record.name)
        if kind is None:
            continue
        loaded = kind.load(cache / f"{record.name}-{record.key[:24]}")
        again = kind.load(loaded.save(tmp_path / record.name))
        assert type(again) is kind
        for name in ("statistics", "overall", "protocol", "suggested", "points", "evidence"):
            if hasattr(loaded, name):
                same = json_text(getattr(again, name)) == json_text(getattr(loaded, name))
                assert same, (record.name, name)
        assert not list((cache / f"{record.name}-{record.key[:24]}").glob("*.png"))


def test_a_changed_figure_is_drawn_again_without_recomputing_a_stage(
    first: RunResult, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clusterrec.viz import results

    drawn = []
    original = results.kfold_figure

    def changed(summary: pd.DataFrame) -> object:
        drawn.append(list(summary["model"]))
        figure = original(summary)
        figure.suptitle("a changed k-fold figure")
        return figure

    monkeypatch.setattr(results, "kfold_figure", changed)
    steps: list[str] = []
    again = tiny_run(
        tmp_path_factory, tmp_path_factory.mktemp("runs") / "redrawn", progress=steps.append
    )
    states = stage_states(again)
    assert all(states[name] for name in COMPUTING_STAGES)
    assert drawn == [["clusterrec", "bias"]]
    new = (again.out / "figures" / "kfold.png").read_bytes()
    assert new != (first.out / "figures" / "kfold.png").read_bytes()
    for name in ("learning_curves.png", "clusters_2d_jaccard.png", "ratings_per_user.png"):
        assert (again.out / "figures" / name).read_bytes() == (
            first.out / "figures" / name
        ).read_bytes(), name
    assert steps[0] == f"stage 1/{len(COMPUTING_STAGES) + 1}: data"


def _jaccard_labels(out: Path, L: int) -> pd.Series:
    labels = pd.read_csv(out / "results" / "labels_jaccard.csv", dtype={"user": str})
    return labels.set_index("user")[f"L{L}"]


def test_the_networks_are_trained_on_the_report_s_jaccard_clusters(first: RunResult) -> None:
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    model = ClusterNeighborRecommender.load(first.out / "model")
    shown = _jaccard_labels(first.out, model.n_clusters)
    np.testing.assert_array_equal(model.labels_, shown.loc[list(model.user_index_)].to_numpy())
    neighbours = pd.read_csv(first.out / "results" / "neighbours_per_cluster.csv")
    assert neighbours["users"].tolist() == np.bincount(shown, minlength=2).tolist()


def test_the_report_shows_the_notebook_s_leaky_figure_beside_the_honest_one(
    first: RunResult,
) -> None:
    """Same clusters as the honest networks, flagged LEAKY, and far below the honest error
    (the rating to predict is one of the inputs)."""
    leaky = pd.read_csv(first.out / "results" / "notebook_leaky_LEAKY.csv")
    honest = pd.read_csv(first.out / "results" / "users_protocol.csv")
    per_cluster = honest[honest["cluster"].astype(str) != "all"]
    assert leaky["users"].tolist() == per_cluster["users"].tolist()
    assert leaky["protocol"].str.startswith("notebook-leaky (LEAKY").all()
    leaky_mae = np.average(leaky["test_mae"], weights=leaky["test_ratings"])
    honest_mae = float(honest.loc[honest["cluster"].astype(str) == "all", "test_mae"].iloc[0])
    assert leaky_mae < 0.5 * honest_mae
    html = unescape((first.out / "report.html").read_text())
    assert "The original notebook's evaluation (LEAKY) beside the honest one" in html
    assert f"{honest_mae:.3f}" in html


def test_networks_l_outside_the_sweep_is_clustered_by_the_jaccard_stage(
    first: RunResult, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from clusterrec.models.cluster_neighbor import ClusterNeighborRecommender

    config = tiny_config(model={"n_clusters": 4})
    run = tiny_run(tmp_path_factory, tmp_path_factory.mktemp("runs") / "L4", config=config)
    states = stage_states(run)
    assert states["clustering-euclidean"] and not states["clustering-jaccard"]
    sweep = pd.read_csv(run.out / "results" / "sweep_jaccard.csv")
    assert sweep["L"].tolist() == [2, 3]  # the sweep (and its suggestion) is unchanged
    model = ClusterNeighborRecommender.load(run.out / "model")
    shown = _jaccard_labels(run.out, 4)
    np.testing.assert_array_equal(model.labels_, shown.loc[list(model.user_index_)].to_numpy())
    for L in (2, 3):
        a, b = _jaccard_labels(run.out, L), _jaccard_labels(first.out, L)
        assert a.equals(b), L


# -- the ablation table (off by default) ----------------------------------------------------------

#: The default model's settings small enough for a test run (a preset only tests have).
TINY_HYBRID = {"n_seeds": 1, "n_snapshots": 1, "n_feature_folds": 2, **TINY_HYBRID_SETTINGS}


def test_without_the_ablation_the_report_says_how_to_add_it(first: RunResult) -> None:
    html = unescape((first.out / "report.html").read_text())
    assert "6. Ablation of the default model" in html
    assert "The ablation table" in html and "was not run" in html
    assert "Add it with --set evaluation.ablation=true" in html
    assert re.search(r"on these data it takes about \d+ (s|minutes) more", html)
    assert not (first.out / "results" / "ablation.csv").exists()
    assert "ablation" not in stage_states(first)


def test_turning_the_ablation_on_keeps_the_k_fold_stage_s_key() -> None:
    from clusterrec.run.stages import ablation_params, kfold_params

    on = tiny_config(evaluation={"ablation": True})
    assert kfold_params("data", on) == kfold_params("data", tiny_config())
    assert ablation_params("data", on)["hybrid_settings"] == {
        "n_seeds": 1,
        "n_snapshots": 1,
        "n_feature_folds": 2,
        "autoencoder_weight": 0.0,
    }


def test_the_ablation_stage_puts_its_table_and_what_it_says_in_the_report(
    first: RunResult, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clusterrec.evaluation.ablation import part_effects
    from clusterrec.models.registry import HYBRID_PRESET_WORDS, HYBRID_PRESETS

    monkeypatch.setitem(HYBRID_PRESETS, "tiny", TINY_HYBRID)
    monkeypatch.setitem(HYBRID_PRESET_WORDS, "tiny", "tiny, for tests")
    config = tiny_config(evaluation={"ablation": True, "hybrid": "tiny"})
    run = tiny_run(tmp_path_factory, tmp_path_factory.mktemp("runs") / "ablation", config=config)
    states = stage_states(run)
    assert list(states) == [*COMPUTING_STAGES[:-1], "ablation", "recommendations", "report"]
    assert not states["ablation"] and states["networks"] and states["recommendations"]
    summary = pd.read_csv(run.out / "results" / "ablation.csv").fillna({"part": ""})
    assert summary["variant"].tolist() == [
        "full",
        "full, seed + 1",
        "− clusters",
        "− user neighbours",
        "− item neighbours",
        "− factors",
        "− implicit feedback",
        "− item autoencoder",  # the tiny settings keep the model's autoencoder
        "+ averaging (5 seeds x 3 snapshots)",
    ]
    splits = pd.read_csv(run.out / "results" / "ablation_splits.csv")
    assert sorted(splits["split"].unique()) == [0, 1]
    kept = run.manifest["input"]["after_filter"]["ratings"]
    # split s: the k-fold training side of fold s (half of the ratings), less its 10 %
    assert np.allclose(splits["n_fit"] + splits["n_validation"], kept / 2, atol=1)
    html = unescape((run.out / "report.html").read_text())
    assert "Protocol: Ablation on 2 seeded splits of the training ratings" in html
    assert (
        "never a test fold" in html and "the k-fold table's own (its folds 1 and 2 of 2);" in html
    )
    assert "The run's Jaccard clusters are not reused" in html
    assert "was not run" not in html and '<td class="text">− clusters</td>' in html
    clusters = part_effects(summary).set_index("part").loc["clusters"]
    expected = {
        "helps": "The clusters help measurably: without them RMSE changes by",
        "hurts": "The clusters hurt measurably here: without them RMSE changes by",
        "within noise": "The clusters do not measurably help: without them RMSE changes by",
    }[clusters["verdict"]]
    assert f"{expected} {clusters['worth']:+.4f}" in html
    assert re.search(r"(matters?) most: without (it|them) RMSE changes by [+-]\d\.\d{4}", html) or (
        "No part makes RMSE better on average" in html
    )
    stage = next(s for s in run.manifest["stages"] if s["name"] == "ablation")
    assert stage["seconds"] > 0 and not stage["cached"]
