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

**Checked.** ``stage.json`` lists the SHA-256 and size of every file of the folder; a folder
whose files do not match (damaged on disk, edited, cut short) is discarded with a warning and
the stage computed again, never loaded.

**Bounded.** Using an entry touches its ``stage.json``, so its age is the time it was last
used. :func:`prune` removes entries oldest-first until the cache fits a size
(:data:`DEFAULT_MAX_SIZE` after every run, ``[cache] max_size``) or are older than some days
(``clusterrec cache prune``); :func:`cache_info` tells the size, entries and ages.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from clusterrec import __version__
from clusterrec._files import file_sha256, json_text, read_json, write_json
from clusterrec._logging import logger
from clusterrec.errors import ConfigError

__all__ = [
    "code_fingerprint",
    "DEFAULT_MAX_SIZE",
    "STAGE_FORMAT",
    "CacheEntry",
    "StageCache",
    "cache_entries",
    "cache_info",
    "computed_seconds",
    "default_cache_dir",
    "format_size",
    "parse_size",
    "prune",
    "stage_key",
]

#: Part of every stage key: bump when what a stage writes changes shape.
STAGE_FORMAT = 3

#: The size the cache is pruned to after every run unless configured otherwise.
DEFAULT_MAX_SIZE = "10GiB"

#: Unfinished folders (``.part``) older than this are left by runs that were killed.
_STALE_PART_SECONDS = 24 * 3600


# -- the stage cache ------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/clusterrec/stages`` or ``~/.cache/clusterrec/stages``."""
    from clusterrec.data.synthetic import cache_dir

    return cache_dir() / "stages"


def stage_key(name: str, params: Mapping) -> str:
    """SHA-256 of the stage name, the package and stage-format versions, the package's code
    and ``params``: a changed model or metric never reuses numbers computed by the old code."""
    payload = {
        "stage": name,
        "format": STAGE_FORMAT,
        "version": __version__,
        "code": code_fingerprint(),
        "params": params,
    }
    text = json_text(payload, compact=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 over the package's Python sources (names and bytes), computed once."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()


class StageCache:
    """Content-addressed stage folders under ``root``; with ``reuse=False`` nothing is reused
    (every stage is computed afresh into ``root``)."""

    def __init__(self, root: Path, *, reuse: bool = True) -> None:
        self.root = Path(root)
        self.reuse = reuse

    def folder(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key[:24]}"

    def lookup(self, name: str, key: str) -> Path | None:
        """The finished, intact folder of this stage and key (its use recorded), or None.

        A folder whose files do not match the checksums in its ``stage.json`` is removed with
        a warning, so the stage is computed again.
        """
        folder = self.folder(name, key)
        if not (self.reuse and (folder / "stage.json").exists()):
            return None
        problem = _damage(folder)
        if problem:
            logger.warning(
                "stage cache entry %s is damaged (%s); discarded, the stage is computed again",
                folder,
                problem,
            )
            shutil.rmtree(folder, ignore_errors=True)
            return None
        try:
            os.utime(folder / "stage.json")
        except OSError:
            pass
        return folder

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
            meta = {
                "stage": name,
                "key": key,
                "params": params,
                "seconds": seconds,
                "files": _checksums(work),
            }
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


# -- checksums ------------------------------------------------------------------------------------


def _checksums(folder: Path) -> dict[str, list]:
    """relative path -> [size, SHA-256] of every file under ``folder`` but stage.json."""
    return {
        path.relative_to(folder).as_posix(): [path.stat().st_size, file_sha256(path)]
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "stage.json"
    }


def _damage(folder: Path) -> str:
    """What is wrong with a finished stage folder ("" when its files match stage.json)."""
    try:
        meta = json.loads((folder / "stage.json").read_text(encoding="utf-8"))
        files = meta["files"]
        if not isinstance(files, dict) or not isinstance(meta.get("seconds", 0.0), (int, float)):
            return "stage.json is not what clusterrec writes"
    except (OSError, ValueError, KeyError, TypeError):
        return "stage.json is unreadable"
    found = _checksums(folder)
    for name, expected in files.items():
        if name not in found:
            return f"{name} is missing"
        if found[name] != expected:
            return f"{name} does not match its checksum"
    extra = sorted(set(found) - set(files))
    return f"{extra[0]} was not written by the stage" if extra else ""


# -- size and age: info and pruning ---------------------------------------------------------------


@dataclass(frozen=True)
class CacheEntry:
    """One folder of the cache: a finished stage, or an unfinished one (``.part``)."""

    path: Path
    stage: str
    size: int
    last_used: float
    finished: bool

    @property
    def age_days(self) -> float:
        return max(0.0, (time.time() - self.last_used) / 86400)


def cache_entries(root: Path) -> list[CacheEntry]:
    """Every folder of the cache at ``root``, oldest (least recently used) first."""
    root = Path(root)
    if not root.is_dir():
        return []
    entries = []
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        finished = not folder.name.endswith(".part")
        marker = folder / "stage.json"
        try:
            used = (marker if finished and marker.exists() else folder).stat().st_mtime
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        except OSError:  # removed meanwhile by another run
            continue
        stage = folder.name.lstrip(".").removesuffix(".part").rsplit("-", 1)[0]
        entries.append(CacheEntry(folder, stage, size, used, finished and marker.exists()))
    return sorted(entries, key=lambda entry: (entry.last_used, entry.path.name))


def cache_info(root: Path) -> dict:
    """Folder, total size, entries (finished and unfinished), oldest and newest age in days,
    and per stage the entries and size."""
    entries = cache_entries(root)
    stages: dict[str, dict] = {}
    for entry in entries:
        row = stages.setdefault(entry.stage, {"entries": 0, "size": 0})
        row["entries"] += 1
        row["size"] += entry.size
    return {
        "folder": str(root),
        "size": sum(e.size for e in entries),
        "entries": sum(e.finished for e in entries),
        "unfinished": sum(not e.finished for e in entries),
        "oldest_days": max((e.age_days for e in entries), default=None),
        "newest_days": min((e.age_days for e in entries), default=None),
        "stages": dict(sorted(stages.items())),
    }


def prune(
    root: Path,
    *,
    max_size: int | str | None = None,
    older_than_days: float | None = None,
    keep: Collection[Path] = (),
) -> list[CacheEntry]:
    """Remove cache entries, least recently used first: those older than ``older_than_days``,
    then more until the cache holds at most ``max_size`` bytes (``"10GiB"`` style accepted);
    never those in ``keep`` (the run that just finished). Unfinished folders a killed run left
    (over a day old) go too. Returns what was removed."""
    limit = parse_size(max_size) if isinstance(max_size, str) else max_size
    keep = {Path(k).resolve() for k in keep}
    entries = cache_entries(root)
    total = sum(e.size for e in entries)
    removed = []
    for entry in entries:
        if entry.path.resolve() in keep:
            continue
        stale = not entry.finished and time.time() - entry.last_used > _STALE_PART_SECONDS
        old = older_than_days is not None and entry.age_days > older_than_days
        over = limit is not None and total > limit and entry.finished
        if stale or old or over:
            shutil.rmtree(entry.path, ignore_errors=True)
            total -= entry.size
            removed.append(entry)
    if removed:
        logger.info(
            "pruned %d stage cache entries (%s) from %s",
            len(removed),
            format_size(sum(e.size for e in removed)),
            root,
        )
    return removed


_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_size(text: str | int) -> int:
    """Bytes from ``"500MB"``, ``"10GiB"``, ``"2G"``, ``"1.5 TB"`` or a number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(i?)b?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ConfigError(
            f"cache size {text!r} is not a size; give e.g. 500MB, 10GiB or a number of bytes"
        )
    number, unit, binary = match.groups()
    factor = 1024 ** "kmgt".index(unit.lower()) * 1024 if binary and unit else _UNITS[unit.lower()]
    return int(float(number) * factor)


def format_size(size: int) -> str:
    """``1.2 GiB``-style text of a number of bytes."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
