"""The default model: no test rating reaches training, neighbour features of training pairs
are out of fold, the clusters it is given are the ones it uses, its parts can be switched off.

(The contract every recommender keeps, save/load and scale clipping included, is in
test_contract.py.)"""

from __future__ import annotations

import json
from functools import partial

import helpers
import numpy as np
import pytest
import torch

from clusterrec.errors import ConfigError
from clusterrec.evaluation.splits import kfold_assignments
from clusterrec.models import neighbour_features
from clusterrec.models.cluster_hybrid import PART_NAMES, ClusterHybridRecommender
from clusterrec.models.neighbour_features import (
    NeighbourIndex,
    feature_parts,
    out_of_fold_features,
)
from clusterrec.models.networks import single_torch_thread

random_ratings = partial(helpers.random_ratings, common_items=3, taste_groups=2)
#: Small and quick: the measured defaults, fewer epochs and one seed.
QUICK = {"epochs": 4, "n_seeds": 1, "n_snapshots": 1}


def quick_model(**kwargs) -> ClusterHybridRecommender:
    return ClusterHybridRecommender(n_clusters=2, seed=0, settings=QUICK, **kwargs)


def test_noise_in_the_test_fold_changes_nothing_the_model_learned() -> None:
    ratings = random_ratings(50, 30, 0.35, seed=4)
    fold = kfold_assignments(len(ratings), 5, seed=1)
    rng = np.random.default_rng(9)
    noisy_values = ratings.rating.copy()
    noisy_values[fold == 0] = rng.integers(1, 6, int((fold == 0).sum()))
    noisy = type(ratings)(
        ratings.user, ratings.item, noisy_values, ratings.time, ratings.user_labels,
        ratings.item_labels, ratings.scale,
    )  # fmt: skip
    train_pairs = (ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    predictions = []
    for data in (ratings, noisy):
        model = quick_model().fit(data.take(fold != 0))
        predictions.append(model.predict(*train_pairs).rating)
    np.testing.assert_array_equal(predictions[0], predictions[1])


def test_implicit_feedback_is_exactly_the_training_pairs() -> None:
    ratings = random_ratings(40, 25, 0.3, seed=2)
    fold = kfold_assignments(len(ratings), 4, seed=0)
    train = ratings.take(fold != 0)
    model = quick_model().fit(train)
    users, items, _ = model.core_.train
    seen = set(zip(model.user_index_[users], model.item_index_[items], strict=True))
    expected = set(zip(train.user_labels[train.user], train.item_labels[train.item], strict=True))
    assert seen == expected


def _oof(users, items, values, n_users, n_items, labels, part):
    features, _ = out_of_fold_features(
        users, items, values, n_users, n_items, labels, part,
        k_user=5, k_item=5, shrink=100.0, user_mode="raters", unit=1.0,
    )  # fmt: skip
    return features


def test_training_features_of_a_part_never_see_that_part_s_ratings() -> None:
    ratings = random_ratings(40, 30, 0.4, seed=3)
    users, items = ratings.user.astype(np.int64), ratings.item.astype(np.int64)
    values = ratings.rating.astype(np.float64)
    labels = np.arange(ratings.n_users) % 2
    part = feature_parts(len(values), 5, seed=0)
    shape = (users, items)
    before = _oof(*shape, values, ratings.n_users, ratings.n_items, labels, part)
    changed = values.copy()
    mine = part == 2
    changed[mine] = 6 - changed[mine]  # every rating of part 2 flipped on the scale
    after = _oof(*shape, changed, ratings.n_users, ratings.n_items, labels, part)
    np.testing.assert_array_equal(before[mine], after[mine])
    # ... while features built in sample (an index on every rating) would move with them
    inside = NeighbourIndex.build(
        users, items, values, ratings.n_users, ratings.n_items, labels,
        shrink=100.0, user_mode="raters", k_user=5,
    )  # fmt: skip
    inside_changed = NeighbourIndex.build(
        users, items, changed, ratings.n_users, ratings.n_items, labels,
        shrink=100.0, user_mode="raters", k_user=5,
    )  # fmt: skip
    assert not np.array_equal(
        inside.features(users[mine], items[mine], 5, 5),
        inside_changed.features(users[mine], items[mine], 5, 5),
    )


def test_given_clusters_are_the_ones_used() -> None:
    ratings = random_ratings(30, 20, 0.4, seed=5)
    labels = np.arange(ratings.n_users) % 3
    model = ClusterHybridRecommender(n_clusters=3, seed=0, settings=QUICK)
    model.fit(ratings, labels=labels)
    np.testing.assert_array_equal(model.labels_, labels)
    with pytest.raises(ConfigError, match="labels must"):
        ClusterHybridRecommender(n_clusters=2, settings=QUICK).fit(ratings, labels=labels)


@pytest.mark.parametrize("part", PART_NAMES)
def test_each_part_can_be_switched_off(part: str) -> None:
    ratings = random_ratings(30, 20, 0.4, seed=6)
    model = quick_model(without=(part,)).fit(ratings)
    assert not getattr(model.core_.parts, part)
    predicted = model.predict(ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    assert np.isfinite(predicted.rating).all()


def test_unknown_parts_and_settings_are_config_errors() -> None:
    ratings = random_ratings(20, 15, 0.4, seed=7)
    with pytest.raises(ConfigError, match="parts that can be switched off"):
        quick_model(without=("magic",)).fit(ratings)
    with pytest.raises(ConfigError, match="unknown settings"):
        ClusterHybridRecommender(settings={"n_factorz": 3}).fit(ratings)


@pytest.mark.parametrize(
    "settings",
    [{"n_seeds": 0}, {"n_neighbors": 0}, {"epochs": 0}, {"n_factors": "x"},
     {"user_mode": "bogus"}, {"n_feature_folds": 1}, {"lr": 0.0}, {"max_similar": 0},
     {"max_similar": 19}, {"refit": "yes"}, {"output": "tanh"}, {"n_stopping_runs": 0},
     {"vary_features": 1}, {"vary_features": True, "predict_with": "parts"},
     {"lr_decay": 0.0}, {"lr_decay": 1.5}, {"weight_average": -1.0}],
)  # fmt: skip
def test_settings_out_of_range_are_config_errors_not_nan(settings: dict) -> None:
    ratings = random_ratings(20, 15, 0.4, seed=8)
    with pytest.raises(ConfigError, match="setting"):
        ClusterHybridRecommender(n_clusters=2, settings=settings).fit(ratings)


def test_without_clusters_ignores_given_labels_neighbours_come_from_everyone() -> None:
    ratings = random_ratings(30, 20, 0.4, seed=5)
    labels = np.arange(ratings.n_users) % 2
    model = quick_model(without=("clusters",)).fit(ratings, labels=labels)
    assert (model.core_.labels == 0).all()


def _today_user_similarity(binary, labels, max_similar):
    """The similarity as it was built before the bounded form: the whole sparse product."""
    dense = neighbour_features.jaccard_similarity(binary, labels).toarray()
    return neighbour_features._Similarity(dense=dense)


def _today_item_similarity(resid_ui, resid_iu, shrink, max_similar):
    dense = neighbour_features.pearson_baseline_similarity(resid_ui, resid_iu, shrink).toarray()
    return neighbour_features._Similarity(dense=dense)


def test_small_data_predicts_exactly_as_with_the_whole_sparse_products(monkeypatch) -> None:
    """Below the dense limit the similarities are built in row blocks, never pruned: the
    predictions are those of the former whole-product form, bit for bit."""
    ratings = random_ratings(40, 30, 0.4, seed=11)
    pairs = (ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    now = quick_model().fit(ratings).predict(*pairs).rating
    monkeypatch.setattr(neighbour_features, "user_similarity", _today_user_similarity)
    monkeypatch.setattr(neighbour_features, "item_similarity", _today_item_similarity)
    before = quick_model().fit(ratings).predict(*pairs).rating
    np.testing.assert_array_equal(now, before)


def test_the_bounded_form_fits_and_keeps_at_most_max_similar_per_row(monkeypatch) -> None:
    monkeypatch.setattr(neighbour_features, "DENSE_SIMILARITY_LIMIT", 0)  # always pruned
    ratings = random_ratings(40, 30, 0.4, seed=12)
    model = ClusterHybridRecommender(
        n_clusters=2, seed=0, settings={**QUICK, "max_similar": 20, "n_neighbors": 5}
    ).fit(ratings)
    for index in model.core_._prediction_indices():
        for sim in (index.user_sim, index.item_sim):
            assert sim.dense is None and np.diff(sim.pruned.indptr).max() <= 20
    predicted = model.predict(ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    assert np.isfinite(predicted.rating).all()


def _small_net(n_users: int, n_items: int, seed: int):
    """A network of the core with random factor and implicit tables (Y, Z start at zero in
    training; random here so that the implicit sums are not trivially zero)."""
    import torch

    from clusterrec.models.cluster_hybrid_core import Parts, _Net

    torch.manual_seed(seed)
    net = _Net(
        n_users, n_items, 48, 2, n_factors=8, hidden=16, cluster_dim=4, init_bias=0.0,
        parts=Parts(), feat_mask=torch.ones(48),
    )  # fmt: skip
    with torch.no_grad():
        for table in (net.P, net.Q, net.Y, net.Z):
            table.normal_()
    return net


def _random_pairs(n_users: int, n_items: int, density: float, seed: int):
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    keep = rng.permutation(len(users))  # shuffled: rows need not arrive sorted
    return users[keep].astype(np.int64), items[keep].astype(np.int64)


def test_batch_rows_of_the_implicit_sums_equal_the_whole_tables_rows() -> None:
    """The rows a training step computes (its distinct users and movies only) are the rows of
    the whole sparse-product tables, bit for bit; empty sets give the factor row alone."""
    import torch

    from clusterrec.models.cluster_hybrid_core import _normalised_sets, _SetRows

    n_users, n_items = 37, 23
    users, items = _random_pairs(n_users, n_items, 0.3, seed=3)
    users, items = users[users != 5], items[users != 5]  # user 5 rated nothing
    net = _small_net(n_users, n_items, seed=0)
    user_rows, item_rows = _SetRows(users, items, n_users), _SetRows(items, users, n_items)
    with torch.no_grad():
        pu, qi = net.factor_tables(
            _normalised_sets(users, items, n_users, n_items),
            _normalised_sets(items, users, n_items, n_users),
        )
        some_users = torch.tensor([5, 0, 36, 17, 3])
        some_items = torch.tensor([22, 0, 9])
        pu_b, qi_b = net.factor_rows(user_rows, item_rows, some_users, some_items)
        pu_all, qi_all = net.factor_rows(user_rows, item_rows)
    torch.testing.assert_close(pu_b, pu[some_users], rtol=0, atol=0)
    torch.testing.assert_close(qi_b, qi[some_items], rtol=0, atol=0)
    torch.testing.assert_close(pu_all, pu, rtol=0, atol=0)
    torch.testing.assert_close(qi_all, qi, rtol=0, atol=0)
    torch.testing.assert_close(pu_b[0], net.P[5].detach(), rtol=0, atol=0)
    # against a naive loop over each user's movies
    for u in (0, 17):
        rated = items[users == u]
        expected = net.P[u] + net.Y[torch.from_numpy(rated)].sum(0) / np.sqrt(len(rated))
        torch.testing.assert_close(pu_all[u], expected.detach(), rtol=1e-6, atol=1e-6)


def test_one_training_step_gives_the_same_gradients_both_ways() -> None:
    """Loss and every parameter's gradient of one step (batch rows against whole tables)."""
    import torch

    from clusterrec.models.cluster_hybrid_core import HybridModel, _normalised_sets, _SetRows

    n_users, n_items = 41, 29
    users, items = _random_pairs(n_users, n_items, 0.35, seed=5)
    rng = np.random.default_rng(1)
    core = HybridModel(n_neighbors=5, n_item_neighbors=5, hidden=16, n_factors=8)
    core.scale = (1.0, 5.0)
    target = torch.tensor(rng.random(len(users)), dtype=torch.float32)
    x = torch.tensor(rng.normal(size=(len(users), 48)), dtype=torch.float32)
    c = torch.from_numpy(rng.integers(0, 2, len(users)))
    offset = torch.tensor(rng.normal(size=len(users)), dtype=torch.float32)
    b = torch.from_numpy(rng.choice(len(users), 64, replace=False))
    u_t, i_t = torch.from_numpy(users), torch.from_numpy(items)
    ub, ib = u_t[b], i_t[b]
    grads, losses = [], []
    for form in ("tables", "rows"):
        net = _small_net(n_users, n_items, seed=0)
        if form == "tables":
            pu, qi = net.factor_tables(
                _normalised_sets(users, items, n_users, n_items),
                _normalised_sets(items, users, n_items, n_users),
            )
            rows = (ub, ib)
        else:
            users_b, ru = torch.unique(ub, return_inverse=True)
            items_b, ri = torch.unique(ib, return_inverse=True)
            pu, qi = net.factor_rows(
                _SetRows(users, items, n_users), _SetRows(items, users, n_items), users_b, items_b
            )
            rows = (ru, ri)
        s = net(ub, ib, x[b], c[b], offset[b], pu, qi, rows)
        loss = core._loss(torch.sigmoid(s) - target[b]) + core._penalty(net, ub, ib, len(users))
        loss.backward()
        losses.append(loss.detach())
        grads.append({name: p.grad.clone() for name, p in net.named_parameters()})
    torch.testing.assert_close(losses[1], losses[0], rtol=0, atol=0)
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-6, atol=1e-7)
    touched = grads[1]["Y"].abs().sum(1) > 0  # the implicit prior reaches every row
    assert touched.all()


def test_without_refit_it_predicts_with_the_early_stopping_run_at_its_best_epoch() -> None:
    ratings = random_ratings(40, 25, 0.35, seed=5)
    model = ClusterHybridRecommender(
        n_clusters=2, seed=0, settings={**QUICK, "epochs": 5, "refit": False}
    ).fit(ratings)
    core = model.core_
    assert len(core.nets) == 1
    assert core.chosen_epochs == int(np.argmin(core.val_curve)) + 1
    # the same run, trained for exactly the chosen epochs without a validation slice
    users, items, values = core.train
    val = np.random.default_rng(core.seed + 7).random(len(users)) < core.val_fraction
    feats = core._train_features(users, items, values)
    (again,), _ = core._train_net(
        users[~val], items[~val], values[~val], feats[~val], core.seed, core.chosen_epochs
    )
    for name, tensor in again.state_dict().items():  # equal up to summation order
        np.testing.assert_allclose(
            tensor.numpy(), core.nets[0].state_dict()[name].numpy(), rtol=1e-5, atol=1e-7
        )


def test_the_cluster_x_movie_bias_is_learned_per_cluster_and_survives_save_and_load(
    tmp_path,
) -> None:
    ratings = random_ratings(40, 25, 0.35, seed=6)
    settings = {**QUICK, "reg_cluster_item": 0.03}
    model = ClusterHybridRecommender(n_clusters=2, seed=0, settings=settings).fit(ratings)
    table = model.core_.nets[0].b_cluster_item.detach().numpy()
    assert table.shape == (2, ratings.n_items)
    # a cluster's entry moves only for movies its users rated in training
    users, items, _ = model.core_.train
    for cluster in (0, 1):
        rated = np.unique(items[model.labels_[users] == cluster])
        untouched = np.setdiff1d(np.arange(ratings.n_items), rated)
        assert np.all(table[cluster, untouched] == 0) and np.any(table[cluster, rated] != 0)
    loaded = ClusterHybridRecommender.load(model.save(tmp_path / "model"))
    pairs = (ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    np.testing.assert_array_equal(model.predict(*pairs).rating, loaded.predict(*pairs).rating)
    without = ClusterHybridRecommender(n_clusters=2, seed=0, settings=QUICK).fit(ratings)
    assert without.core_.nets[0].b_cluster_item is None


def test_the_linear_output_is_the_baseline_plus_a_quarter_of_the_correction() -> None:
    from clusterrec.models.cluster_hybrid_core import HybridModel

    offset = torch.tensor([-2.0, 0.0, 1.5, 3.0])
    correction = torch.tensor([0.0, 0.4, -1.0, 8.0])
    linear = HybridModel(output="linear")._output(offset + correction, offset)
    sigmoid = HybridModel(output="sigmoid")._output(offset + correction, offset)
    np.testing.assert_allclose(linear, torch.sigmoid(offset) + correction / 4, rtol=1e-6)
    assert linear[0] == sigmoid[0] == torch.sigmoid(offset[0])  # no correction: the baseline
    assert linear[3] > 1 > sigmoid[3]  # unbounded: clipped to the top when predicting


@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_both_outputs_predict_on_the_rating_scale(output) -> None:
    ratings = random_ratings(40, 25, 0.5, seed=3)
    values = ratings.rating.copy()
    values[ratings.user == 0] = ratings.scale.high  # a user who gives the top rating only
    ratings = type(ratings)(
        ratings.user, ratings.item, values, ratings.time, ratings.user_labels,
        ratings.item_labels, ratings.scale,
    )  # fmt: skip
    model = ClusterHybridRecommender(
        n_clusters=2, seed=0, settings={**QUICK, "output": output}
    ).fit(ratings)
    users = np.repeat(ratings.user_labels, ratings.n_items)
    items = np.tile(ratings.item_labels, ratings.n_users)
    pred = model.predict(users, items).rating
    assert ratings.scale.low <= pred.min() and pred.max() <= ratings.scale.high


def test_a_model_saved_before_the_output_was_a_setting_loads_with_the_sigmoid(tmp_path) -> None:
    ratings = random_ratings(30, 20, 0.4, seed=7)
    sigmoid = ClusterHybridRecommender(
        n_clusters=2, seed=0, settings={**QUICK, "output": "sigmoid"}
    ).fit(ratings)
    folder = sigmoid.save(tmp_path / "model")
    with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
        arrays = dict(stored)
    params = json.loads(str(arrays["core.params_json"]))
    del params["output"]  # as every model saved before the setting existed
    arrays["core.params_json"] = np.array(json.dumps(params))
    np.savez(folder / "arrays.npz", **arrays)
    loaded = ClusterHybridRecommender.load(folder)
    assert loaded.core_.output == "sigmoid"
    pairs = (ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    np.testing.assert_array_equal(sigmoid.predict(*pairs).rating, loaded.predict(*pairs).rating)


def test_the_epochs_come_from_the_mean_of_the_stopping_runs_curves() -> None:
    ratings = random_ratings(40, 25, 0.35, seed=9)
    settings = {**QUICK, "epochs": 6, "n_stopping_runs": 3}
    core = ClusterHybridRecommender(n_clusters=2, seed=0, settings=settings).fit(ratings).core_
    users, items, values = core.train
    feats = core._train_features(users, items, values)
    curves = []
    for run in range(3):  # each run: its own slice and seed, as a naive loop would do it
        val = np.random.default_rng(core.seed + 7 + run).random(len(users)) < core.val_fraction
        with single_torch_thread():  # as the fit: the same summation order
            _, curve = core._train_net(
                users[~val], items[~val], values[~val], feats[~val], core.seed + 1000 * run, 6,
                val=(users[val], items[val], values[val], feats[val]),
            )  # fmt: skip
        curves.append(curve)
    assert len({tuple(c) for c in curves}) == 3  # three different runs
    shortest = min(map(len, curves))
    expected = [sum(c[e] for c in curves) / 3 for e in range(shortest)]
    np.testing.assert_allclose(core.val_curve, expected, rtol=1e-12)
    assert core.chosen_epochs == int(np.argmin(expected)) + 1


def test_with_vary_features_each_seed_trains_on_its_own_draw_of_the_parts(monkeypatch) -> None:
    ratings = random_ratings(40, 25, 0.35, seed=10)
    drawn: list[int] = []
    real = neighbour_features.feature_parts

    def spy(n: int, k: int, seed: int) -> np.ndarray:
        drawn.append(seed)
        return real(n, k, seed)

    monkeypatch.setattr("clusterrec.models.cluster_hybrid_core.feature_parts", spy)
    settings = {**QUICK, "n_seeds": 3, "vary_features": True}
    varied = ClusterHybridRecommender(n_clusters=2, seed=0, settings=settings).fit(ratings)
    seed = varied.core_.seed
    assert drawn == [seed, seed + 1000, seed + 2000]  # the first also serves early stopping
    drawn.clear()
    same = ClusterHybridRecommender(
        n_clusters=2, seed=0, settings={**settings, "vary_features": False}
    ).fit(ratings)
    assert drawn == [seed]
    pairs = (ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    # the first network is the same either way; the others saw other features
    first, again = varied.core_.nets[0].state_dict(), same.core_.nets[0].state_dict()
    for name, tensor in first.items():
        np.testing.assert_array_equal(tensor.numpy(), again[name].numpy())
    assert not np.array_equal(varied.predict(*pairs).rating, same.predict(*pairs).rating)


def test_lr_decay_multiplies_the_learning_rate_once_an_epoch(monkeypatch) -> None:
    ratings = random_ratings(40, 25, 0.35, seed=11)
    seen: list[float] = []
    step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    settings = {
        **QUICK,
        "epochs": 3,
        "val_fraction": 0.0,
        "batch_size": 64,
        "lr_decay": 0.5,
        "autoencoder_weight": 0.0,
    }  # fmt: skip (only the networks' Adam steps)
    model = ClusterHybridRecommender(n_clusters=2, seed=0, settings=settings).fit(ratings)
    steps = -(-len(model.core_.train[0]) // 64)  # batches an epoch
    assert steps > 1
    expected = [0.01 * 0.5**epoch for epoch in range(3) for _ in range(steps)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12)


def test_weight_average_keeps_the_moving_average_a_naive_loop_computes(monkeypatch) -> None:
    from clusterrec.models import cluster_hybrid_core as core_module

    ratings = random_ratings(40, 25, 0.35, seed=12)
    trained: list = []  # the network being trained (not its average)
    init = core_module._WeightAverage.__init__

    def remember(self, net, horizon, steps_per_epoch):
        trained.append(net)
        init(self, net, horizon, steps_per_epoch)

    after_each_step: list[dict[str, np.ndarray]] = []
    step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        out = step(self, *args, **kwargs)
        after_each_step.append(
            {name: p.detach().numpy().copy() for name, p in trained[-1].named_parameters()}
        )
        return out

    monkeypatch.setattr(core_module._WeightAverage, "__init__", remember)
    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    settings = {**QUICK, "epochs": 3, "val_fraction": 0.0, "batch_size": 64,
                "weight_average": 1.0, "autoencoder_weight": 0.0}  # fmt: skip
    model = ClusterHybridRecommender(n_clusters=2, seed=0, settings=settings).fit(ratings)
    per_epoch = -(-len(model.core_.train[0]) // 64)
    assert len(after_each_step) == 3 * per_epoch and per_epoch > 2
    names = list(after_each_step[0])
    naive = {name: np.zeros_like(after_each_step[0][name], dtype=np.float64) for name in names}
    for t, weights in enumerate(after_each_step, start=1):
        for name in names:  # the mean of the first steps, then a moving average
            naive[name] += (weights[name] - naive[name]) / min(t, per_epoch)
    kept = dict(model.core_.nets[0].named_parameters())
    for name in names:
        np.testing.assert_allclose(kept[name].detach().numpy(), naive[name], atol=2e-6)
    # and it is not simply the last step's weights
    assert not np.allclose(kept["P"].detach().numpy(), after_each_step[-1]["P"])
