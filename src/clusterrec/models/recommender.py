"""What every recommender in clusterrec shares: id maps, predictions with visible fallbacks,
top-N recommendations, and the saved-model format.

A recommender is fitted on `Ratings` and predicts for original ids. Internally it works on
integer codes of its training vocabulary; ids it never saw get code -1, and a prediction it
cannot make from evidence is flagged as a fallback rather than hidden in an average.

A saved model is a folder with ``model.json`` (``format`` "clusterrec.<class name>",
``format_version``, the constructor's parameters, scale, global mean) and ``arrays.npz`` (the
id maps and the fitted arrays, read with ``allow_pickle=False``): see
:func:`write_model_files` and :func:`read_model_files`. No pickle anywhere.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clusterrec._atomic import atomic_write
from clusterrec.data.ratings import Ratings, RatingScale
from clusterrec.errors import ConfigError, DataError

__all__ = [
    "ARRAYS_FILE",
    "META_FILE",
    "MODEL_FORMAT_VERSION",
    "Predictions",
    "Recommender",
    "check_loaded",
    "check_model_meta",
    "clip_to_scale",
    "damaged_model_files",
    "read_model_files",
    "read_model_meta",
    "write_model_files",
]

#: Version of the saved-model format :meth:`Recommender.save` writes; checked on load.
MODEL_FORMAT_VERSION = 1
#: The saved model's metadata (written last: a folder with it is complete).
META_FILE = "model.json"
#: The saved model's arrays (id maps and fitted state), loaded with ``allow_pickle=False``.
ARRAYS_FILE = "arrays.npz"


@dataclass(frozen=True)
class Predictions:
    """Predicted ratings, clipped to the scale, and which ones used the fallback.

    ``fallback[j]`` is True when prediction ``j`` had no evidence for the model's main path
    (unknown user or item, or no neighbour rated the item) and came from the fallback.
    """

    rating: np.ndarray
    fallback: np.ndarray

    def __len__(self) -> int:
        return len(self.rating)

    @property
    def fallback_share(self) -> float:
        return float(self.fallback.mean()) if len(self.fallback) else 0.0


class Recommender:
    """Base class: ``fit(ratings)`` then ``predict(users, items)`` and ``recommend(user)``.

    Subclasses implement ``_fit(ratings)`` on training codes and
    ``_predict_codes(users, items)`` for code arrays where -1 means "not in training"; they
    return a `Predictions` (unclipped is fine: clipping happens here).
    """

    #: Short name used in evaluation tables.
    name = "recommender"

    def fit(self, ratings: Ratings) -> Recommender:
        """Learn from ``ratings``; returns self."""
        if len(ratings) == 0:
            raise DataError("cannot fit on an empty set of ratings")
        ratings = ratings.compact()
        self._remember_vocabulary(ratings)
        self._fit(ratings)
        return self

    def _remember_vocabulary(self, ratings: Ratings) -> None:
        """The id maps, scale and global mean of the (compacted) training ratings."""
        self.user_index_ = pd.Index(ratings.user_labels)
        self.item_index_ = pd.Index(ratings.item_labels)
        self.scale_ = ratings.scale
        self.global_mean_ = float(ratings.rating.mean(dtype=np.float64))

    def predict(self, users: object, items: object) -> Predictions:
        """Predicted ratings of ``items`` by ``users`` (original ids, pairwise)."""
        self._check_fitted()
        user_codes = self.user_codes(users)
        item_codes = self.item_codes(items)
        if len(user_codes) != len(item_codes):
            raise ConfigError(
                f"users and items must pair up: {len(user_codes)} users, {len(item_codes)} items"
            )
        return self.predict_codes(user_codes, item_codes)

    def predict_codes(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        """Predictions for training codes (-1: unknown), clipped to the rating scale."""
        raw = self._predict_codes(np.asarray(users, np.int64), np.asarray(items, np.int64))
        return Predictions(clip_to_scale(raw.rating, self.scale_), raw.fallback)

    def recommend(
        self,
        user: object,
        n: int = 10,
        *,
        exclude_rated: bool = True,
        rated: Ratings | None = None,
    ) -> pd.DataFrame:
        """The ``n`` items with the highest predicted rating for ``user``.

        Items the user rated in training are left out when ``exclude_rated``; ``rated``
        (optional) adds ratings known besides the training data. Returns a DataFrame with
        columns item, predicted_rating, fallback, best first (ties: smaller code first).
        """
        self._check_fitted()
        (code,) = self.user_codes([user])
        if code < 0:
            raise DataError(f"user {user!r} is not in the training data; cannot recommend")
        items = np.arange(len(self.item_index_))
        scores = self.predict_codes(np.full(len(items), code), items)
        keep = np.ones(len(items), dtype=bool)
        if exclude_rated:
            keep[self._rated_items(code)] = False
            if rated is not None:
                mine = rated.user_labels[rated.user] == str(user)
                known = self.item_codes(rated.item_labels[rated.item[mine]])
                keep[known[known >= 0]] = False
        candidates = np.flatnonzero(keep)
        order = np.lexsort((candidates, -scores.rating[candidates]))[:n]
        chosen = candidates[order]
        return pd.DataFrame(
            {
                "item": self.item_index_[chosen].astype(str),
                "predicted_rating": scores.rating[chosen],
                "fallback": scores.fallback[chosen],
            }
        )

    def recommend_all(
        self,
        n: int = 10,
        *,
        users: object = None,
        exclude_rated: bool = True,
        batch_users: int | None = None,
    ) -> pd.DataFrame:
        """Top ``n`` for every training user (or ``users``), batched and memory-bounded: a
        DataFrame with columns user, rank, item, predicted_rating, fallback; see
        :func:`clusterrec.models.top_n.recommend_all`."""
        from clusterrec.models.top_n import recommend_all

        return recommend_all(
            self, n, users=users, exclude_rated=exclude_rated, batch_users=batch_users
        )

    def user_codes(self, labels: object) -> np.ndarray:
        """Training codes of original user ids (-1 for unknown ids)."""
        return self.user_index_.get_indexer(_as_labels(labels)).astype(np.int64)

    def item_codes(self, labels: object) -> np.ndarray:
        """Training codes of original item ids (-1 for unknown ids)."""
        return self.item_index_.get_indexer(_as_labels(labels)).astype(np.int64)

    # -- for subclasses -------------------------------------------------------------------------

    def _fit(self, ratings: Ratings) -> None:
        raise NotImplementedError

    def _predict_codes(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        raise NotImplementedError

    def _rated_items(self, user: int) -> np.ndarray:
        """Item codes the user rated in training (for excluding them from recommendations)."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "user_index_"):
            raise ConfigError(f"{type(self).__name__} is not fitted yet; call fit(ratings) first")

    # -- persistence ------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the fitted model to ``folder`` (model.json + arrays.npz, no pickle); returns
        the folder. :meth:`load` gives a model with bit-identical predictions."""
        self._check_fitted()
        meta = {
            "params": self._params(),
            "scale": [self.scale_.low, self.scale_.high, self.scale_.step],
            "global_mean": self.global_mean_,
        }
        arrays = {
            "user_labels": np.asarray(self.user_index_, dtype=str),
            "item_labels": np.asarray(self.item_index_, dtype=str),
            **self._state_arrays(),
        }
        return write_model_files(folder, type(self).__name__, meta, arrays)

    @classmethod
    def load(cls, folder: str | Path) -> Recommender:
        """A model written by :meth:`save` of this class. A missing, damaged or foreign folder
        (another model, another format version) is a `DataError` naming the folder."""
        meta, arrays = read_model_files(folder, cls.__name__)
        check_model_meta(folder, meta, cls)
        with damaged_model_files(folder):
            model = cls(**meta["params"])
            model.user_index_ = pd.Index(arrays["user_labels"].astype(object))
            model.item_index_ = pd.Index(arrays["item_labels"].astype(object))
            model.scale_ = RatingScale(*meta["scale"])
            model.global_mean_ = float(meta["global_mean"])
            model._restore_state(arrays)
        return check_loaded(model, folder)

    def _params(self) -> dict:
        """The constructor's arguments, as stored (for saving)."""
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return {name: getattr(self, name) for name in names if hasattr(self, name)}

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state besides the id maps, as named arrays (for saving)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def _restore_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Set the fitted state from :meth:`_state_arrays`' arrays (after loading)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")


# -- the saved-model format -----------------------------------------------------------------------


def write_model_files(
    folder: str | Path,
    kind: str,
    meta: dict,
    arrays: dict[str, np.ndarray],
    *,
    version: int = MODEL_FORMAT_VERSION,
) -> Path:
    """Write ``arrays`` to ``folder/arrays.npz`` and ``meta`` (plus ``format``
    "clusterrec.<kind>" and ``format_version``) to ``folder/model.json``, each atomically.

    An old model.json is removed first and the new one written last, so an interrupted save
    leaves a folder that :func:`read_model_files` refuses rather than a mix of two models.
    Other files of a model (such as network weights) belong before this call.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META_FILE).unlink(missing_ok=True)
    with atomic_write(folder / ARRAYS_FILE, "wb") as handle:
        np.savez(handle, **arrays)
    document = {"format": f"clusterrec.{kind}", "format_version": version, **meta}
    with atomic_write(folder / META_FILE, "w") as handle:
        json.dump(document, handle, indent=2, allow_nan=False)
        handle.write("\n")
    return folder


def read_model_meta(folder: str | Path) -> object:
    """The parsed model.json of a saved model folder; a `DataError` naming the folder when it
    is missing or not JSON."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise DataError(f"{folder}: not a saved clusterrec model (no {META_FILE})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{folder}: damaged model folder ({META_FILE}: {error})") from None


def read_model_files(
    folder: str | Path, kind: str, *, version: int = MODEL_FORMAT_VERSION
) -> tuple[dict, dict[str, np.ndarray]]:
    """(model.json's content, arrays.npz's arrays) of a folder :func:`write_model_files`
    wrote for ``kind``; a `DataError` naming the folder when it is missing, damaged, holds
    another kind of model or another format version."""
    folder = Path(folder)
    meta = read_model_meta(folder)
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != f"clusterrec.{kind}":
        raise DataError(
            f"{folder}: holds {found or 'no clusterrec model'!s}, not a saved clusterrec.{kind}; "
            f"load it with the class that saved it"
        )
    if meta.get("format_version") != version:
        raise DataError(
            f"{folder}: written by model format version {meta.get('format_version')!r}; this "
            f"clusterrec reads version {version}. Train the model again with this version"
        )
    with damaged_model_files(folder):
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    return meta, arrays


def check_model_meta(folder: str | Path, meta: dict, cls: type) -> None:
    """The values of a model.json of the types its writer gives them, else a `DataError`
    naming the folder: a rating scale of numbers, finite means, and constructor parameters of
    the types of their defaults."""

    def damaged(what: str) -> DataError:
        return DataError(f"{folder}: damaged model folder ({META_FILE}: {what})")

    scale = meta.get("scale")
    if not (
        isinstance(scale, list)
        and len(scale) == 3
        and all(_is_number(v) for v in scale[:2])
        and scale[0] < scale[1]
        and (scale[2] is None or (_is_number(scale[2]) and scale[2] > 0))
    ):
        raise damaged(f"scale {scale!r} is not LOW < HIGH and a step")
    for key in ("global_mean", "baseline_global_mean"):
        if key in meta and not _is_number(meta[key]):
            raise damaged(f"{key} {meta[key]!r} is not a number")
    params = meta.get("params")
    if not isinstance(params, dict):
        raise damaged("no parameters")
    accepted = inspect.signature(cls.__init__).parameters
    for name, value in params.items():
        if name not in accepted or name == "self":
            raise damaged(f"{cls.__name__} takes no parameter {name!r}")
        default = accepted[name].default
        kind = type(default)
        if kind not in (bool, int, float, str, tuple, list):  # None, empty, others: any value
            continue
        if kind is float:
            fits = _is_number(value)
        elif kind in (tuple, list):  # JSON keeps a tuple as a list
            fits = isinstance(value, (tuple, list))
        else:
            fits = type(value) is kind
        if not fits:
            raise damaged(f"parameter {name} = {value!r} is not a {kind.__name__}")


def check_loaded(model: Recommender, folder: str | Path) -> Recommender:
    """``model``, after one prediction that shows its restored state fits together; what a
    damaged folder makes fail there is a `DataError` naming the folder."""
    if len(model.user_index_) and len(model.item_index_):
        with damaged_model_files(folder):
            model.predict(model.user_index_[:1].to_numpy(), model.item_index_[:1].to_numpy())
    return model


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


@contextlib.contextmanager
def damaged_model_files(folder: str | Path) -> Iterator[None]:
    """Turn what a damaged saved model raises while it is read into a `DataError` naming
    the folder."""
    try:
        yield
    except (
        OSError,
        EOFError,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        ArithmeticError,
        RuntimeError,  # zipfile: an "encrypted" member; torch: a damaged state
        NotImplementedError,  # zipfile: an unknown compression method
        zipfile.BadZipFile,
    ) as error:
        if isinstance(error, DataError):
            raise
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{folder}: damaged model folder ({reason})") from None


def clip_to_scale(values: np.ndarray, scale: RatingScale) -> np.ndarray:
    """Predictions clipped to the rating scale's bounds, as float32."""
    return np.clip(np.asarray(values, dtype=np.float32), scale.low, scale.high)


def _as_labels(labels: object) -> np.ndarray:
    """Original ids as an object array of str (ids are compared as text everywhere)."""
    array = np.atleast_1d(np.asarray(labels, dtype=object))
    return np.asarray([str(x) for x in array], dtype=object)
