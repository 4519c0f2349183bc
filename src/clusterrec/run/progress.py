"""Progress of a run: what the CLI shows, what the library logs."""

from __future__ import annotations

import logging

from clusterrec.run.measure import StageRecord

logger = logging.getLogger("clusterrec")


# -- progress -------------------------------------------------------------------------------------


class Progress:
    """Receives the run's progress; the default only logs. The CLI shows a progress bar."""

    def start(self, stage: str, index: int, total: int) -> None:
        logger.info("stage %d/%d: %s", index + 1, total, stage)

    def step(self, text: str) -> None:
        logger.debug("  %s", text)

    def finish(self, record: StageRecord) -> None:
        how = "reused from the cache" if record.cached else "computed"
        logger.info("  %s %s in %.1f s", record.name, how, record.seconds)
