"""k-fold assignments, published split files and their alignment with the kept records."""

from __future__ import annotations

import numpy as np
import pytest

from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.splits import (
    assignments_for_kept_records,
    kfold_assignments,
    load_split_file,
)


def test_kfold_assignments_are_balanced_deterministic_and_a_partition():
    folds = kfold_assignments(103, folds=5, seed=7)
    assert folds.shape == (103,) and set(folds) == set(range(5))
    counts = np.bincount(folds)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 103
    np.testing.assert_array_equal(folds, kfold_assignments(103, folds=5, seed=7))
    assert not np.array_equal(folds, kfold_assignments(103, folds=5, seed=8))
    with pytest.raises(ConfigError):
        kfold_assignments(10, folds=1)
    with pytest.raises(DataError):
        kfold_assignments(3, folds=5)


def test_load_split_file_round_trip(tmp_path):
    path = tmp_path / "folds.npy"
    np.save(path, np.array([0, 1, 2, 0, 1, 2], dtype=np.int32))
    np.testing.assert_array_equal(load_split_file(path, 6, 3), [0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([0, 1, 0]), "3 fold numbers for 4 records"),
        (np.array([0.0, 1.0, 0.0, 1.0]), "must be integers"),
        (np.array([0, 1, 2, 1]), "fold number 2"),
        (np.array([0, -1, 0, 1]), "fold number -1"),
        (np.array([0, 0, 0, 0]), "fold 1 has no record"),
        (np.array([[0, 1], [0, 1]]), "1-D"),
    ],
)
def test_load_split_file_rejects_bad_files_naming_them(tmp_path, array, message):
    path = tmp_path / "folds.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=message) as raised:
        load_split_file(path, 4, 2)
    assert str(path) in str(raised.value)


def test_load_split_file_refuses_object_arrays_archives_and_missing_files(tmp_path):
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([0, 1, "x", None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="object array"):
        load_split_file(objects, 4, 2)
    archive = tmp_path / "folds.npz"
    np.savez(archive, folds=np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match="npz"):
        load_split_file(archive, 4, 2)
    garbage = tmp_path / "garbage.npy"
    garbage.write_text("not numpy")
    with pytest.raises(DataError, match="garbage.npy"):
        load_split_file(garbage, 4, 2)
    with pytest.raises(DataError, match="no such"):
        load_split_file(tmp_path / "absent.npy", 4, 2)


def test_assignments_for_kept_records_selects_the_kept_file_records():
    file_folds = np.array([0, 1, 2, 0, 1])
    np.testing.assert_array_equal(assignments_for_kept_records(file_folds, [0, 2, 4]), [0, 2, 1])
    mask = np.array([True, False, True, True, False])
    np.testing.assert_array_equal(assignments_for_kept_records(file_folds, mask), [0, 2, 0])
    with pytest.raises(DataError):
        assignments_for_kept_records(file_folds, [5])
