"""The stage cache: checksums that catch a damaged entry (discarded with a warning and
recomputed, with the same report numbers), its size bound and pruning, ``clusterrec cache``;
and runs killed at any moment (SIGKILL) that leave the run directory old-and-whole or
new-and-whole, the next run giving the numbers of an uninterrupted one."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import shared_folders, tiny_config, tiny_run

from clusterrec.cli import main
from clusterrec.errors import ConfigError
from clusterrec.run.cache import (
    StageCache,
    cache_entries,
    cache_info,
    parse_size,
    prune,
    stage_key,
)
from clusterrec.run.pipeline import RunResult, run_pipeline


def result_numbers(out: Path) -> dict[str, pd.DataFrame]:
    """Every table of results/ but the timings: what must not change between equal runs."""
    tables = {}
    for path in sorted((out / "results").glob("*.csv")):
        if path.name == "stages.csv":
            continue
        frame = pd.read_csv(path)
        tables[path.name] = frame.drop(columns=[c for c in frame if "seconds" in c])
    return tables


def assert_same_numbers(a: Path, b: Path) -> None:
    first, second = result_numbers(a), result_numbers(b)
    assert sorted(first) == sorted(second)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], obj=name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The tiny run, uninterrupted, on the session's shared cache."""
    return tiny_run(tmp_path_factory, tmp_path_factory.mktemp("cache-tests") / "reference")


def _private_cache(factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A copy of the session's shared stage cache, free to be damaged."""
    shared, _ = shared_folders(factory)
    copy = tmp_path / "cache"
    shutil.copytree(shared, copy)
    return copy


def _run(factory: pytest.TempPathFactory, out: Path, cache: Path) -> RunResult:
    _, home = shared_folders(factory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        return run_pipeline(tiny_config(), None, out, cache_dir=cache)


# -- a damaged entry ------------------------------------------------------------------------------


def test_a_damaged_cache_entry_is_discarded_with_a_warning_and_recomputed(
    reference: RunResult,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = _private_cache(tmp_path_factory, tmp_path)
    folders = {p.name.rsplit("-", 1)[0]: p for p in cache.iterdir() if not p.name.startswith(".")}
    flipped = next((folders["distances-jaccard"]).glob("*.npz"))
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one bit pattern changed in the middle of the matrix
    flipped.write_bytes(bytes(data))
    cut = max(folders["networks"].rglob("*.pt"), key=lambda p: p.stat().st_size)
    cut.write_bytes(cut.read_bytes()[:100])
    gone = next(
        p for p in folders["clustering-cosine"].rglob("*") if p.is_file() and p.name != "stage.json"
    )
    gone.unlink()
    (folders["evidence"] / "stage.json").write_text("{not json", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="clusterrec"):
        again = _run(tmp_path_factory, tmp_path / "again", cache)
    recomputed = {r.name for r in again.records if r.key and not r.cached}
    assert recomputed == {"distances-jaccard", "networks", "clustering-cosine", "evidence"}
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "does not match its checksum" in warned and "is missing" in warned
    assert "stage.json is unreadable" in warned and "computed again" in warned
    assert_same_numbers(reference.out, again.out)
    assert _run(tmp_path_factory, tmp_path / "third", cache).reused == len(recomputed) + 7


def test_stage_json_records_every_file_with_its_checksum(reference: RunResult) -> None:
    import json

    shared = Path(reference.manifest["cache"]["folder"])
    for folder in shared.iterdir():
        if folder.name.startswith("."):
            continue
        files = json.loads((folder / "stage.json").read_text())["files"]
        on_disk = {
            p.relative_to(folder).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and p.name != "stage.json"
        }
        assert set(files) == on_disk and all(len(v[1]) == 64 for v in files.values())


# -- size, age, pruning ---------------------------------------------------------------------------


def _fake_cache(root: Path, sizes: dict[str, int], ages_days: dict[str, float]) -> StageCache:
    cache = StageCache(root)
    now = time.time()
    for name, size in sizes.items():
        key = stage_key(name, {})
        cache.build(name, key, {}, lambda work, n=size: (work / "a.bin").write_bytes(b"x" * n))
        stamp = now - ages_days[name] * 86400
        os.utime(cache.folder(name, key) / "stage.json", (stamp, stamp))
    return cache


def test_prune_removes_least_recently_used_first_down_to_the_size(tmp_path: Path) -> None:
    cache = _fake_cache(
        tmp_path, {"old": 1000, "mid": 1000, "new": 1000}, {"old": 9, "mid": 5, "new": 1}
    )
    entries = cache_entries(tmp_path)
    assert [e.stage for e in entries] == ["old", "mid", "new"]
    removed = prune(tmp_path, max_size=f"{entries[1].size + entries[2].size}B")
    assert [e.stage for e in removed] == ["old"]
    assert cache.lookup("mid", stage_key("mid", {})) is not None  # used now: the newest
    removed = prune(tmp_path, max_size=entries[1].size)
    assert [e.stage for e in removed] == ["new"]
    kept = cache.folder("mid", stage_key("mid", {}))
    assert prune(tmp_path, max_size=0, keep=[kept]) == [] and kept.is_dir()


def test_prune_by_age_and_unfinished_folders_of_killed_runs(tmp_path: Path) -> None:
    _fake_cache(tmp_path, {"old": 10, "new": 10}, {"old": 40, "new": 2})
    stale = tmp_path / ".networks-abc.part"
    stale.mkdir()
    os.utime(stale, (time.time() - 3 * 86400,) * 2)
    fresh = tmp_path / ".kfold-def.part"  # perhaps a run going on now: kept
    fresh.mkdir()
    info = cache_info(tmp_path)
    assert (info["entries"], info["unfinished"]) == (2, 2)
    assert info["oldest_days"] == pytest.approx(40, abs=0.01)
    old = next(p.name for p in tmp_path.glob("old-*"))
    removed = {e.path.name for e in prune(tmp_path, older_than_days=30)}
    assert removed == {stale.name, old}
    assert fresh.is_dir()


@pytest.mark.parametrize(
    ("text", "size"),
    [("500MB", 500 * 10**6), ("10GiB", 10 * 2**30), ("2g", 2 * 10**9), ("1.5 KiB", 1536), (7, 7)],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_a_size_that_is_not_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a size"):
        parse_size("lots")
    with pytest.raises(ConfigError, match=r"\[cache\] max_size"):
        tiny_config(cache={"max_size": "lots"})


def test_cli_cache_info_and_prune(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _fake_cache(tmp_path, {"data": 2048, "networks": 4096}, {"data": 3, "networks": 1})
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "KiB in 2 entries" in out and "3.0 days (oldest)" in out and "networks" in out
    assert main(["cache", "prune", "--cache-dir", str(tmp_path), "--older-than", "2"]) == 0
    assert "removed 1 entries (2.3 KiB)" in capsys.readouterr().out
    assert main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", "big"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", "0"]) == 0
    assert main(["cache", "info", "--cache-dir", str(tmp_path), "--json"]) == 0
    assert '"entries": 0' in capsys.readouterr().out


def test_a_run_prunes_the_cache_to_its_bound_keeping_its_own_stages(
    reference: RunResult, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    cache = _private_cache(tmp_path_factory, tmp_path)
    _fake_cache(cache, {"stale": 10}, {"stale": 100})
    _, home = shared_folders(tmp_path_factory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        run = run_pipeline(
            tiny_config(cache={"max_size": "1B"}), None, tmp_path / "out", cache_dir=cache
        )
    left = {e.path for e in cache_entries(cache) if e.finished}
    assert left == {StageCache(cache).folder(r.name, r.key) for r in run.records if r.key}


# -- killed runs ----------------------------------------------------------------------------------


def _finished_stages(cache: Path) -> int:
    return sum(1 for p in cache.glob("*") if not p.name.startswith(".")) if cache.is_dir() else 0


def _writing_out(out: Path) -> bool:
    return any(out.parent.glob(f".{out.name}.*.part"))


def _run_cli(args: list[str], env: dict, kill_when=None) -> int | None:
    """``clusterrec run ...`` in a subprocess; SIGKILLed as soon as ``kill_when()`` is true
    (returns None then), else waited for (returns the exit status)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "clusterrec.cli", "run", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if kill_when is None:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err.decode()[-2000:]
        return 0
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline:
        if kill_when():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return None
        time.sleep(0.02)
    raise AssertionError(f"the run ended (status {process.returncode}) before the kill point")


@pytest.mark.slow
def test_runs_killed_at_several_points_resume_to_the_numbers_of_an_uninterrupted_run(
    reference: RunResult, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    _, home = shared_folders(tmp_path_factory)
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_config().to_toml(), encoding="utf-8")
    cache, out = tmp_path / "cache", tmp_path / "runs" / "out"
    args = ["--config", str(config), "--out", str(out), "--cache-dir", str(cache), "--no-progress"]
    env = {**os.environ, "XDG_CACHE_HOME": str(home)}

    for kill_when in (
        lambda: _finished_stages(cache) >= 1,  # inside the distance stages
        lambda: _finished_stages(cache) >= 8,  # inside networks
        lambda: _writing_out(out),  # while the run directory is written
    ):
        assert _run_cli(args, env, kill_when) is None
        assert not out.exists()  # no half run directory
    assert _run_cli(args, env) == 0
    assert_same_numbers(reference.out, out)
    manifest = (out / "manifest.json").read_bytes()

    # killed while replacing a finished run directory: the old one stays, whole
    assert _run_cli(args, env, lambda: _writing_out(out)) is None
    assert (out / "manifest.json").read_bytes() == manifest
    assert_same_numbers(reference.out, out)
    assert _run_cli(args, env) == 0
    assert_same_numbers(reference.out, out)
    leftovers = [p.name for p in out.parent.iterdir() if p != out]
    assert all(name.endswith(".part") for name in leftovers)  # only what the kills left


def test_a_run_does_not_replace_a_folder_that_is_not_a_run_directory(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a run directory"):
        run_pipeline(tiny_config(), None, tmp_path, cache_dir=tmp_path / "c")
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me"


def test_atomic_directory_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    from clusterrec._atomic import atomic_directory

    target = tmp_path / "model"
    target.mkdir()
    (target / "model.json").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_directory(target) as work:
        (work / "model.json").write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert (target / "model.json").read_text(encoding="utf-8") == "old"
    with atomic_directory(target) as work:
        (work / "model.json").write_text("new", encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.read_text(encoding="utf-8") for p in target.iterdir()] == ["new"]


def test_train_does_not_replace_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    from clusterrec.cli.train import save_model_folder

    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a saved model"):
        save_model_folder(object(), tmp_path)
    assert (tmp_path / "notes.txt").is_file()
