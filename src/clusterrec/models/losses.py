"""The training loss the default model's networks and its item autoencoder share."""

from __future__ import annotations

import torch


def mixed_loss(err: torch.Tensor, mae_weight: float) -> torch.Tensor:
    """Squared error, mixed with absolute error by ``mae_weight`` (errors on the 0..1-scaled
    rating; the absolute part is scaled by 1/4 so both have similar gradients near |err| = 1/8
    of the range). Absolute error pulls predictions toward the median, which lowers MAE."""
    mse = (err**2).mean()
    if mae_weight <= 0:
        return mse
    return (1 - mae_weight) * mse + mae_weight * 0.25 * err.abs().mean()
