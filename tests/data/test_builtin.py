"""The data shipped in the package (MovieLens latest-small) and the run's use of it."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import pytest

from clusterrec.data.builtin import BUILTIN, builtin_files, builtin_license, load_builtin
from clusterrec.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "clusterrec"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_load_builtin_gives_every_rating_with_titles() -> None:
    ratings, titles = load_builtin("ml-latest-small")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_004, 671, 9_066)
    assert str(ratings.scale) == "0.5..5 in steps of 0.5" and ratings.time is not None
    assert ratings.source.notes == [] and ratings.source.bad_records == 0
    assert titles["1"] == "Toy Story (1995)" and len(titles) == 9_125
    counts = ratings.to_frame().groupby("user", observed=True).size()
    assert counts.min() >= BUILTIN["ml-latest-small"].min_ratings


def test_builtin_files_are_decompressed_once(tmp_path: Path) -> None:
    ratings, items = builtin_files()
    assert ratings.is_relative_to(tmp_path / "cache") and ratings.read_text().startswith(
        "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n"
    )
    stamp = ratings.stat().st_mtime_ns
    assert builtin_files() == (ratings, items) and ratings.stat().st_mtime_ns == stamp


def test_license_ships_and_unknown_names_list_the_accepted() -> None:
    assert "may redistribute the data set" in builtin_license()
    with pytest.raises(ConfigError, match="accepted: ml-latest-small"):
        load_builtin("ml-25m")


def test_package_data_declares_every_builtin_file() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["clusterrec"]
    builtin = (PACKAGE / "data" / "builtin").rglob("*")
    files = [p.relative_to(PACKAGE).as_posix() for p in builtin if p.is_file()]
    files = [f for f in files if not f.endswith(".py") and "__pycache__" not in f]
    assert len(files) == 3 * len(BUILTIN)
    for file in files:
        assert any(fnmatch.fnmatch(file, pattern) for pattern in patterns), file


def test_run_config_uses_the_builtin_with_its_range_and_generated_on_request() -> None:
    from clusterrec.run.config import RunConfig, load_config, parse_toml
    from clusterrec.run.stages.data import compute_data, resolve_input

    config = RunConfig()
    assert config.data.builtin == "ml-latest-small"
    assert config.data.user_range("ml-latest-small") == (20, None)
    assert config.data.user_range() == (150, 300)  # generated data and files: the assignment's
    source = resolve_input(None, config)
    assert source.builtin == "ml-latest-small" and source.items is not None
    kept = compute_data(source, config)
    assert kept.filter.as_dict()["after"]["users"] == 671
    set_one = parse_toml("[data]\nmin_ratings = 50\n").data
    assert set_one.user_range("ml-latest-small") == (50, 300)
    generated = load_config(None, ["data.builtin=none", "data.generated_size=tiny"])
    assert resolve_input(None, generated).generated == {"size": "tiny", "seed": 0}


def test_cli_run_generated_flag(capsys: pytest.CaptureFixture) -> None:
    from clusterrec.cli import main
    from clusterrec.cli.run import GENERATED_SIZES
    from clusterrec.data.synthetic import SIZES

    assert tuple(SIZES) == GENERATED_SIZES
    assert main(["run", "--generated", "tiny", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert 'builtin = "none"' in out and 'generated_size = "tiny"' in out
    assert main(["run", "--print-config"]) == 0
    assert 'builtin = "ml-latest-small"' in capsys.readouterr().out
    assert main(["run", "u.data", "--generated", "seed"]) == 2
    assert "either DATA or --generated" in capsys.readouterr().err
