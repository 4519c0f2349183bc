"""The per-cluster networks f_a: construction and fast training (presets live in presets.py).

Training keeps the whole cluster's rows as tensors in memory and slices mini-batches from a
seeded permutation (a DataLoader costs about 2x here), with one intra-op thread: on these
small networks more threads only add synchronisation.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from clusterrec.models.presets import PRESETS, NetworkConfig, preset

__all__ = [
    "single_torch_thread",
    "PRESETS",
    "NetworkConfig",
    "TrainingResult",
    "build_network",
    "predict_network",
    "preset",
    "train_network",
]


def build_network(n_inputs: int, hidden: tuple[int, ...]) -> nn.Sequential:
    """A multilayer perceptron n_inputs -> hidden... -> 1 with ReLU between layers."""
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


@dataclass
class TrainingResult:
    """A trained network's weights and its learning curve (mean squared error per epoch)."""

    state_dict: dict
    train_loss: list[float]
    validation_loss: list[float]
    best_epoch: int


def train_network(
    X: np.ndarray,
    y: np.ndarray,
    config: NetworkConfig,
    *,
    seed: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainingResult:
    """Fit one network to rows ``X`` (float32, N x d) and targets ``y`` (N,).

    With ``validation`` rows and ``config.patience``, stops after ``patience`` epochs without
    improvement and keeps the best epoch's weights.
    """
    with single_torch_thread():
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        network = build_network(X.shape[1], config.hidden)
        optimizer = _adam(network, config)
        features = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        targets = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        held_out = _as_tensors(validation)
        train_curve: list[float] = []
        valid_curve: list[float] = []
        best = (math.inf, 0, None)
        for epoch in range(config.epochs):
            train_curve.append(
                _one_epoch(network, optimizer, features, targets, config.batch_size, generator)
            )
            if held_out is None:
                continue
            loss = _mse(network, *held_out)
            valid_curve.append(loss)
            if loss < best[0] - 1e-6:
                best = (loss, epoch, _copy_state(network))
            elif config.patience and epoch - best[1] >= config.patience:
                break
        if held_out is not None and best[2] is not None:
            network.load_state_dict(best[2])
            best_epoch = best[1]
        else:
            best_epoch = len(train_curve) - 1
        return TrainingResult(_copy_state(network), train_curve, valid_curve, best_epoch)


def predict_network(network: nn.Module, X: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """Outputs of ``network`` for rows ``X``, as float32 (N,)."""
    out = np.empty(len(X), dtype=np.float32)
    with single_torch_thread(), torch.no_grad():
        for start in range(0, len(X), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(X[start : start + batch_size]))
            out[start : start + batch_size] = network(chunk).squeeze(1).numpy()
    return out


def _adam(network: nn.Sequential, config: NetworkConfig) -> torch.optim.Optimizer:
    """Adam whose L2 term on the weights (not the biases) equals Keras' ``l2(config.l2)``.

    Adam's ``weight_decay`` adds ``weight_decay * W`` to the gradient, the gradient of
    ``weight_decay / 2 * sum(W**2)``; Keras adds ``l2 * sum(W**2)`` to the loss, so
    ``weight_decay = 2 * l2``. The fused CPU kernel is about 1.5x faster per step here.
    """
    weights = [m.weight for m in network if isinstance(m, nn.Linear)]
    biases = [m.bias for m in network if isinstance(m, nn.Linear)]
    groups = [{"params": weights, "weight_decay": 2 * config.l2}, {"params": biases}]
    try:
        return torch.optim.Adam(groups, lr=config.learning_rate, fused=True)
    except (RuntimeError, TypeError):  # a torch without the fused CPU kernel
        return torch.optim.Adam(groups, lr=config.learning_rate)


def _one_epoch(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    features: torch.Tensor,
    targets: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One pass over shuffled mini-batches; returns the epoch's mean squared error."""
    order = torch.randperm(len(features), generator=generator)
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        error = nn.functional.mse_loss(network(features[batch]).squeeze(1), targets[batch])
        optimizer.zero_grad(set_to_none=True)
        error.backward()
        optimizer.step()
        total += error.detach() * len(batch)
    return float(total) / max(1, len(order))


def _mse(network: nn.Module, features: torch.Tensor, targets: torch.Tensor) -> float:
    with torch.no_grad():
        return float(nn.functional.mse_loss(network(features).squeeze(1), targets))


def _as_tensors(
    pair: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    if pair is None or len(pair[0]) == 0:
        return None
    X, y = pair
    return (
        torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)),
    )


def _copy_state(network: nn.Module) -> dict:
    return {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}


@contextlib.contextmanager
def single_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, restoring the previous setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
