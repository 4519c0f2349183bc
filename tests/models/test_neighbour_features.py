"""The hybrid model's neighbour similarities: the dense form built in row blocks is today's exact
sparse form bit for bit; the bounded form keeps each row's top M exactly as naive loops rank
them; features on pruned rows choose what a naive loop over the kept entries chooses."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from clusterrec.models import neighbour_features as nf

SHRINK = 10.0


def _data(n_users: int = 60, n_items: int = 40, density: float = 0.25, seed: int = 0):
    """Residual matrices, the rated pattern, cluster labels and the rating triples."""
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    ratings = rng.integers(1, 6, len(users)).astype(np.float64)
    labels = rng.integers(0, 3, n_users)
    mu, b_u, b_i = nf.fit_biases(users, items, ratings, n_users, n_items)
    resid = ratings - mu - b_u[users] - b_i[items]
    return {
        "resid_ui": nf._csr(users, items, resid, (n_users, n_items)),
        "resid_iu": nf._csr(items, users, resid, (n_items, n_users)),
        "binary": nf._csr(users, items, np.ones(len(users)), (n_users, n_items)),
        "labels": labels,
        "triples": (users.astype(np.int64), items.astype(np.int64), ratings),
    }


def _naive_pearson(resid_ui: sp.csr_matrix, binary: sp.csr_matrix, shrink: float) -> np.ndarray:
    """Shrunk pearson_baseline by a loop over item pairs and their common raters."""
    dense = resid_ui.toarray().astype(np.float64)
    rated = binary.toarray() > 0
    n_items = dense.shape[1]
    out = np.zeros((n_items, n_items))
    for i in range(n_items):
        for j in range(n_items):
            common = rated[:, i] & rated[:, j]
            n = common.sum()
            if i == j or n < 2:
                continue
            e_i, e_j = dense[common, i], dense[common, j]
            denom = np.sqrt((e_i**2).sum() * (e_j**2).sum())
            if denom > 0:
                out[i, j] = (e_i * e_j).sum() / denom * (n - 1) / (n - 1 + shrink)
    return out


def _naive_jaccard(binary: sp.csr_matrix, labels: np.ndarray) -> np.ndarray:
    rated = binary.toarray() > 0
    n = rated.shape[0]
    out = np.zeros((n, n))
    for u in range(n):
        for v in range(n):
            inter = (rated[u] & rated[v]).sum()
            if u != v and labels[u] == labels[v] and inter:
                out[u, v] = inter / (rated[u] | rated[v]).sum()
    return out


def _naive_top_m(sim: np.ndarray, m: int) -> list[list[int]]:
    """Per row: the columns of the m largest nonzero float32 values, ties to the smaller column."""
    rows = []
    for row in sim.astype(np.float32):
        nonzero = np.flatnonzero(row)
        rows.append(sorted(nonzero, key=lambda c: (-row[c], c))[:m])
    return rows


def _rows(pruned: nf.PrunedRows) -> list[list[int]]:
    return [
        list(pruned.indices[pruned.indptr[r] : pruned.indptr[r + 1]])
        for r in range(pruned.shape[0])
    ]


def test_dense_forms_built_in_blocks_are_the_exact_sparse_forms_bit_for_bit(monkeypatch) -> None:
    d = _data()
    monkeypatch.setattr(nf, "_dense_rows", lambda n: 7)  # several blocks, a ragged last one
    np.testing.assert_array_equal(
        nf.dense_jaccard(d["binary"], d["labels"]),
        nf.jaccard_similarity(d["binary"], d["labels"]).toarray(),
    )
    np.testing.assert_array_equal(
        nf.dense_pearson_baseline(d["resid_ui"], d["resid_iu"], SHRINK),
        nf.pearson_baseline_similarity(d["resid_ui"], d["resid_iu"], SHRINK).toarray(),
    )


@pytest.mark.parametrize("m", [1, 3, 10, 1000])
def test_pruned_pearson_keeps_each_item_s_top_m_in_rank_order(m: int) -> None:
    d = _data(seed=1)
    naive = _naive_pearson(d["resid_ui"], d["binary"], SHRINK)
    pruned = nf.pruned_pearson_baseline(d["resid_ui"], d["resid_iu"], SHRINK, m)
    assert _rows(pruned) == _naive_top_m(naive, m)
    rows = np.repeat(np.arange(pruned.shape[0]), np.diff(pruned.indptr))
    np.testing.assert_allclose(pruned.data, naive[rows, pruned.indices], rtol=1e-5, atol=1e-7)
    assert np.all(np.diff(pruned.indptr) <= m)


@pytest.mark.parametrize("m", [1, 4, 1000])
def test_pruned_jaccard_keeps_each_user_s_top_m_inside_the_cluster(m: int) -> None:
    d = _data(seed=2)
    naive = _naive_jaccard(d["binary"], d["labels"])
    pruned = nf.pruned_jaccard(d["binary"], d["labels"], m)
    assert _rows(pruned) == _naive_top_m(naive, m)
    rows = np.repeat(np.arange(pruned.shape[0]), np.diff(pruned.indptr))
    np.testing.assert_allclose(pruned.data, naive[rows, pruned.indices], atol=1e-6)


def _naive_pruned_features(
    pruned: nf.PrunedRows, owner: sp.csr_matrix, a: np.ndarray, b: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The dense form's rule on the kept entries: candidates are row b's columns, a column
    that row a does not keep counts as similarity 0; the k largest (ties: smaller column)."""
    full = pruned.to_csr().toarray()
    sims, vals = np.zeros((len(a), k), np.float32), np.zeros((len(a), k), np.float32)
    for p, (row, col) in enumerate(zip(a, b, strict=True)):
        lo, hi = owner.indptr[col], owner.indptr[col + 1]
        cand = sorted(
            zip(owner.indices[lo:hi], owner.data[lo:hi], strict=True),
            key=lambda cv: (-full[row, cv[0]], cv[0]),
        )[:k]
        for slot, (c, v) in enumerate(cand):
            sims[p, slot] = full[row, c]
            vals[p, slot] = v if full[row, c] != 0 else 0.0
    return sims, vals


@pytest.mark.parametrize("m", [2, 6, 1000])
def test_features_on_pruned_rows_choose_what_a_naive_loop_chooses(m: int) -> None:
    d = _data(seed=3)
    users, items, _ = d["triples"]
    k = 5
    item_rows = nf.pruned_pearson_baseline(d["resid_ui"], d["resid_iu"], SHRINK, m)
    got = nf.top_k_among_rated(nf._Similarity(pruned=item_rows), d["resid_ui"], items, users, k)
    want = _naive_pruned_features(item_rows, d["resid_ui"], items, users, k)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    user_rows = nf.pruned_jaccard(d["binary"], d["labels"], m)
    got = nf.top_k_among_rated(nf._Similarity(pruned=user_rows), d["resid_iu"], users, items, k)
    want = _naive_pruned_features(user_rows, d["resid_iu"], users, items, k)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_unpruned_rows_give_the_dense_features() -> None:
    """With M above every row's length the bounded form is the exact one: the same item
    features (continuous similarities: no ties), the same user similarities and, outside
    ties at the k-th place, the same neighbours' values."""
    d = _data(seed=4)
    users, items, _ = d["triples"]
    k = 5
    dense = nf._Similarity(dense=nf.dense_pearson_baseline(d["resid_ui"], d["resid_iu"], SHRINK))
    pruned = nf._Similarity(
        pruned=nf.pruned_pearson_baseline(d["resid_ui"], d["resid_iu"], SHRINK, 10_000)
    )
    want = nf.top_k_among_rated(dense, d["resid_ui"], items, users, k)
    got = nf.top_k_among_rated(pruned, d["resid_ui"], items, users, k)
    np.testing.assert_allclose(got[0], want[0], atol=1e-7)
    np.testing.assert_array_equal(got[1], want[1])
    dense = nf._Similarity(dense=nf.dense_jaccard(d["binary"], d["labels"]))
    pruned = nf._Similarity(pruned=nf.pruned_jaccard(d["binary"], d["labels"], 10_000))
    want = nf.top_k_among_rated(dense, d["resid_iu"], users, items, k)
    got = nf.top_k_among_rated(pruned, d["resid_iu"], users, items, k)
    np.testing.assert_allclose(got[0], want[0], atol=1e-6)
    for p in range(len(users)):
        for value in np.unique(want[0][p]):
            if value == 0 or np.isclose(value, want[0][p, -1]):
                continue  # ties at the k-th place may take either neighbour
            same = np.isclose(want[0][p], value)
            assert sorted(want[1][p][same]) == sorted(got[1][p][np.isclose(got[0][p], value)])


def test_fixed_neighbours_from_pruned_rows_are_the_dense_ones() -> None:
    d = _data(seed=5)
    n = d["binary"].shape[0]
    dense = nf._Similarity(dense=nf.dense_jaccard(d["binary"], d["labels"]))
    pruned = nf._Similarity(pruned=nf.pruned_jaccard(d["binary"], d["labels"], 8))
    nb_d, s_d = nf._fixed_neighbours(dense, n, 4)
    nb_p, s_p = nf._fixed_neighbours(pruned, n, 4)
    np.testing.assert_allclose(s_p, s_d, atol=1e-6)
    np.testing.assert_array_equal(nb_p >= 0, nb_d >= 0)


def test_the_index_is_dense_up_to_the_limit_and_pruned_above(monkeypatch) -> None:
    users, items, ratings = _data(seed=6)["triples"]
    build = dict(shrink=SHRINK, user_mode="raters", k_user=3, max_similar=4)
    labels = np.zeros(60, np.int64)
    small = nf.NeighbourIndex.build(users, items, ratings, 60, 40, labels, **build)
    assert small.user_sim.dense is not None and small.item_sim.dense is not None
    monkeypatch.setattr(nf, "DENSE_SIMILARITY_LIMIT", 50)  # 60 users above, 40 movies below
    mixed = nf.NeighbourIndex.build(users, items, ratings, 60, 40, labels, **build)
    assert mixed.user_sim.pruned is not None and mixed.item_sim.dense is not None
    assert np.diff(mixed.user_sim.pruned.indptr).max() <= 4
    features = mixed.features(users, items, 3, 3)
    assert np.isfinite(features).all()
