"""What training one cluster's network did, kept free of PyTorch so that saved results (the
run's networks stage, the report) can be read without importing it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ClusterSummaries", "ClusterSummary"]


@dataclass(frozen=True)
class ClusterSummary:
    """One cluster's training: its users and rows, the epochs run and kept, the learning curve
    (mean squared error per epoch on the training rows and the validation users' rows)."""

    cluster: int
    users: int
    training_users: int
    rows: int
    rows_without_evidence: int
    epochs: int
    best_epoch: int
    seconds: float
    train_loss: tuple[float, ...] = ()
    validation_loss: tuple[float, ...] = ()

    def as_dict(self) -> dict:
        """Plain values for JSON (the curves as lists)."""
        values = asdict(self)
        values["train_loss"] = list(self.train_loss)
        values["validation_loss"] = list(self.validation_loss)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> ClusterSummary:
        """The summary :meth:`as_dict` wrote."""
        curves = {
            "train_loss": tuple(values.get("train_loss", ())),
            "validation_loss": tuple(values.get("validation_loss", ())),
        }
        return cls(**{**values, **curves})


#: The columns of :meth:`ClusterSummaries.to_frame`, in order (the curves become their ends).
SUMMARY_COLUMNS = (
    "cluster",
    "users",
    "training_users",
    "rows",
    "rows_without_evidence",
    "epochs",
    "best_epoch",
    "seconds",
    "final_train_loss",
    "best_validation_loss",
)


class ClusterSummaries(tuple):
    """What training did in every cluster, as one table: ``ClusterSummaries(model.summaries_)``.

    A tuple of :class:`ClusterSummary` (so it iterates, indexes and compares as one) that
    shows itself as a table in Jupyter.
    """

    def __new__(cls, summaries: Iterable[ClusterSummary] = ()) -> ClusterSummaries:
        return super().__new__(cls, summaries)

    def to_frame(self) -> pd.DataFrame:
        """One row per cluster, indexed by cluster: the counts of :class:`ClusterSummary`,
        ``final_train_loss`` (the last epoch's training loss) and ``best_validation_loss``
        (the kept epoch's validation loss; NaN without validation users)."""
        import pandas as pd

        rows = []
        for summary in self:
            values = summary.as_dict()
            train, valid = values.pop("train_loss"), values.pop("validation_loss")
            kept = summary.best_epoch
            values["final_train_loss"] = float(train[-1]) if train else float("nan")
            values["best_validation_loss"] = (
                float(valid[kept]) if 0 <= kept < len(valid) else float("nan")
            )
            rows.append(values)
        return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)).set_index("cluster")

    def _repr_html_(self) -> str:
        from clusterrec._html import frame_html

        return frame_html(self.to_frame(), "Training of each cluster's network")
