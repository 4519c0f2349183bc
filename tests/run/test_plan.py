"""The run's plan: bounded forms chosen past the budget, refusal in the first seconds with the
setting to change, and --dry-run printing the plan alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers import shared_folders, tiny_config, write

from clusterrec.cli import main
from clusterrec.errors import ConfigError
from clusterrec.run.plan import DataShape, machine_memory, plan_run


def stage(plan, name):
    return next(s for s in plan.stages if s.name == name)


def test_small_data_is_planned_dense_and_large_data_bounded() -> None:
    config = tiny_config()
    small = plan_run(DataShape(500, 2_000, 50_000), config)
    assert not any(s.bounded for s in small.stages)
    assert stage(small, "distances-jaccard").form == "dense 500 x 500"
    large = plan_run(DataShape(30_000, 200_000, 3_000_000), config)
    # 30,000^2 float32 = 3.4 GiB > the 2 GiB budget: a sample of 5,000 users
    assert "a seeded sample of 5,000 users" in stage(large, "distances-jaccard").form
    assert stage(large, "clustering-jaccard").bounded and stage(large, "evidence").bounded
    # nothing n x n is planned: twice the users (4 x the n x n bytes) adds little memory
    larger = plan_run(DataShape(60_000, 200_000, 3_000_000), config)
    assert larger.peak_bytes - large.peak_bytes < 0.1 * 4 * (60_000**2 - 30_000**2)


def test_userknn_is_planned_per_user_block_past_the_budget() -> None:
    config = tiny_config(evaluation={"models": ["userknn"], "max_ratings": 0})
    assert "dense user x user" in stage(plan_run(DataShape(1_000, 50, 9_000), config), "kfold").form
    big = plan_run(DataShape(40_000, 50, 900_000), config)
    assert "per user block" in stage(big, "kfold").form and stage(big, "kfold").bounded


def test_a_plan_over_the_memory_limit_names_the_stage_and_the_settings() -> None:
    config = tiny_config(plan={"memory_limit": "1MiB"})
    plan = plan_run(DataShape(1_000, 1_000, 100_000), config)
    assert plan.memory_limit == 1024**2
    with pytest.raises(ConfigError, match=r"\[plan\] memory_limit") as error:
        plan.check()
    assert "[data] min_ratings" in str(error.value)
    plan_run(DataShape(1_000, 1_000, 100_000), tiny_config()).check()  # "auto" fits


def test_auto_limit_is_most_of_the_machine_s_memory() -> None:
    plan = plan_run(DataShape(10, 10, 10), tiny_config())
    assert 0 < plan.memory_limit <= machine_memory()


def test_a_run_that_cannot_fit_is_refused_within_seconds(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, capsys, monkeypatch
) -> None:
    _, home = shared_folders(tmp_path_factory)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    config = write(tmp_path, "run.toml", tiny_config().to_toml())
    out = tmp_path / "out"
    started = time.perf_counter()
    argv = ["run", "--config", str(config), "--set", "plan.memory_limit=64KiB", "--out", str(out)]
    assert main([*argv, "--no-progress", "--cache-dir", str(tmp_path / "cache")]) == 2
    assert time.perf_counter() - started < 10
    err = capsys.readouterr().err
    assert "[plan] memory_limit" in err and "plan for" in err  # the plan, then the refusal
    assert not out.exists()


def test_dry_run_prints_the_plan_and_runs_nothing_else(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, capsys, monkeypatch
) -> None:
    _, home = shared_folders(tmp_path_factory)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    config = write(tmp_path, "run.toml", tiny_config().to_toml())
    cache = tmp_path / "cache"
    argv = ["run", "--config", str(config), "--dry-run", "--cache-dir", str(cache)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan for ") and "kfold" in out and "peak / total" in out
    assert not (tmp_path / "out").exists()
    stages = [p.name.split("-")[0] for p in cache.iterdir() if not p.name.startswith(".")]
    assert stages == ["data"]  # only the data stage ran


def test_kfold_on_large_data_covers_a_seeded_sample_of_users_with_all_their_ratings() -> None:
    import numpy as np
    from helpers import random_ratings

    from clusterrec.run.stages.kfold import sample_by_ratings

    ratings = random_ratings(60, 30, 0.3, seed=5)
    sample = sample_by_ratings(ratings, 200, seed=0)
    assert 190 <= len(sample) <= 200 and sample.n_users < 60
    assert sample_by_ratings(ratings, 200, seed=0).to_frame().equals(sample.to_frame())
    counts = ratings.to_frame()["user"].value_counts()
    kept = sample.to_frame()["user"].value_counts()
    assert kept.to_dict() == counts[kept.index].to_dict()  # every rating of a sampled user
    assert sample_by_ratings(ratings, 0, seed=0) is ratings
    assert sample_by_ratings(ratings, len(ratings), 0) is ratings
    shape = DataShape(24_702, 239_776, 1_812_656)
    plan = plan_run(shape, tiny_config())
    assert "on a seeded sample of" in stage(plan, "kfold").form
    unbounded = plan_run(shape, tiny_config(evaluation={"max_ratings": 0}))
    assert np.isclose(
        stage(unbounded, "kfold").seconds / stage(plan, "kfold").seconds,
        1_812_656 / tiny_config().evaluation.max_ratings,
    )


def test_a_user_heavier_than_the_bound_is_skipped_not_the_whole_sample() -> None:
    from clusterrec.data.ratings import Ratings
    from clusterrec.run.stages.kfold import sample_by_ratings

    users = ["heavy"] * 50 + [f"u{j}" for j in range(20) for _ in range(3)]
    items = [f"i{j}" for j in range(50)] + [f"i{j % 7}" for j in range(60)]
    frame = __import__("pandas").DataFrame({"user": users, "item": items, "rating": 3.0})
    ratings = Ratings.from_frame(frame)
    for seed in range(5):  # whatever the order, the heavy user never fits 30, the others do
        sample = sample_by_ratings(ratings, 30, seed)
        assert 27 <= len(sample) <= 30 and "heavy" not in set(sample.user_labels)


def test_the_plan_lists_the_ablation_only_when_it_is_on() -> None:
    from clusterrec.run.plan import ablation_plan

    shape = DataShape(671, 9_066, 100_004)
    assert "ablation" not in [s.name for s in plan_run(shape, tiny_config()).stages]
    on = plan_run(shape, tiny_config(evaluation={"ablation": True}))
    names = [s.name for s in on.stages]
    assert names.index("ablation") == names.index("kfold") + 1
    planned = stage(on, "ablation")
    assert planned == ablation_plan(shape, tiny_config(evaluation={"ablation": True}))
    assert "2 validation splits x 9 fits of the default model (fast)" in planned.form
    # 2 splits x 9 fits on 90 % of a 2-fold training side: 18 x 45,000 ratings of fits
    assert 40 < planned.seconds < 300
    averaged = ablation_plan(shape, tiny_config(evaluation={"hybrid": "default"}))
    assert averaged.seconds > 2 * planned.seconds  # 3 seeds x 3 snapshots cost more
