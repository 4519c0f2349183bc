"""The item autoencoder: what it computes against a dense naive reference, its early stopping,
save and load, and how the default model averages it in."""

from __future__ import annotations

from functools import partial

import helpers
import numpy as np
import pytest
import torch

from clusterrec.errors import ConfigError
from clusterrec.models.cluster_hybrid import ClusterHybridRecommender
from clusterrec.models.item_autoencoder import ItemAutoencoder

random_ratings = partial(helpers.random_ratings, common_items=3, taste_groups=2)
QUICK = {"epochs": 4, "n_seeds": 1, "n_snapshots": 1}


def _triples(ratings):
    return (
        ratings.user.astype(np.int64),
        ratings.item.astype(np.int64),
        ratings.rating.astype(np.float64),
    )


def _dense_reference(model: ItemAutoencoder, users, items, values, n_users, n_items):
    """The autoencoder as the paper writes it: each movie's full vector over all users
    (centred, in star units, 0 where missing) through sigmoid(X V + b) W^T + c, float64."""
    x = np.zeros((n_items, n_users))
    x[items, users] = (values - model.mu) / model.unit
    V, W = model.V.double().numpy(), model.W.double().numpy()
    b, c = model.b.double().numpy(), model.c.double().numpy()
    codes = 1 / (1 + np.exp(-(x @ V + b)))
    return model.mu + model.unit * (codes @ W.T + c)  # movies x users


def test_predictions_are_the_dense_autoencoder_of_each_movie_s_ratings() -> None:
    ratings = random_ratings(25, 18, 0.4, seed=1)
    users, items, values = _triples(ratings)
    model = ItemAutoencoder(hidden=7, epochs=3).fit(
        users, items, values, ratings.n_users, ratings.n_items, (1.0, 5.0)
    )
    dense = _dense_reference(model, users, items, values, ratings.n_users, ratings.n_items)
    all_u = np.repeat(np.arange(ratings.n_users), ratings.n_items)
    all_i = np.tile(np.arange(ratings.n_items), ratings.n_users)
    np.testing.assert_allclose(
        model.predict(all_u, all_i), np.clip(dense[all_i, all_u], 1, 5), rtol=1e-5
    )


def test_training_lowers_the_reconstruction_error_below_the_mean() -> None:
    ratings = random_ratings(40, 25, 0.5, seed=2)
    users, items, values = _triples(ratings)
    fit = (users, items, values, ratings.n_users, ratings.n_items, (1.0, 5.0))
    untrained = ItemAutoencoder(hidden=16, epochs=1, lr=1e-9).fit(*fit)
    trained = ItemAutoencoder(hidden=16, epochs=40, reg=0.0).fit(*fit)

    def rmse(model):
        return np.sqrt(np.mean((model.predict(users, items) - values) ** 2))

    assert rmse(trained) < 0.8 * rmse(untrained)
    assert rmse(untrained) == pytest.approx(np.std(values), rel=0.05)  # ~ the mean rating


def test_early_stopping_keeps_the_weights_of_the_best_validation_epoch() -> None:
    ratings = random_ratings(40, 25, 0.5, seed=3)
    users, items, values = _triples(ratings)
    val = np.random.default_rng(0).random(len(users)) < 0.2
    model = ItemAutoencoder(hidden=32, epochs=30, patience=2, lr=2e-2, reg=0.0).fit(
        users[~val],
        items[~val],
        values[~val],
        ratings.n_users,
        ratings.n_items,
        (1.0, 5.0),
        val=(users[val], items[val], values[val]),
    )
    curve = model.val_curve
    assert model.chosen_epochs == int(np.argmin(curve)) + 1
    assert len(curve) < 30 and len(curve) - model.chosen_epochs == 2  # stopped by patience
    err = model.predict(users[val], items[val]) - values[val]
    assert np.sqrt(np.mean(err**2)) == pytest.approx(min(curve), rel=1e-6)


def test_the_same_seed_gives_the_same_model_and_another_seed_another() -> None:
    ratings = random_ratings(30, 20, 0.4, seed=4)
    fit = (*_triples(ratings), ratings.n_users, ratings.n_items, (1.0, 5.0))
    pairs = _triples(ratings)[:2]
    a, b, c = (ItemAutoencoder(hidden=8, epochs=3, seed=s).fit(*fit) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.predict(*pairs), b.predict(*pairs))
    assert not np.array_equal(a.predict(*pairs), c.predict(*pairs))


def test_the_default_model_averages_networks_and_autoencoder_by_its_weight(tmp_path) -> None:
    ratings = random_ratings(40, 25, 0.4, seed=5)
    model = ClusterHybridRecommender(n_clusters=2, seed=0, settings=QUICK).fit(ratings)
    core = model.core_
    users, items, _ = core.train
    w = core.autoencoder_weight
    expected = (1 - w) * core._predict_networks(users, items) + w * core.autoencoder.predict(
        users, items
    )
    np.testing.assert_allclose(core._predict_known(users, items), expected, rtol=1e-12)
    # the networks are those of a model without the autoencoder (it trains after them)
    off = ClusterHybridRecommender(
        n_clusters=2, seed=0, settings={**QUICK, "autoencoder_weight": 0.0}
    ).fit(ratings)
    assert off.core_.autoencoder is None
    np.testing.assert_array_equal(
        off.core_._predict_known(users, items), core._predict_networks(users, items)
    )
    pairs = (ratings.user_labels[ratings.user], ratings.item_labels[ratings.item])
    loaded = ClusterHybridRecommender.load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(model.predict(*pairs).rating, loaded.predict(*pairs).rating)


def test_the_autoencoder_early_stops_on_the_networks_first_validation_slice() -> None:
    ratings = random_ratings(40, 25, 0.4, seed=6)
    model = ClusterHybridRecommender(n_clusters=2, seed=0, settings=QUICK).fit(ratings)
    core = model.core_
    users, items, values = core.train
    val = np.random.default_rng(core.seed + 7).random(len(users)) < core.val_fraction
    stopped = ItemAutoencoder(
        hidden=core.autoencoder_hidden, reg=core.autoencoder_reg, seed=core.seed
    )
    stopped.fit(
        users[~val], items[~val], values[~val], core.n_users, core.n_items, core.scale,
        val=(users[val], items[val], values[val]),
    )  # fmt: skip
    assert core.autoencoder.chosen_epochs == stopped.chosen_epochs
    refit = ItemAutoencoder(
        hidden=core.autoencoder_hidden,
        reg=core.autoencoder_reg,
        seed=core.seed,
        epochs=stopped.chosen_epochs,
    ).fit(users, items, values, core.n_users, core.n_items, core.scale)
    np.testing.assert_allclose(  # equal up to summation order (the fit ran on one thread)
        refit.predict(users, items), core.autoencoder.predict(users, items), rtol=1e-6
    )


@pytest.mark.parametrize(
    "settings",
    [{"autoencoder_weight": -0.1}, {"autoencoder_weight": 1.5}, {"autoencoder_hidden": 0},
     {"autoencoder_reg": -1.0}],
)  # fmt: skip
def test_autoencoder_settings_out_of_range_are_config_errors(settings: dict) -> None:
    ratings = random_ratings(20, 15, 0.4, seed=8)
    with pytest.raises(ConfigError, match="setting autoencoder"):
        ClusterHybridRecommender(n_clusters=2, settings=settings).fit(ratings)


def test_codes_of_a_movie_without_training_ratings_are_those_of_an_empty_vector() -> None:
    ratings = random_ratings(20, 15, 0.5, seed=9)
    users, items, values = _triples(ratings)
    keep = items != 0
    model = ItemAutoencoder(hidden=5, epochs=2).fit(
        users[keep], items[keep], values[keep], ratings.n_users, ratings.n_items, (1.0, 5.0)
    )
    np.testing.assert_allclose(model.codes[0], torch.sigmoid(model.b), rtol=1e-6)


def test_decoding_by_block_product_or_entry_by_entry_trains_the_same_model(monkeypatch) -> None:
    from clusterrec.models import item_autoencoder

    ratings = random_ratings(40, 30, 0.3, seed=10)
    fit = (*_triples(ratings), ratings.n_users, ratings.n_items, (1.0, 5.0))
    pairs = _triples(ratings)[:2]
    predictions = []
    for block in (0, 10**9):  # never / always the product
        monkeypatch.setattr(item_autoencoder, "DENSE_BLOCK", block)
        model = ItemAutoencoder(hidden=6, epochs=5, batch_items=7).fit(*fit)
        predictions.append(model.predict(*pairs))
    np.testing.assert_allclose(predictions[0], predictions[1], rtol=1e-5)
    assert not np.allclose(predictions[0], predictions[0].mean())  # it learned something


def test_the_penalty_is_the_mean_over_entries_of_their_users_squared_rows() -> None:
    model = ItemAutoencoder(hidden=3)
    gen = torch.Generator().manual_seed(0)
    model.V, model.W = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen)
    entry_users = torch.tensor([4, 1, 4, 4, 0, 1])
    users, u = torch.unique(entry_users, return_inverse=True)
    naive = np.mean([float((model.V[v] ** 2).sum() + (model.W[v] ** 2).sum()) for v in entry_users])
    assert float(model._penalty(users, u)) == pytest.approx(naive, rel=1e-6)


def test_predictions_do_not_depend_on_how_the_pairs_are_chunked(monkeypatch) -> None:
    from clusterrec.models import item_autoencoder

    ratings = random_ratings(30, 40, 0.3, seed=11)
    users, items, values = _triples(ratings)
    model = ItemAutoencoder(hidden=5, epochs=3).fit(
        users, items, values, ratings.n_users, ratings.n_items, (1.0, 5.0)
    )
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, ratings.n_users, 500), rng.integers(0, ratings.n_items, 500)
    whole = model.predict(*pairs)
    monkeypatch.setattr(item_autoencoder, "PREDICT_CHUNK", 7)
    np.testing.assert_allclose(model.predict(*pairs), whole, rtol=1e-6)
    monkeypatch.setattr(item_autoencoder, "DENSE_BLOCK", 0)  # entry by entry
    np.testing.assert_allclose(model.predict(*pairs), whole, rtol=1e-6)
    dense = _dense_reference(model, users, items, values, ratings.n_users, ratings.n_items)
    np.testing.assert_allclose(whole, np.clip(dense[pairs[1], pairs[0]], 1, 5), rtol=1e-5)
