"""Where the benchmarks find real data: MovieLens-100K fetched by ``../shared`` (or the folder
in ``$CLUSTERREC_ML100K``) and the shared MovieLens latest-small; nothing is committed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "datasets"


def ml100k() -> Path:
    """``u.data`` of MovieLens-100K, fetched once by ``../shared/datasets/fetch-ml100k``."""
    folder = os.environ.get("CLUSTERREC_ML100K")
    if not folder:
        out = subprocess.run(
            [str(SHARED / "fetch-ml100k")], capture_output=True, text=True, check=True
        )
        folder = out.stdout.strip().splitlines()[-1]
    return Path(folder) / "u.data"


def memory_status(field: str) -> float:
    """A /proc/self/status field in MiB (VmHWM: peak resident memory, VmRSS: current)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> float:
    """Reset VmHWM to the current resident memory (Linux >= 4.0); return that, in MiB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return memory_status("VmRSS")
