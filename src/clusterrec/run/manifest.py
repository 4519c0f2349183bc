"""The manifest of a run: effective config, input hash, package versions, per-stage cost."""

from __future__ import annotations

import dataclasses
import platform
import time
from typing import TYPE_CHECKING

from clusterrec import __version__
from clusterrec._files import file_sha256
from clusterrec.run.cache import StageCache
from clusterrec.run.measure import StageRecord, memory_method

if TYPE_CHECKING:
    from clusterrec.run.rundir import RunOutputs

__all__ = [
    "RECORDED_PACKAGES",
    "build_manifest",
    "package_versions",
]

#: Packages whose versions the manifest records.
RECORDED_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "matplotlib",
    "kmedoids",
    "torch",
    "tqdm",
)


def build_manifest(
    outputs: RunOutputs, records: list[StageRecord], cache: StageCache, seconds: float
) -> dict:
    """Effective config, input hash and counts, package versions, per-stage cost, seed."""
    source, info = outputs.source, outputs.data.info
    return {
        "clusterrec": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": outputs.config.seed,
        "config": outputs.config.as_dict(),
        "input": {
            "path": str(source.path),
            "sha256": source.sha256,
            "bytes": source.size_bytes,
            "generated": source.generated,
            "builtin": source.builtin,
            **info["read"],
            "scale": info["scale"],
            "before_filter": info["filter"]["before"],
            "after_filter": info["filter"]["after"],
        },
        "items": None
        if outputs.items is None
        else {"path": str(outputs.items), "sha256": file_sha256(outputs.items)},
        "packages": package_versions(),
        "cache": {"folder": str(cache.root), "reuse": cache.reuse},
        "memory_method": memory_method(),
        "stages": [dataclasses.asdict(r) for r in records],
        "stages_reused": sum(r.cached for r in records),
        "seconds": seconds,
        "peak_rss_mib": max((r.peak_rss_mib for r in records), default=0.0),
    }


def package_versions() -> dict[str, str | None]:
    """Python, the platform and the installed versions of :data:`RECORDED_PACKAGES`."""
    from importlib import metadata

    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "clusterrec": __version__,
    }
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
