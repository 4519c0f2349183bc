"""Item-based autoencoder (I-AutoRec, Sedhain et al. 2015): a second model family for the
default model's average.

Each movie i is the vector of its training ratings over all users (centred on the mean
rating, in "1-5 star" units; a missing rating is 0). The network encodes it into
``h_i = sigmoid(sum_u x_ui V_u + b)`` and decodes a rating for every user,
``r_ui = mu + unit * (h_i . W_u + c_u)``. It is trained to reconstruct the observed entries
(L2 ``reg (|V_u|^2 + |W_u|^2)`` per training rating, as the hybrid's factors) and predicts an
unseen pair from the movie's training ratings alone.

Why it is here: its errors are less alike the hybrid networks' than one seed's networks' are
to another's (on the validation slices of folds 0 and 1, error correlation 0.93 on ML-100K and
0.90 on latest-small, against 0.99 between the first two seeds' networks;
``benchmarks/tune_hybrid.py``, variant ``ae0.15``), so averaging it in lowers RMSE where more
seeds no longer do (``docs/model.md``, "Fourth round").

Cost is linear in the ratings: a step encodes only its batch of movies (an embedding bag over
their ratings) and decodes only their observed entries (one matrix product over the batch's
movies x users block where that block is dense enough, else entry by entry); no movies x users
matrix of the whole data is ever built.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from clusterrec.models.csr_rows import CsrRows
from clusterrec.models.losses import mixed_loss
from clusterrec.models.neighbour_features import FloatArray, IntArray

__all__ = ["ItemAutoencoder"]

#: A batch decodes its movies x users block by one matrix product when the block holds at most
#: this many numbers per observed entry (MovieLens-100K: ~20), else entry by entry.
DENSE_BLOCK = 64
#: Pairs predicted at once (a dense block then holds at most 64 x this many numbers).
PREDICT_CHUNK = 1 << 18


class ItemAutoencoder:
    """I-AutoRec with early stopping, trained by Adam on mini-batches of movies.

    Args:
        hidden: width of the code h_i.
        reg: L2 on the encoder and decoder weights, per training rating.
        lr: Adam's learning rate.
        batch_items: movies per step.
        epochs: at most this many epochs (early stopping picks fewer when given ``val``).
        patience: epochs without gain on ``val`` before stopping.
        mae_weight: share of absolute error in the loss, as in the hybrid model.
        seed: initial weights and batch order.
    """

    def __init__(
        self,
        *,
        hidden: int = 500,
        reg: float = 0.01,
        lr: float = 3e-3,
        batch_items: int = 256,
        epochs: int = 60,
        patience: int = 3,
        mae_weight: float = 0.3,
        seed: int = 0,
    ) -> None:
        self.params = dict(
            hidden=hidden,
            reg=reg,
            lr=lr,
            batch_items=batch_items,
            epochs=epochs,
            patience=patience,
            mae_weight=mae_weight,
            seed=seed,
        )
        self.__dict__.update(self.params)
        self.val_curve: list[float] = []
        self.chosen_epochs: int | None = None

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        users: IntArray,
        items: IntArray,
        ratings: FloatArray,
        n_users: int,
        n_items: int,
        scale: tuple[float, float],
        val: tuple[IntArray, IntArray, FloatArray] | None = None,
    ) -> ItemAutoencoder:
        """Train on these ratings for ``epochs`` epochs, or with ``val`` until its RMSE stops
        improving (then the weights of the best epoch are kept and ``chosen_epochs`` says
        which)."""
        users = np.asarray(users, np.int64)
        items = np.asarray(items, np.int64)
        ratings = np.asarray(ratings, np.float64)
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.scale = (float(scale[0]), float(scale[1]))
        self.unit = (self.scale[1] - self.scale[0]) / 4.0
        self.mu = float(ratings.mean())
        self._by_item = CsrRows(items, users, self.n_items)  # each movie's raters
        centred = (ratings - self.mu) / self.unit
        self._values = torch.tensor(centred[self._by_item.order], dtype=torch.float32)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        self.V = (torch.randn(self.n_users, self.hidden) * 0.03).requires_grad_()
        self.b = torch.zeros(self.hidden, requires_grad=True)
        self.W = (torch.randn(self.n_users, self.hidden) * 0.03).requires_grad_()
        self.c = torch.zeros(self.n_users, requires_grad=True)
        weights = [self.V, self.b, self.W, self.c]
        opt = torch.optim.Adam(weights, lr=self.lr)
        rated = torch.from_numpy(np.flatnonzero(np.bincount(items, minlength=self.n_items)))
        self.val_curve, best, kept = [], float("inf"), None
        for _ in range(self.epochs):
            for batch in torch.split(
                rated[torch.randperm(len(rated), generator=gen)], self.batch_items
            ):
                at, offsets = self._by_item.entries(batch)
                code = self._encode(at, offsets)
                bag = torch.repeat_interleave(torch.arange(len(batch)), self._by_item.counts[batch])
                users_b, u = torch.unique(self._by_item.cols[at], return_inverse=True)
                out = self._decode(code, bag, users_b, u)
                err = (out - self._values[at]) / 4.0  # on the 0..1-scaled rating
                loss = mixed_loss(err, self.mae_weight) + self.reg * self._penalty(users_b, u)
                opt.zero_grad()
                loss.backward()
                opt.step()
            if val is not None:
                self.val_curve.append(self._rmse(val))
                if self.val_curve[-1] < best:
                    best = self.val_curve[-1]
                    kept = [w.detach().clone() for w in weights]
                elif len(self.val_curve) - 1 - int(np.argmin(self.val_curve)) >= self.patience:
                    break
        if kept is not None:
            self.V, self.b, self.W, self.c = kept
            self.chosen_epochs = int(np.argmin(self.val_curve)) + 1
        else:
            self.chosen_epochs = self.epochs
        self._freeze()
        return self

    def _encode(self, at: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """h_i for the bags of entries ``at`` (one bag per movie, starting at ``offsets``)."""
        summed = F.embedding_bag(
            self._by_item.cols[at],
            self.V,
            offsets,
            mode="sum",
            per_sample_weights=self._values[at],
        )
        return torch.sigmoid(summed + self.b)

    def _decode(
        self, code: torch.Tensor, bag: torch.Tensor, users: torch.Tensor, u: torch.Tensor
    ) -> torch.Tensor:
        """h_i . W_v + c_v for each entry (movie ``bag``, user ``users[u]``) of a batch. Where
        the batch's movies x users block is at most ``DENSE_BLOCK`` times its entries, one
        matrix product over the block, else a dot product per entry (the same values up to
        summation order: a product is many times faster per number than the gathers, and a
        sparse block is many times smaller than the product)."""
        rows = self.W[users]
        if code.shape[0] * len(users) <= DENSE_BLOCK * len(u):
            scores = code @ rows.T
            return scores[bag, u] + self.c[users][u]
        return (code[bag] * rows[u]).sum(1) + self.c[users][u]

    def _penalty(self, users: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The mean over the batch's entries of |V_v|^2 + |W_v|^2 of the entry's user v (per
        rating, so a user's rows are shrunk as often as the user has ratings), summed per
        distinct user."""
        times = torch.bincount(u, minlength=len(users)).to(self.V.dtype)
        norms = (self.V[users] ** 2).sum(1) + (self.W[users] ** 2).sum(1)
        return (times * norms).sum() / len(u)

    def _freeze(self) -> None:
        """The codes of every movie from all its training ratings (a movie without ratings
        gets the code of an empty vector)."""
        self.V, self.b, self.W, self.c = (w.detach() for w in (self.V, self.b, self.W, self.c))
        self._encode_all()

    def _encode_all(self) -> None:
        """``codes``: h_i of every movie with the current weights."""
        with torch.no_grad():
            at, offsets = self._by_item.entries(torch.arange(self.n_items))
            self.codes = self._encode(at, offsets)

    def _rmse(self, val: tuple[IntArray, IntArray, FloatArray]) -> float:
        """RMSE on ``val`` in rating units, with the weights after this epoch."""
        self._encode_all()
        u, i, r = val
        return float(np.sqrt(np.mean((self.predict(u, i) - r) ** 2)))

    # ------------------------------------------------------------------ predict
    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        """Ratings on the scale for known users and movies, decoded in chunks of
        ``PREDICT_CHUNK`` pairs as training decodes a batch (a top-N grid of users x movies is
        one matrix product per chunk)."""
        users = np.asarray(users, np.int64)
        items = np.asarray(items, np.int64)
        out = np.empty(len(users))
        with torch.no_grad():
            for start in range(0, len(users), PREDICT_CHUNK):
                chunk = slice(start, start + PREDICT_CHUNK)
                movies, bag = torch.unique(torch.from_numpy(items[chunk]), return_inverse=True)
                who, u = torch.unique(torch.from_numpy(users[chunk]), return_inverse=True)
                out[chunk] = self._decode(self.codes[movies], bag, who, u).numpy()
        return np.clip(self.mu + self.unit * out, *self.scale)

    # ------------------------------------------------------------------ persistence
    def state_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """What predicting needs, as plain arrays under ``prefix``."""
        return {
            prefix + "codes": self.codes.numpy(),
            prefix + "W": self.W.numpy(),
            prefix + "c": self.c.numpy(),
            prefix + "mu_scale": np.array([self.mu, *self.scale]),
        }

    @classmethod
    def from_state_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> ItemAutoencoder:
        """A fitted model from :meth:`state_arrays` (enough to predict, not to train on)."""
        model = cls()
        model.codes = torch.from_numpy(np.asarray(arrays[prefix + "codes"]))
        model.W = torch.from_numpy(np.asarray(arrays[prefix + "W"]))
        model.c = torch.from_numpy(np.asarray(arrays[prefix + "c"]))
        mu, low, high = (float(v) for v in arrays[prefix + "mu_scale"])
        model.mu, model.scale, model.unit = mu, (low, high), (high - low) / 4.0
        return model
