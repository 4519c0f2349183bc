"""The notebook's LEAKY evaluation: named, flagged, never a default, and far below honest."""

from __future__ import annotations

import json

import pytest
from helpers import random_ratings

from clusterrec.evaluation.notebook_leaky import notebook_leaky


@pytest.fixture(scope="module")
def ratings():
    return random_ratings(60, 40, 0.4, seed=2, cover=True, taste_groups=3)


def test_self_as_neighbour_makes_the_test_error_collapse(ratings) -> None:
    leaky = notebook_leaky(ratings, 2, n_neighbors=3, seed=0)
    honest = notebook_leaky(ratings, 2, n_neighbors=3, include_self=False, seed=0)
    assert leaky.leaky and not honest.leaky
    assert leaky.protocol.startswith("notebook-leaky (LEAKY")
    assert "LEAKY" not in honest.protocol
    assert leaky.overall["test_ratings"] == honest.overall["test_ratings"]
    assert leaky.overall["test_mae"] < 0.5 * honest.overall["test_mae"]
    table = leaky.to_markdown()
    assert table.startswith("Protocol: notebook-leaky (LEAKY") and "| all |" in table
    assert json.loads(json.dumps(leaky.as_dict()))["leaky"] is True


def test_notebook_leaky_is_never_a_default() -> None:
    from clusterrec.cli.evaluate import SPLIT_PROTOCOLS
    from clusterrec.run.config import RunConfig

    assert "notebook-leaky" not in SPLIT_PROTOCOLS
    config = RunConfig().as_dict()
    # The run's one mention of it: the LEAKY figure shown beside the honest one, never as it.
    assert config["model"].pop("leaky_comparison") is True
    assert "leaky" not in json.dumps(config)


def test_given_labels_are_the_clusters_used(ratings) -> None:
    import numpy as np

    labels = np.arange(ratings.n_users) % 3
    result = notebook_leaky(ratings, 3, n_neighbors=3, labels=labels, epochs=2, seed=0)
    counts = np.bincount(labels, minlength=3)
    assert list(result.clusters["users"]) == list(counts)
    assert "(2 epochs)" in result.protocol
    with pytest.raises(Exception, match="one cluster per user"):
        notebook_leaky(ratings, 3, labels=labels[:-1])


def test_cli_flags_notebook_leaky(ratings, tmp_path, capsys) -> None:
    from clusterrec.cli import main

    path = tmp_path / "ratings.csv"
    ratings.to_frame().to_csv(path, index=False)
    argv = ["evaluate", str(path), "--min-ratings", "1", "--protocol", "notebook-leaky"]
    assert main([*argv, "--clusters", "2", "--neighbors", "3", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["leaky"] is True and "LEAKY" in out.err
