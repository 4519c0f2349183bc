"""Entries grouped by row in CSR order, with a gather of any rows' entries (PyTorch): the
batch-rows form the default model's implicit sums and its item autoencoder both train on."""

from __future__ import annotations

import numpy as np
import torch

from clusterrec.models.neighbour_features import IntArray


class CsrRows:
    """The (row, col) entries sorted by row and, within a row, by column; ``order`` takes an
    array of the entries as given into that order."""

    def __init__(self, rows: IntArray, cols: IntArray, n_rows: int) -> None:
        self.order = np.lexsort((cols, rows))
        counts = np.bincount(rows, minlength=n_rows)
        self.cols = torch.from_numpy(np.ascontiguousarray(cols[self.order], dtype=np.int64))
        self.counts = torch.from_numpy(counts.astype(np.int64))
        self.starts = torch.from_numpy(
            np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        )
        self.n_rows = int(n_rows)

    def entries(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions (in CSR order) of the entries of ``rows``, one after the other, and where
        each row's entries start among them (the offsets of an ``embedding_bag``)."""
        lengths = self.counts[rows]
        offsets = torch.cumsum(lengths, 0) - lengths
        total = int(lengths.sum())
        at = torch.repeat_interleave(self.starts[rows] - offsets, lengths, output_size=total)
        return at + torch.arange(total), offsets
