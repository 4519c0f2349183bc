"""Progress of a run: what the CLI shows, what the library logs.

**One progress mechanism.** Everything that takes long takes one keyword, ``progress``:
``False`` (the API's default: silent, only logging), ``True`` (a tqdm bar on a terminal) or a
callable / an object with ``step(text)`` told a short description of each step; the helper
every loop uses is :class:`clusterrec._progress.Steps`, whose docstring lists the callers.
:func:`~clusterrec.run.pipeline.run_pipeline` also accepts a :class:`Progress`, which gets
each stage's start and end besides the steps inside it (``clusterrec run`` passes
:class:`StageBar`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from clusterrec.run.measure import StageRecord

__all__ = [
    "CallbackProgress",
    "Progress",
    "StageBar",
    "as_progress",
]

logger = logging.getLogger("clusterrec")


# -- progress -------------------------------------------------------------------------------------


class Progress:
    """Receives the run's progress; this base only logs."""

    def start(self, stage: str, index: int, total: int) -> None:
        logger.info("stage %d/%d: %s", index + 1, total, stage)

    def step(self, text: str) -> None:
        logger.debug("  %s", text)

    def finish(self, record: StageRecord) -> None:
        how = "reused from the cache" if record.cached else "computed"
        logger.info("  %s %s in %.1f s", record.name, how, record.seconds)

    def close(self) -> None:
        pass


class CallbackProgress(Progress):
    """Tells ``callback`` each stage (``"stage 3/12: distances-jaccard"``) and every step."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        self.callback = callback

    def start(self, stage: str, index: int, total: int) -> None:
        super().start(stage, index, total)
        self.callback(f"stage {index + 1}/{total}: {stage}")

    def step(self, text: str) -> None:
        super().step(text)
        self.callback(text)


class StageBar(Progress):
    """One display for the whole run: a tqdm bar over stages on a terminal (the current step
    beside it), else a line per finished stage on stderr."""

    def __init__(self) -> None:
        self.bar = None
        self.total = 0
        self.done = 0
        self.interactive = sys.stderr.isatty()

    def start(self, stage: str, index: int, total: int) -> None:
        super().start(stage, index, total)
        self.total = total
        if self.interactive and self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total,
                file=sys.stderr,
                leave=True,
                bar_format="{desc:<21} {n_fmt:>2}/{total_fmt} |{bar:24}| {elapsed}{postfix}",
            )
        if self.bar is not None:
            self.bar.set_description(stage)
            self.bar.set_postfix_str("")

    def step(self, text: str) -> None:
        super().step(text)
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def finish(self, record: StageRecord) -> None:
        super().finish(record)
        how = "reused from the cache" if record.cached else f"computed in {record.seconds:.1f} s"
        if self.bar is not None:
            self.bar.set_postfix_str(how)
            self.bar.update(1)
        else:
            self.done += 1
            print(f"clusterrec: [{self.done}/{self.total}] {record.name}: {how}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def as_progress(progress: object) -> tuple[Progress, bool]:
    """(the :class:`Progress` for a ``progress`` keyword, whether the caller must close it)."""
    if progress is None or progress is False:
        return Progress(), False
    if progress is True:
        return StageBar(), True
    if isinstance(progress, Progress):
        return progress, False
    step = getattr(progress, "step", None)
    if callable(step) or callable(progress):
        return CallbackProgress(step if callable(step) else progress), False
    raise TypeError(
        "progress must be False, True, a callable taking a text, an object with a step(text) "
        f"method or a Progress, not {type(progress).__name__}"
    )
