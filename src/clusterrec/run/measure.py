"""What each stage cost: seconds and peak memory (the process's high-water mark)."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PeakMemory",
    "StageRecord",
    "memory_method",
]

# -- measuring ------------------------------------------------------------------------------------


_MIB = 1024**2


@dataclass(frozen=True)
class StageRecord:
    """What one stage of a run cost: wall seconds, peak memory and whether it was reused."""

    name: str
    key: str
    cached: bool
    seconds: float
    peak_rss_mib: float
    computed_seconds: float


_CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """Peak resident memory of the process during a block, in MiB.

    On Linux the kernel's high-water mark is reset at the start (``/proc/self/clear_refs``)
    and read at the end (``VmHWM``), so each stage gets its own peak; elsewhere it is the
    process's peak so far (``ru_maxrss``). :func:`memory_method` says which.
    """

    def __init__(self) -> None:
        self.peak_mib = 0.0

    def __enter__(self) -> PeakMemory:
        with contextlib.suppress(OSError):
            _CLEAR_REFS.write_text("5")
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mib = _high_water_mib()


def memory_method() -> str:
    """How :class:`PeakMemory` measures on this system."""
    if os.access(_CLEAR_REFS, os.W_OK):
        return "resident high-water mark (VmHWM), reset at the start of each stage"
    return "ru_maxrss: the process's peak so far"


def _high_water_mib() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / _MIB
