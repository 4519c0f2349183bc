"""Hybrid rating model: biased factors with two-sided implicit feedback plus a
cluster-neighbour network.

The score of a (user u, movie i) pair is

    s = a + b_0 + b_u + b_i
      + (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j) . (q_i + |R(i)|^-1/2 sum_{v in R(i)} z_v)
          + MLP([user-neighbour features, item-neighbour features, summaries, cluster embedding])

where the first term a is the logit of the bias baseline (a fixed offset). The prediction, on
the 0..1-scaled rating, is the baseline plus a quarter of the correction s - a, clipped to the
scale when predicting (``output="linear"``, the default: it can reach the top and bottom
ratings exactly, which lowered validation MAE by 0.005 on ML-100K and latest-small and RMSE by
0.003 on latest-small and the generated data); ``output="sigmoid"`` (the former default) is
``low + (high - low) * sigmoid(s)``. Either way it lies on the rating scale (1-5, 1-10,
0.5-5 alike). N(u) are the movies u rated and R(i) the users who rated i,
both from the training data only (implicit feedback on both sides).

The MLP is the project's *cluster-neighbour network*: users are clustered (labels given from
outside, e.g. Jaccard k-medoids), and for a pair (u, i)

* **user neighbours** are the k users of u's cluster nearest to u by Jaccard similarity of the
  rated sets (``user_mode="raters"``: among those who rated i; ``"fixed"``: u's k nearest in
  the cluster, with a rated mask), with their baseline-adjusted ratings r_vi - b_vi;
* **item neighbours** are the k movies u rated that are most similar to i (shrunk
  pearson_baseline), with u's baseline-adjusted ratings of them (KNNBaseline-like).

The cluster also enters the network as an embedding and as a per-cluster output head over a
shared trunk.

**Out-of-fold neighbour features.** Features computed on the training data itself would contain
the target (a neighbour of u is chosen partly *because* it shares movie i with u, and u's own
rating of i would be among the inputs). So the training ratings are split into
``n_feature_folds`` parts and the features of part p come from a neighbour index (baselines,
Jaccard neighbours, item similarities, residuals) built on the other parts only, exactly as
the features of an unseen pair come from an index built on all training ratings.

**Bounded similarities.** Up to ``DENSE_SIMILARITY_LIMIT`` (12,000) users or movies a
similarity is exact and dense (built in row blocks); above it each row keeps only its
``max_similar`` largest entries (the users' Jaccard top-M through the distance engine, the
items' pearson_baseline top-M item by item, see :mod:`~clusterrec.models.neighbour_features`),
so an item neighbour of i among u's movies must be among i's M most similar.

**Training.** Adam on big mini-batches of the precomputed feature tensors; loss 0.7 MSE +
0.3 |error| (``mae_weight``); L2 per rating on the factor rows. The bias baseline enters as a
fixed logit offset. The number of epochs is chosen by early stopping on a validation slice of
the training ratings (the slice is also removed from the implicit sets and from the offset's
baseline), then ``n_seeds`` networks are refitted on all training ratings for that many epochs
(plus one), keeping snapshots after the epochs around the chosen one, and all predictions are
averaged. A step computes the implicit sums of its batch's distinct users and movies only
(:class:`_SetRows`), the whole tables once an epoch (validation) and after training.

**A second family in the average.** The networks' average is averaged once more with an item
autoencoder (:mod:`~clusterrec.models.item_autoencoder`), ``(1 - w) * networks + w *
autoencoder`` with ``autoencoder_weight`` w = 0.15: its errors differ from the networks' more
than one seed's from another's, so it lowers RMSE where more seeds no longer do. It is
early-stopped on the first stopping run's validation slice and refitted on all training
ratings like the networks.

Measured on ML-100K (5 folds, one thread): RMSE 0.8756, MAE 0.6850, fit 33-46 s a fold,
predict 20,000 ratings in ~0.5 s (benchmarks/accuracy.py and docs/model.md have the figures on
identical folds with the peers).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from clusterrec.models.csr_rows import CsrRows
from clusterrec.models.item_autoencoder import ItemAutoencoder
from clusterrec.models.losses import mixed_loss
from clusterrec.models.neighbour_features import (
    DEFAULT_MAX_SIMILAR,
    FloatArray,
    IntArray,
    NeighbourIndex,
    feature_parts,
    fit_biases,
    out_of_fold_features,
)

# --------------------------------------------------------------------------- network
#: True: every training step rebuilds the whole implicit factor tables by sparse products over
#: all ratings, as before batch-only rows (quadratic training; for benchmarks/hybrid_training.py
#: and tests only).
_FULL_TABLES_EACH_STEP = False


def _normalised_sets(rows: IntArray, cols: IntArray, n_rows: int, n_cols: int) -> torch.Tensor:
    """Sparse (n_rows x n_cols) with 1/sqrt(|row set|) at each (row, col): the implicit sums."""
    counts = np.bincount(rows, minlength=n_rows).astype(np.float64)
    vals = 1.0 / np.sqrt(np.maximum(counts[rows], 1))
    idx = torch.from_numpy(np.vstack([rows, cols]).astype(np.int64))
    return torch.sparse_coo_tensor(
        idx, torch.tensor(vals, dtype=torch.float32), (n_rows, n_cols), check_invariants=False
    ).coalesce()


class _SetRows(CsrRows):
    """The rows of :func:`_normalised_sets` in CSR form (columns sorted within each row, as
    the coalesced sparse matrix has them), so that the implicit sums of a few rows cost the
    size of those rows' sets: ``sums(rows, table)`` equals ``(sets @ table)[rows]``, bit for
    bit (an ``embedding_bag`` with per-sample weights sums in the same order)."""

    def __init__(self, rows: IntArray, cols: IntArray, n_rows: int) -> None:
        super().__init__(rows, cols, n_rows)
        counts = self.counts.numpy()
        norm = 1.0 / np.sqrt(np.maximum(counts, 1).astype(np.float64))
        self.weights = torch.tensor(norm[rows[self.order]], dtype=torch.float32)

    def sums(self, rows: torch.Tensor | None, table: torch.Tensor) -> torch.Tensor:
        """|set(r)|^-1/2 sum_{c in set(r)} table[c] for each r of ``rows`` (None: all rows)."""
        if rows is None:
            return F.embedding_bag(
                self.cols, table, self.starts, mode="sum", per_sample_weights=self.weights
            )
        at, offsets = self.entries(rows)
        return F.embedding_bag(
            self.cols[at], table, offsets, mode="sum", per_sample_weights=self.weights[at]
        )


@dataclasses.dataclass(frozen=True)
class Parts:
    """Which parts of the model are switched on (for ablations)."""

    factors: bool = True
    implicit: bool = True
    user_neighbours: bool = True
    item_neighbours: bool = True
    clusters: bool = True
    autoencoder: bool = True


class _Net(nn.Module):
    """Biases + two-sided implicit factors + cluster-neighbour MLP; returns the logit s."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_feats: int,
        n_clusters: int,
        *,
        n_factors: int,
        hidden: int,
        cluster_dim: int,
        init_bias: float,
        parts: Parts,
        feat_mask: torch.Tensor,
        cluster_item_bias: bool = False,
    ) -> None:
        super().__init__()
        self.parts = parts
        # how u's cluster rates movie i apart from everyone (b_{c(u), i}); None when off
        self.b_cluster_item: nn.Parameter | None = None
        if cluster_item_bias and parts.clusters:
            self.b_cluster_item = nn.Parameter(torch.zeros(n_clusters, n_items))
        self.bias = nn.Parameter(torch.tensor(init_bias))
        self.b_user = nn.Parameter(torch.zeros(n_users))
        self.b_item = nn.Parameter(torch.zeros(n_items))
        d = n_factors if parts.factors else 0
        self.P = nn.Parameter(torch.randn(n_users, d) * 0.01)
        self.Q = nn.Parameter(torch.randn(n_items, d) * 0.01)
        self.Y = nn.Parameter(torch.zeros(n_items, d))  # implicit: movies a user rated
        self.Z = nn.Parameter(torch.zeros(n_users, d))  # implicit: users who rated a movie
        self.register_buffer("feat_mask", feat_mask)
        self.use_mlp = bool(feat_mask.any())
        c_dim = cluster_dim if parts.clusters else 0
        self.cluster_emb = nn.Embedding(n_clusters, max(c_dim, 1))
        self.trunk = nn.Sequential(
            nn.Linear(n_feats + c_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden // 2), nn.ReLU()
        )
        self.head = nn.Linear(hidden // 2, 1)
        self.cluster_head = nn.Embedding(n_clusters, hidden // 2)
        nn.init.zeros_(self.cluster_head.weight)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def factor_rows(
        self,
        user_rows: _SetRows,
        item_rows: _SetRows,
        users: torch.Tensor | None = None,
        items: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j for each of ``users`` and q_i + |R(i)|^-1/2
        sum_{v in R(i)} z_v for each of ``items`` (None: every user / every movie, the
        tables). A training step asks only for its batch's distinct users and movies, so it
        costs the size of their sets, not all ratings; the values and gradients are those of
        the tables' rows."""
        pu = self.P if users is None else self.P[users]
        qi = self.Q if items is None else self.Q[items]
        if not (self.parts.implicit and self.parts.factors):  # without factors: unused, 0 wide
            return pu, qi
        return pu + user_rows.sums(users, self.Y), qi + item_rows.sums(items, self.Z)

    def factor_tables(
        self, user_sets: torch.Tensor, item_sets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole tables by sparse products over all ratings: the training step's form
        before :meth:`factor_rows` (kept as the reference of tests and benchmarks)."""
        if not self.parts.implicit:
            return self.P, self.Q
        return self.P + torch.sparse.mm(user_sets, self.Y), self.Q + torch.sparse.mm(
            item_sets, self.Z
        )

    def forward(
        self,
        u: torch.Tensor,
        i: torch.Tensor,
        x: torch.Tensor,
        c: torch.Tensor,
        offset: torch.Tensor,
        pu_table: torch.Tensor,
        qi_table: torch.Tensor,
        rows: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Logit of the (0..1-scaled) rating; ``offset`` is the logit of the bias baseline.
        ``rows``: each pair's row of ``pu_table`` and ``qi_table`` (default ``u`` and ``i``:
        whole tables)."""
        s = offset + self.bias + self.b_user[u] + self.b_item[i]
        if self.b_cluster_item is not None:
            s = s + self.b_cluster_item[c, i]
        if self.parts.factors:
            ru, ri = (u, i) if rows is None else rows
            s = s + (pu_table[ru] * qi_table[ri]).sum(1)
        if self.use_mlp:
            z = x * self.feat_mask
            if self.parts.clusters:
                z = torch.cat([z, self.cluster_emb(c)], 1)
            h = self.trunk(z)
            out = self.head(h).squeeze(1)
            if self.parts.clusters:
                out = out + (h * self.cluster_head(c)).sum(1)
            s = s + out
        return s


class _WeightAverage:
    """An exponential moving average of a network's weights over the last ``horizon`` epochs
    of steps (``horizon`` 0: off, ``net`` is None). Until that many steps are done it is the
    plain mean of the steps so far, so the initial weights fade out at once."""

    def __init__(self, net: _Net, horizon: float, steps_per_epoch: int) -> None:
        self.net = copy.deepcopy(net) if horizon > 0 else None
        self.window = max(horizon * steps_per_epoch, 1.0)
        self.steps = 0

    def update(self, net: _Net) -> None:
        if self.net is None:
            return
        self.steps += 1
        share = 1.0 / min(self.steps, self.window)
        with torch.no_grad():
            for mine, now in zip(self.net.parameters(), net.parameters(), strict=True):
                mine.lerp_(now, share)


def mean_curve(curves: list[list[float]]) -> list[float]:
    """The epoch-wise mean of early-stopping curves over the epochs all of them reached."""
    common = min(len(c) for c in curves)
    return np.mean([c[:common] for c in curves], axis=0).tolist()


# --------------------------------------------------------------------------- model
class HybridModel:
    """Cluster-neighbour network + two-sided implicit factor model (see module docstring)."""

    def __init__(
        self,
        *,
        n_factors: int = 64,
        n_neighbors: int = 20,
        n_item_neighbors: int = 20,
        epochs: int = 12,
        n_seeds: int = 5,
        seed: int = 0,
        lr: float = 1e-2,
        batch_size: int = 8192,
        reg_factors: float = 0.01,
        reg_implicit: float = 1.0,
        reg_bias: float = 0.0003,
        weight_decay_mlp: float = 1e-4,
        hidden: int = 64,
        cluster_dim: int = 4,
        shrink: float = 100.0,
        n_feature_folds: int = 5,
        val_fraction: float = 0.1,
        patience: int = 3,
        user_mode: str = "raters",
        predict_with: str = "full",
        n_snapshots: int = 3,
        mae_weight: float = 0.3,
        max_similar: int = DEFAULT_MAX_SIMILAR,
        refit: bool = True,
        reg_cluster_item: float = 0.0,
        output: str = "linear",
        n_stopping_runs: int = 1,
        vary_features: bool = False,
        lr_decay: float = 1.0,
        weight_average: float = 0.0,
        autoencoder_weight: float = 0.15,
        autoencoder_hidden: int = 200,
        autoencoder_reg: float = 0.01,
        parts: Parts = Parts(),
    ) -> None:
        self.params = dict(
            n_factors=n_factors,
            n_neighbors=n_neighbors,
            n_item_neighbors=n_item_neighbors,
            epochs=epochs,
            n_seeds=n_seeds,
            seed=seed,
            lr=lr,
            batch_size=batch_size,
            reg_factors=reg_factors,
            reg_implicit=reg_implicit,
            reg_bias=reg_bias,
            weight_decay_mlp=weight_decay_mlp,
            hidden=hidden,
            cluster_dim=cluster_dim,
            shrink=shrink,
            n_feature_folds=n_feature_folds,
            val_fraction=val_fraction,
            patience=patience,
            user_mode=user_mode,
            predict_with=predict_with,
            n_snapshots=n_snapshots,
            mae_weight=mae_weight,
            max_similar=max_similar,
            refit=refit,
            reg_cluster_item=reg_cluster_item,
            output=output,
            n_stopping_runs=n_stopping_runs,
            vary_features=vary_features,
            lr_decay=lr_decay,
            weight_average=weight_average,
            autoencoder_weight=autoencoder_weight,
            autoencoder_hidden=autoencoder_hidden,
            autoencoder_reg=autoencoder_reg,
        )
        self.parts = parts
        self.__dict__.update(self.params)
        self.chosen_epochs: int | None = None
        self.val_curve: list[float] = []
        self.autoencoder: ItemAutoencoder | None = None

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        users: IntArray,
        items: IntArray,
        ratings: FloatArray,
        n_users: int,
        n_items: int,
        scale: tuple[float, float],
        labels: IntArray | None = None,
    ) -> HybridModel:
        """Fit on training ratings only. ``labels``: a cluster per user (None: one cluster)."""
        users = np.asarray(users, np.int64)
        items = np.asarray(items, np.int64)
        ratings = np.asarray(ratings, np.float64)
        self.n_users, self.n_items, self.scale = (
            int(n_users),
            int(n_items),
            (float(scale[0]), float(scale[1])),
        )
        self.labels = (
            np.zeros(n_users, np.int64) if labels is None else np.asarray(labels, np.int64)
        )
        self.n_clusters = int(self.labels.max()) + 1
        self.unit = (self.scale[1] - self.scale[0]) / 4.0  # residuals in "1-5 star" units
        self.train = (users, items, ratings)
        self.mu, self.b_user, self.b_item = fit_biases(users, items, ratings, n_users, n_items)
        feats = self._train_features(users, items, ratings)
        epochs = self._choose_epochs(users, items, ratings, feats)
        self.chosen_epochs = epochs
        self.autoencoder = self._fit_autoencoder(users, items, ratings)
        if not self.refit and self._early_stopped:
            self.nets = self._early_stopped  # its best epoch: no second training
            self._finalise()
            return self
        half = min(self.n_snapshots // 2, epochs - 1)
        self.nets = []
        for s in range(self.n_seeds):
            if self.vary_features and s > 0:
                feats = self._train_features(users, items, ratings, self.seed + 1000 * s)
            nets, _ = self._train_net(
                users,
                items,
                ratings,
                feats,
                self.seed + 1000 * s,
                epochs + half,
                keep_last=2 * half + 1,
            )
            self.nets.extend(nets)
        self._finalise()
        return self

    def _fit_autoencoder(
        self, users: IntArray, items: IntArray, ratings: FloatArray
    ) -> ItemAutoencoder | None:
        """The item autoencoder of the average (None when its weight is 0 or the part is
        off): early-stopped on the first validation slice of :meth:`_choose_epochs`, then,
        with ``refit``, trained again on all ratings for the epochs chosen (without a slice:
        ``epochs`` epochs)."""
        if not (self.parts.autoencoder and self.autoencoder_weight > 0):
            return None
        settings = dict(hidden=self.autoencoder_hidden, reg=self.autoencoder_reg, seed=self.seed)
        fit = (users, items, ratings, self.n_users, self.n_items, self.scale)
        if self.val_fraction <= 0:
            return ItemAutoencoder(**settings, epochs=self.epochs).fit(*fit)
        val = self._validation_slice(len(users), 0)
        stopped = ItemAutoencoder(**settings).fit(
            users[~val],
            items[~val],
            ratings[~val],
            *fit[3:],
            val=(users[val], items[val], ratings[val]),
        )
        if not self.refit:
            return stopped
        refitted = ItemAutoencoder(**settings, epochs=stopped.chosen_epochs).fit(*fit)
        refitted.val_curve = stopped.val_curve  # how its epochs were chosen
        return refitted

    def _validation_slice(self, n: int, run: int) -> np.ndarray:
        """True for the early-stopping slice of the ``run``-th stopping run."""
        return np.random.default_rng(self.seed + 7 + run).random(n) < self.val_fraction

    def _needs_features(self) -> bool:
        return self.parts.user_neighbours or self.parts.item_neighbours

    def _train_features(
        self, users: IntArray, items: IntArray, ratings: FloatArray, seed: int | None = None
    ) -> FloatArray:
        """Out-of-fold neighbour features of the training pairs (zeros when no MLP inputs).
        ``seed`` draws the parts (default: the model's seed; ``vary_features`` gives each
        averaged network its own draw)."""
        self._indices = []
        if not self._needs_features():
            return np.zeros((len(users), self._n_feats()), np.float32)
        feats, indices = out_of_fold_features(
            users,
            items,
            ratings,
            self.n_users,
            self.n_items,
            self.labels,
            feature_parts(len(users), self.n_feature_folds, self.seed if seed is None else seed),
            k_user=self.n_neighbors,
            k_item=self.n_item_neighbors,
            shrink=self.shrink,
            user_mode=self.user_mode,
            unit=self.unit,
            keep_indices=self.predict_with == "parts",
            max_similar=self.max_similar,
        )
        if self.predict_with == "parts":
            self._indices = indices
        return feats

    def _n_feats(self) -> int:
        return 2 * self.n_neighbors + 2 * self.n_item_neighbors + 8

    def _feat_mask(self) -> torch.Tensor:
        """1 for the feature columns of the switched-on neighbour parts."""
        ku, ki = self.n_neighbors, self.n_item_neighbors
        m = np.zeros(self._n_feats(), np.float32)
        if self.parts.user_neighbours:
            m[: 2 * ku] = 1
            m[2 * ku + 2 * ki : 2 * ku + 2 * ki + 3] = 1
        if self.parts.item_neighbours:
            m[2 * ku : 2 * ku + 2 * ki] = 1
            m[2 * ku + 2 * ki + 3 : 2 * ku + 2 * ki + 6] = 1
        if self._needs_features():
            m[-2:] = 1
        return torch.from_numpy(m)

    def _choose_epochs(
        self, users: IntArray, items: IntArray, ratings: FloatArray, feats: FloatArray
    ) -> int:
        """Early stopping on a validation slice of the training ratings: the epoch with the
        lowest validation RMSE, averaged over ``n_stopping_runs`` runs (each its own seed and
        slice; one run's curve is noisy near its minimum). Keeps the first run's network at
        its best epoch in ``_early_stopped`` (``refit=False`` predicts with it instead of
        training again on all ratings)."""
        self._early_stopped: list[_Net] = []
        if self.val_fraction <= 0:
            return self.epochs
        curves = []
        for run in range(self.n_stopping_runs):
            val = self._validation_slice(len(users), run)
            best, curve = self._train_net(
                users[~val],
                items[~val],
                ratings[~val],
                feats[~val],
                self.seed + 1000 * run,
                self.epochs,
                val=(users[val], items[val], ratings[val], feats[val]),
            )
            if run == 0:
                self._early_stopped = best
            curves.append(curve)
        self.val_curve = mean_curve(curves)
        return int(np.argmin(self.val_curve)) + 1

    def _train_net(
        self,
        users: IntArray,
        items: IntArray,
        ratings: FloatArray,
        feats: FloatArray,
        seed: int,
        epochs: int,
        val: tuple[IntArray, IntArray, FloatArray, FloatArray] | None = None,
        keep_last: int = 1,
    ) -> tuple[list[_Net], list[float]]:
        """Adam on mini-batches, the learning rate times ``lr_decay`` after each epoch; with
        ``val``, stops after ``patience`` epochs without gain.

        Returns copies of the network after each of the last ``keep_last`` epochs (snapshot
        averaging: the epochs around the early-stopping point are averaged, which smooths the
        noisy optimum), or with ``val`` a copy at its best validation epoch, and the
        validation curve."""
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        low, high = self.scale
        target = torch.tensor((ratings - low) / (high - low), dtype=torch.float32)
        net = _Net(
            self.n_users,
            self.n_items,
            self._n_feats(),
            self.n_clusters,
            n_factors=self.n_factors,
            hidden=self.hidden,
            cluster_dim=self.cluster_dim,
            init_bias=0.0,
            parts=self.parts,
            feat_mask=self._feat_mask(),
            cluster_item_bias=self.reg_cluster_item > 0,
        )
        user_rows = _SetRows(users, items, self.n_users)
        item_rows = _SetRows(items, users, self.n_items)
        if _FULL_TABLES_EACH_STEP:
            user_sets = _normalised_sets(users, items, self.n_users, self.n_items)
            item_sets = _normalised_sets(items, users, self.n_items, self.n_users)
        factor_params = [net.P, net.Q, net.Y, net.Z]
        if net.b_cluster_item is not None:
            factor_params.append(net.b_cluster_item)
        mlp_params = (
            list(net.trunk.parameters())
            + list(net.head.parameters())
            + list(net.cluster_emb.parameters())
            + list(net.cluster_head.parameters())
        )
        opt = torch.optim.Adam(
            [
                {"params": factor_params + [net.bias, net.b_user, net.b_item]},
                {"params": mlp_params, "weight_decay": self.weight_decay_mlp},
            ],
            lr=self.lr,
            # one pass per table (the same update; the step before batch rows: unfused)
            fused=not _FULL_TABLES_EACH_STEP,
        )
        u_t, i_t = torch.from_numpy(users), torch.from_numpy(items)
        x_t, c_t = torch.from_numpy(feats), torch.from_numpy(self.labels[users])
        # the baseline of exactly these ratings (for the early-stopping run, without the slice)
        baseline = fit_biases(users, items, ratings, self.n_users, self.n_items)
        o_t = self._offset(users, items, baseline)
        n = len(users)
        curve: list[float] = []
        snapshots: list[_Net] = []
        best = float("inf")
        averaged = _WeightAverage(net, self.weight_average, -(-n // self.batch_size))
        for epoch in range(epochs):
            net.train()
            perm = torch.randperm(n, generator=gen)
            for start in range(0, n, self.batch_size):
                b = perm[start : start + self.batch_size]
                ub, ib = u_t[b], i_t[b]
                if _FULL_TABLES_EACH_STEP:
                    pu, qi = net.factor_tables(user_sets, item_sets)
                    rows = (ub, ib)
                else:  # only the batch's distinct users' and movies' rows
                    users_b, ru = torch.unique(ub, return_inverse=True)
                    items_b, ri = torch.unique(ib, return_inverse=True)
                    pu, qi = net.factor_rows(user_rows, item_rows, users_b, items_b)
                    rows = (ru, ri)
                s = net(ub, ib, x_t[b], c_t[b], o_t[b], pu, qi, rows)
                err = self._output(s, o_t[b]) - target[b]
                loss = self._loss(err) + self._penalty(net, ub, ib, n)
                opt.zero_grad()
                loss.backward()
                opt.step()
                averaged.update(net)
            for group in opt.param_groups:  # the same schedule in every run: epoch-indexed
                group["lr"] *= self.lr_decay
            kept = net if averaged.net is None else averaged.net  # averaged, when averaging
            if val is None and epoch >= epochs - keep_last:
                snapshots.append(copy.deepcopy(kept))
            if val is not None:
                rmse = self._rmse(kept, user_rows, item_rows, val, baseline)
                curve.append(rmse)
                if rmse < best:
                    best = rmse
                    snapshots = [copy.deepcopy(kept)]
                elif len(curve) - 1 - int(np.argmin(curve)) >= self.patience:
                    break
        return snapshots, curve

    def _output(self, s: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        """The 0..1-scaled rating of the logit s. ``output="sigmoid"``: sigmoid(s), which
        never reaches the scale's ends; ``"linear"``: the baseline plus a quarter of the
        network's correction s - offset (the sigmoid's slope near the middle), unbounded in
        training and clipped to the scale when predicting, so a prediction can be exactly the
        top or bottom rating."""
        if self.output == "sigmoid":
            return torch.sigmoid(s)
        return torch.sigmoid(offset) + 0.25 * (s - offset)

    def _loss(self, err: torch.Tensor) -> torch.Tensor:
        """Squared error mixed with absolute error by ``mae_weight`` (:func:`mixed_loss`)."""
        return mixed_loss(err, self.mae_weight)

    def _offset(
        self,
        users: IntArray,
        items: IntArray,
        baseline: tuple[float, FloatArray, FloatArray] | None = None,
    ) -> torch.Tensor:
        """Logit of the bias baseline on the 0..1 scale: the networks learn corrections to it,
        which converges much faster than learning the biases through the sigmoid.
        ``baseline`` (mu, b_u, b_i) defaults to the one fitted on all training ratings."""
        mu, b_u, b_i = baseline if baseline is not None else (self.mu, self.b_user, self.b_item)
        low, high = self.scale
        frac = np.clip((mu + b_u[users] + b_i[items] - low) / (high - low), 0.02, 0.98)
        return torch.tensor(np.log(frac / (1 - frac)), dtype=torch.float32)

    def _penalty(self, net: _Net, u: torch.Tensor, i: torch.Tensor, n: int) -> torch.Tensor:
        """L2 per rating on the batch's factor rows and biases (frequent users and movies are
        penalised more often, as in SGD matrix factorisation), and on the implicit tables as
        a prior over the n training ratings."""
        rows = (net.P[u] ** 2).sum(1) + (net.Q[i] ** 2).sum(1)
        bias = net.b_user[u] ** 2 + net.b_item[i] ** 2
        implicit = ((net.Y**2).sum() + (net.Z**2).sum()) / n
        penalty = (
            self.reg_factors * rows.mean()
            + self.reg_bias * bias.mean()
            + self.reg_implicit * implicit
        )
        if net.b_cluster_item is not None:  # the cluster's own view of the movie, shrunk to 0
            c = torch.from_numpy(self.labels)[u]
            penalty = penalty + self.reg_cluster_item * (net.b_cluster_item[c, i] ** 2).mean()
        return penalty

    def _rmse(
        self,
        net: _Net,
        user_rows: _SetRows,
        item_rows: _SetRows,
        val: tuple[IntArray, IntArray, FloatArray, FloatArray],
        baseline: tuple[float, FloatArray, FloatArray],
    ) -> float:
        """Validation RMSE in rating units (whole tables, once an epoch)."""
        u, i, r, x = val
        net.eval()
        with torch.no_grad():
            pu, qi = net.factor_rows(user_rows, item_rows)
            offset = self._offset(u, i, baseline)
            s = net(
                torch.from_numpy(u),
                torch.from_numpy(i),
                torch.from_numpy(x),
                torch.from_numpy(self.labels[u]),
                offset,
                pu,
                qi,
            )
        low, high = self.scale
        pred = np.clip(low + (high - low) * self._output(s, offset).numpy(), low, high)
        return float(np.sqrt(np.mean((pred - r) ** 2)))

    def _finalise(self) -> None:
        """Freeze factor tables (implicit sums included) and build the prediction index."""
        users, items, _ = self.train
        user_rows = _SetRows(users, items, self.n_users)
        item_rows = _SetRows(items, users, self.n_items)
        self.tables = []
        with torch.no_grad():
            for net in self.nets:
                net.eval()
                pu, qi = net.factor_rows(user_rows, item_rows)
                self.tables.append((pu.detach().clone(), qi.detach().clone()))
        if self._needs_features():
            self._prediction_indices()

    def _prediction_indices(self) -> list[NeighbourIndex]:
        """Neighbour indices for unseen pairs. ``predict_with="parts"``: the out-of-fold
        indices (each on (K-1)/K of the ratings, like the training features; predictions are
        averaged over them); ``"full"``: one index on all training ratings. Rebuilt
        deterministically after loading."""
        if not self._indices:
            u, i, r = self.train
            build = dict(
                shrink=self.shrink,
                user_mode=self.user_mode,
                k_user=self.n_neighbors,
                max_similar=self.max_similar,
            )
            if self.predict_with == "parts":
                part = feature_parts(len(u), self.n_feature_folds, self.seed)
                subsets = [part != p for p in range(self.n_feature_folds)]
            else:
                subsets = [np.ones(len(u), bool)]
            self._indices = [
                NeighbourIndex.build(
                    u[m], i[m], r[m] / self.unit, self.n_users, self.n_items, self.labels, **build
                )
                for m in subsets
            ]
        return self._indices

    # ------------------------------------------------------------------ predict
    def predict(self, users: IntArray, items: IntArray) -> tuple[FloatArray, np.ndarray]:
        """Predicted ratings on the scale, and True where the user or movie is unknown
        (then the bias baseline ``mu + b_u + b_i`` of the known side(s) is used)."""
        users = np.asarray(users, np.int64)
        items = np.asarray(items, np.int64)
        known_u = (users >= 0) & (users < self.n_users)
        known_i = (items >= 0) & (items < self.n_items)
        fallback = ~(known_u & known_i)
        low, high = self.scale
        pred = (
            self.mu
            + np.where(known_u, self.b_user[np.where(known_u, users, 0)], 0.0)
            + np.where(known_i, self.b_item[np.where(known_i, items, 0)], 0.0)
        )
        ok = ~fallback
        if ok.any():
            pred[ok] = self._predict_known(users[ok], items[ok])
        return np.clip(pred, low, high), fallback

    def _predict_known(self, users: IntArray, items: IntArray) -> FloatArray:
        """Prediction for known users and movies: the networks' average over seeds and
        indices, averaged with the item autoencoder's by ``autoencoder_weight``."""
        hybrid = self._predict_networks(users, items)
        if self.autoencoder is None:
            return hybrid
        w = self.autoencoder_weight
        return (1 - w) * hybrid + w * self.autoencoder.predict(users, items)

    def _predict_networks(self, users: IntArray, items: IntArray) -> FloatArray:
        """The networks' prediction, averaged over seeds and indices."""
        if self._needs_features():
            feats = [
                ix.features(users, items, self.n_neighbors, self.n_item_neighbors)
                for ix in self._prediction_indices()
            ]
        else:
            feats = [np.zeros((len(users), self._n_feats()), np.float32)]
        u_t, i_t = torch.from_numpy(users), torch.from_numpy(items)
        c_t, o_t = torch.from_numpy(self.labels[users]), self._offset(users, items)
        low, high = self.scale
        out = np.zeros(len(users))
        with torch.no_grad():
            for x in feats:
                x_t = torch.from_numpy(x)
                for net, (pu, qi) in zip(self.nets, self.tables, strict=False):
                    s = net(u_t, i_t, x_t, c_t, o_t, pu, qi)
                    out += self._output(s, o_t).numpy()
        return low + (high - low) * out / (len(self.nets) * len(feats))

    # ------------------------------------------------------------------ persistence
    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to predict, as plain arrays (no pickle). The neighbour index is
        rebuilt deterministically from the stored training triples."""
        u, i, r = self.train
        arrays: dict[str, np.ndarray] = {
            "meta": np.array([self.n_users, self.n_items, len(self.nets)], np.int64),
            "scale": np.array(self.scale),
            "mu": np.array(self.mu),
            "b_user": self.b_user,
            "b_item": self.b_item,
            "labels": self.labels,
            "train_users": u,
            "train_items": i,
            "train_ratings": r,
            "parts": np.array(dataclasses.astuple(self.parts), bool),
            "params_json": np.array(json.dumps(self.params)),  # a unicode array: no pickle needed
        }
        for s, (net, (pu, qi)) in enumerate(zip(self.nets, self.tables, strict=False)):
            arrays[f"net{s}.pu_table"] = pu.numpy()
            arrays[f"net{s}.qi_table"] = qi.numpy()
            for name, t in net.state_dict().items():
                arrays[f"net{s}.{name}"] = t.numpy()
        if self.autoencoder is not None:
            arrays.update(self.autoencoder.state_arrays("autoencoder."))
        return arrays

    @classmethod
    def from_state_arrays(cls, arrays: Mapping[str, np.ndarray], **params: object) -> HybridModel:
        """Rebuild a fitted model from :meth:`state_arrays`; the stored hyper-parameters are
        used unless overridden by ``params``."""
        parts = Parts(*[bool(v) for v in np.asarray(arrays["parts"])])
        stored = (
            json.loads(str(np.asarray(arrays["params_json"]))) if "params_json" in arrays else {}
        )
        stored.setdefault("output", "sigmoid")  # saved before the output was a setting
        stored.setdefault("autoencoder_weight", 0.0)  # saved before the autoencoder
        model = cls(parts=parts, **{**stored, **params})
        n_users, n_items, n_nets = (int(v) for v in arrays["meta"])
        model.n_users, model.n_items = n_users, n_items
        model.scale = tuple(float(v) for v in arrays["scale"])
        model.mu = float(arrays["mu"])
        model.b_user, model.b_item = np.asarray(arrays["b_user"]), np.asarray(arrays["b_item"])
        model.labels = np.asarray(arrays["labels"], np.int64)
        model.n_clusters = int(model.labels.max()) + 1
        model.unit = (model.scale[1] - model.scale[0]) / 4.0
        model.train = (
            np.asarray(arrays["train_users"], np.int64),
            np.asarray(arrays["train_items"], np.int64),
            np.asarray(arrays["train_ratings"], np.float64),
        )
        model.nets, model.tables = [], []
        for s in range(n_nets):
            net = _Net(
                n_users,
                n_items,
                model._n_feats(),
                model.n_clusters,
                n_factors=model.n_factors,
                hidden=model.hidden,
                cluster_dim=model.cluster_dim,
                init_bias=0.0,
                parts=parts,
                feat_mask=model._feat_mask(),
                cluster_item_bias=model.reg_cluster_item > 0,
            )
            prefix = f"net{s}."
            state = {
                k[len(prefix) :]: torch.from_numpy(np.asarray(v))
                for k, v in arrays.items()
                if k.startswith(prefix) and not k.endswith("_table")
            }
            net.load_state_dict(state)
            net.eval()
            model.nets.append(net)
            model.tables.append(
                (
                    torch.from_numpy(np.asarray(arrays[prefix + "pu_table"])),
                    torch.from_numpy(np.asarray(arrays[prefix + "qi_table"])),
                )
            )
        if "autoencoder.codes" in arrays:
            model.autoencoder = ItemAutoencoder.from_state_arrays(arrays, "autoencoder.")
        model._indices = []
        return model
