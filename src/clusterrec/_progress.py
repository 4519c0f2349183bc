"""The one progress mechanism of clusterrec: a ``progress`` keyword.

Every function or estimator that can take long (:func:`clusterrec.run.pipeline.run_pipeline`,
:func:`clusterrec.evaluation.cross_validation.cross_validate`,
:func:`clusterrec.clustering.sweep.sweep_n_clusters`, ``ClusterNeighborRecommender``) takes
one keyword, ``progress``:

* ``False`` (the API's default): silent; the library only logs (``logging.getLogger
  ("clusterrec")``).
* ``True``: a tqdm bar on stderr, shown when stderr is a terminal.
* a callable ``f(text)``, or an object with a ``step(text)`` method (such as
  :class:`clusterrec.run.progress.Progress`): called with a short description of each step
  before it starts (``"fold 1/5: clusterrec"``, ``"cluster 2/5"``, ``"jaccard L=3"``). This
  is what ``clusterrec run`` uses to show the inner steps of a stage in its one display.
"""

from __future__ import annotations

from collections.abc import Callable

#: What a ``progress`` keyword accepts: False, True, a callable or a ``step(text)`` object.
ProgressArg = object


class Steps:
    """Announces the steps of one loop to whatever ``progress`` asked for; close when done."""

    def __init__(self, progress: ProgressArg, total: int | None = None, unit: str = "step"):
        self._bar = None
        self._announce: Callable[[str], None] | None = None
        self._started = 0
        if progress is True:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit=unit, leave=False, disable=None)
        elif progress is not None and progress is not False:
            step = getattr(progress, "step", None)
            self._announce = step if callable(step) else progress
            if not callable(self._announce):
                raise TypeError(
                    "progress must be False, True, a callable taking a text or an object with "
                    f"a step(text) method, not {type(progress).__name__}"
                )

    def __call__(self, text: str) -> None:
        """The next step, described by ``text``, starts (the previous one is done)."""
        if self._bar is not None:
            if self._started:
                self._bar.update(1)
            self._bar.set_description(text)
        elif self._announce is not None:
            self._announce(text)
        self._started += 1

    def close(self) -> None:
        if self._bar is not None:
            if self._started:
                self._bar.update(1)
            self._bar.close()

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
