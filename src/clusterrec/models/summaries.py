"""What training one cluster's network did, kept free of PyTorch so that saved results (the
run's networks stage, the report) can be read without importing it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["ClusterSummary"]


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
