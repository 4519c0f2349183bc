"""Shared fixtures: small random ratings, and real data sets from ../shared (skipped only
where truly absent)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import random_ratings

from clusterrec.data.ratings import Ratings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ML_LATEST_SMALL = SHARED / "datasets" / "ml-latest-small-2016"


@pytest.fixture(scope="session")
def taste_ratings() -> Ratings:
    """30 users x 24 items rated 1..5 by two planted taste groups; every user rates i0..i2."""
    return random_ratings(30, 24, 0.3, seed=11, common_items=3, taste_groups=2)


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    """Folder with the real MovieLens-100K ``u.data`` and ``items.tsv``.

    Uses ``$CLUSTERREC_ML100K`` when set, else runs ``../shared/datasets/fetch-ml100k``.
    """
    given = os.environ.get("CLUSTERREC_ML100K")
    if given and (Path(given) / "u.data").is_file():
        return Path(given)
    script = SHARED / "datasets" / "fetch-ml100k"
    if not script.is_file():
        pytest.skip("MovieLens-100K is not available (no ../shared/datasets/fetch-ml100k)")
    result = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"fetch-ml100k failed: {result.stderr.strip()[-300:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def ml_latest_small() -> Path:
    path = ML_LATEST_SMALL / "ratings.csv"
    if not path.is_file():
        pytest.skip("MovieLens latest-small is not available in ../shared/datasets")
    return path
