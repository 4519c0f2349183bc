"""The stage cache: content-addressed folders of files, built under a temporary name and renamed
into place.

**The stage cache.** Every stage's outputs are files (.npz, .json, .csv; no pickle; figures are
drawn later, in the report step) in a folder named by a SHA-256 key of the stage's name, the
package version and exactly the parameters the stage depends on, including the keys of the
stages it reads (so a new input file, which changes the input hash, changes every key). A
folder is complete when its ``stage.json`` exists; it is built under a temporary name and
renamed into place, so an interrupted run never leaves a half-written stage. Re-running with
the same configuration reuses every stage; changing, say, the network preset changes the keys
of the networks, k-fold and recommendations stages only, so the distances and clusterings are
reused. Each stage returns a typed result whose ``save`` writes the folder and whose ``load``
reads it back; the pipeline always hands results on by loading them, so a reused stage and a
fresh one give the report the same values.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from clusterrec import __version__
from clusterrec._files import json_text, read_json, write_json

__all__ = [
    "STAGE_FORMAT",
    "StageCache",
    "computed_seconds",
    "default_cache_dir",
    "stage_key",
]

#: Part of every stage key: bump when what a stage writes changes shape.
STAGE_FORMAT = 2


# -- the stage cache ------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/clusterrec/stages`` or ``~/.cache/clusterrec/stages``."""
    from clusterrec.data.synthetic import cache_dir

    return cache_dir() / "stages"


def stage_key(name: str, params: Mapping) -> str:
    """SHA-256 of the stage name, the package and stage-format versions and ``params``."""
    payload = {"stage": name, "format": STAGE_FORMAT, "version": __version__, "params": params}
    text = json_text(payload, compact=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StageCache:
    """Content-addressed stage folders under ``root``; with ``reuse=False`` nothing is reused
    (every stage is computed afresh into ``root``)."""

    def __init__(self, root: Path, *, reuse: bool = True) -> None:
        self.root = Path(root)
        self.reuse = reuse

    def folder(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key[:24]}"

    def lookup(self, name: str, key: str) -> Path | None:
        """The finished folder of this stage and key, or None."""
        folder = self.folder(name, key)
        if self.reuse and (folder / "stage.json").is_file():
            return folder
        return None

    def build(
        self, name: str, key: str, params: Mapping, compute: Callable[[Path], None]
    ) -> tuple[Path, float]:
        """Run ``compute(folder)`` in a temporary folder, then rename it into place."""
        final = self.folder(name, key)
        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{name}-", suffix=".part"))
        try:
            started = time.perf_counter()
            compute(work)
            seconds = time.perf_counter() - started
            meta = {"stage": name, "key": key, "params": params, "seconds": seconds}
            write_json(work / "stage.json", meta)
            _move_into_place(work, final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return final, seconds


def _move_into_place(work: Path, final: Path) -> None:
    """Rename the finished ``work`` folder to ``final``, replacing an older copy; when another
    run finished the same stage in the meantime, keep theirs."""
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)
    try:
        os.rename(work, final)
    except OSError:
        if not (final / "stage.json").is_file():
            raise
        shutil.rmtree(work, ignore_errors=True)


def computed_seconds(folder: Path) -> float:
    """How long computing the stage in ``folder`` took when it was built."""
    return float(read_json(folder / "stage.json").get("seconds", 0.0))
