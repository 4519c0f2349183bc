"""A saved model folder damaged in any way (a file cut short, changed bytes, random bytes, a
file gone, model.json values of the wrong type) loads as a `DataError` naming the folder, or
as a model that predicts: never another exception."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzzing import NASTY, insert, set_byte, truncate
from helpers import random_ratings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusterrec.errors import DataError
from clusterrec.models.registry import MODEL_NAMES, comparison_models

#: Every model of the registry (as the contract test builds them).
MODELS = comparison_models(MODEL_NAMES, n_clusters=2, seed=0)
VALUES = st.sampled_from([None, -1, 0, "x", [], {}, 1e308, True, [1, 2, 3]])


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    ratings = random_ratings(30, 20, 0.4, seed=1, cover=True)
    base = tmp_path_factory.mktemp("saved-models")
    return {name: make().fit(ratings).save(base / name) for name, make in MODELS.items()}


def _damage_json(text: str, draw: st.DrawFn) -> str:
    document = json.loads(text)
    node = document
    for _ in range(draw(st.integers(0, 2))):
        children = (
            [k for k, v in node.items() if isinstance(v, dict)] if isinstance(node, dict) else []
        )
        if not children:
            break
        node = node[draw(st.sampled_from(sorted(children)))]
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        if draw(st.booleans()):
            node[key] = draw(VALUES)
        else:
            del node[key]
    return json.dumps(document)


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(sorted(MODELS)), data=st.data())
def test_a_damaged_model_folder_is_a_data_error_naming_it(
    saved: dict[str, Path], tmp_path: Path, name: str, data: st.DataObject
) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "model"
    shutil.copytree(saved[name], folder)
    path = data.draw(st.sampled_from(sorted(folder.iterdir())))
    content = path.read_bytes()
    how = data.draw(st.sampled_from(["json", "cut", "byte", "insert", "random", "gone"]))
    at = data.draw(st.integers(0, 1 << 20))
    if how == "json" and path.name == "model.json":
        path.write_text(_damage_json(content.decode(), data.draw), encoding="utf-8")
    elif how == "cut":
        path.write_bytes(truncate(content, at))
    elif how == "byte":
        path.write_bytes(set_byte(content, at, data.draw(st.integers(0, 255))))
    elif how == "insert":
        path.write_bytes(insert(content, at, data.draw(st.sampled_from(NASTY))))
    elif how == "random":
        path.write_bytes(data.draw(st.binary(max_size=300)))
    else:
        path.unlink()
    cls = type(MODELS[name]())
    try:
        model = cls.load(folder)
    except DataError as error:
        assert str(folder) in str(error)
        return
    users, items = model.user_index_[:5].to_numpy(), model.item_index_[:5].to_numpy()
    assert np.isfinite(model.predict(users, items).rating).all()
