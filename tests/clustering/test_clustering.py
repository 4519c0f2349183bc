"""Clustering users: masked k-means against a naive loop, k-medoids, choosing L, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from clusterrec.cli import main
from clusterrec.clustering.centroids import distances_to_centers
from clusterrec.clustering.embedding import classical_mds
from clusterrec.clustering.entry import cluster_users, resolve_algorithm
from clusterrec.clustering.kmeans import MaskedKMeans, _reseed_empty, masked_kmeans
from clusterrec.clustering.linkage import LinkageClustering, linkage_precomputed
from clusterrec.clustering.medoids import KMedoidsClustering, kmedoids_precomputed, kmedoids_sampled
from clusterrec.clustering.sweep import silhouette, sweep_n_clusters
from clusterrec.distances.engine import MEASURED_SHRINKAGE
from clusterrec.distances.pairwise import pairwise_distances
from clusterrec.errors import ConfigError, MemoryBudgetError
from clusterrec.evaluation.evidence import metric_evidence


def planted_ratings(
    per_group: int = 30, groups: int = 3, items: int = 90, density: float = 0.5, seed: int = 0
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Users in ``groups`` taste groups: each group rates its own block of items 9, others 2
    (plus noise); each user rates a random ``density`` share of the items."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(groups), per_group)
    block = np.arange(items) * groups // items
    profile = np.where(block[None, :] == np.arange(groups)[:, None], 9.0, 2.0)
    values = np.clip(np.rint(profile[truth] + rng.normal(0, 1, (len(truth), items))), 1, 10)
    rated = rng.random(values.shape) < density
    return sp.csr_matrix(values * rated), truth


@pytest.fixture(scope="module")
def planted() -> tuple[sp.csr_matrix, np.ndarray]:
    return planted_ratings()


# -- masked k-means -------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "euclidean_rms"])
def test_masked_kmeans_recovers_planted_groups(planted, metric: str) -> None:
    R, truth = planted
    result = masked_kmeans(R, 3, metric, seed=1)
    assert adjusted_rand_score(truth, result.labels) >= 0.9
    assert result.converged and result.n_iter >= 2
    assert sorted(result.sizes) == [30, 30, 30]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_same_seed_same_labels(planted, metric: str) -> None:
    R, _ = planted
    R = R.copy()
    R.data = R.data + np.random.default_rng(5).integers(0, 3, R.nnz)  # blur the groups
    first = masked_kmeans(R, 4, metric, seed=7)
    second = masked_kmeans(R, 4, metric, seed=7)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert first.objective == second.objective
    assert (first.centers != second.centers).nnz == 0


@pytest.mark.parametrize("leave_one_out", [True, False])
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "euclidean_rms"])
def test_assignment_equals_naive_masked_distances(
    planted, metric: str, leave_one_out: bool
) -> None:
    """Final labels = nearest centroid by a loop over co-rated items; centroids = means.

    With leave-one-out, a user's own centroid is the mean over the *other* members.
    """
    R, _ = planted
    R = R[::3]  # 30 users are enough for the loops
    result = masked_kmeans(R, 3, metric, n_init=1, seed=3, leave_one_out=leave_one_out)
    rows = naive.dense_rows(R)
    centers = result.centers.toarray()  # centroid ratings are means of ratings >= 1: 0 = absent
    for cluster in range(3):
        np.testing.assert_allclose(centers[cluster], rated_mean(rows[result.labels == cluster]))
    fallback = naive.largest_value(rows, metric)
    expected = np.empty((len(rows), 3))
    for u, user in enumerate(rows):
        for cluster in range(3):
            center = centers[cluster]
            if leave_one_out and cluster == result.labels[u]:
                others = [v for v in range(len(rows)) if v != u and result.labels[v] == cluster]
                center = rated_mean(rows[others])
            expected[u, cluster] = _or(naive.METRICS[metric](user, center), fallback)
    np.testing.assert_array_equal(result.labels, expected.argmin(axis=1))
    cost = expected[np.arange(len(rows)), result.labels]
    cost = cost if metric == "cosine" else cost**2
    assert result.objective == pytest.approx(cost.sum())
    if not leave_one_out:
        plain = distances_to_centers(R, result.centers, metric)
        np.testing.assert_allclose(plain, expected, atol=1e-9)


def rated_mean(members: np.ndarray) -> np.ndarray:
    """Per item, the mean rating over the members who rated it (0 where none did)."""
    rated = (members != 0).sum(axis=0)
    total = members.sum(axis=0)
    return np.divide(total, rated, out=np.zeros(members.shape[1]), where=rated > 0)


def _or(value: float | None, fallback: float) -> float:
    return fallback if value is None else value


def test_user_sharing_no_movie_with_any_centroid_goes_to_the_widest_centroid(planted) -> None:
    R, _ = planted
    model = MaskedKMeans(3, "euclidean", seed=0).fit(R)
    widest = int(np.argmax(np.diff(model.cluster_centers_.indptr)))
    stranger = sp.csr_matrix((1, R.shape[1]))  # rated nothing: no movie in common with any
    assert model.predict(stranger)[0] == widest
    distances = model.transform(stranger)
    assert np.isfinite(distances).all() and np.allclose(distances, model._fallback_)


def test_no_nan_anywhere_with_isolated_and_empty_users(planted) -> None:
    R, _ = planted
    extra = sp.csr_matrix(
        ([7.0, 3.0], ([0, 1], [R.shape[1], R.shape[1] + 1])), shape=(3, R.shape[1] + 2)
    )  # two users rating items nobody else rated, one user with no rating
    R = sp.vstack([sp.hstack([R, sp.csr_matrix((R.shape[0], 2))]), extra], format="csr")
    for metric in ("euclidean", "cosine", "euclidean_rms"):
        result = masked_kmeans(R, 4, metric, seed=0)
        assert np.isfinite(result.objective) and np.isfinite(result.centers.data).all()
        assert result.labels.min() >= 0 and result.labels.max() < 4
        assert np.isfinite(distances_to_centers(R, result.centers, metric)).all()
        sampled = kmedoids_sampled(R, 3, metric, sample_size=40, seed=0)
        assert np.isfinite(sampled.objective) and (sampled.labels >= 0).all()
    sampled = kmedoids_sampled(R, 3, "jaccard", sample_size=40, seed=0)
    assert np.isfinite(sampled.objective)


def test_empty_cluster_takes_the_costlier_half_of_the_largest_cluster() -> None:
    labels = np.array([0, 0, 0, 0, 1])
    costs = np.array([1.0, 9.0, 2.0, 8.0, 50.0])  # user 4 is costly but in the smaller cluster
    relabelled = _reseed_empty(labels, costs, 3)
    np.testing.assert_array_equal(relabelled, [0, 2, 0, 2, 1])
    np.testing.assert_array_equal(_reseed_empty(labels, costs, 2), labels)


def test_kmeans_refuses_jaccard_and_unknown_names() -> None:
    with pytest.raises(ConfigError, match="kmedoids"):
        resolve_algorithm("jaccard", "kmeans")
    with pytest.raises(ConfigError, match="co-rated"):
        masked_kmeans(sp.csr_matrix(np.eye(3)), 2, "jaccard")
    with pytest.raises(ConfigError, match="accepted values"):
        resolve_algorithm("manhattan", None)
    with pytest.raises(ConfigError, match="at most 3 clusters"):
        masked_kmeans(sp.csr_matrix(np.eye(3)), 4)
    assert resolve_algorithm("jaccard", None) == "kmedoids"
    assert resolve_algorithm("cosine", None) == "kmeans"


# -- k-medoids and average linkage ----------------------------------------------------------------


def line_distances() -> np.ndarray:
    x = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0, 13.0])
    return np.abs(x[:, None] - x[None, :]).astype(np.float32)


def test_kmedoids_on_hand_made_matrix_finds_the_known_medoids() -> None:
    D = line_distances()
    for init in ("build", "random"):
        result = kmedoids_precomputed(D, 2, init=init, n_init=3, seed=0)
        assert sorted(result.medoids.tolist()) in ([1, 4], [1, 5])
        assert result.objective == pytest.approx(2 + 4)
        assert (result.labels[:3] != result.labels[3:, None]).all()


def test_average_linkage_and_its_medoid_objective() -> None:
    result = linkage_precomputed(line_distances(), 2)
    assert sorted(result.sizes.tolist()) == [3, 4]
    assert result.objective == pytest.approx(6)
    assert result.medoids[result.labels[0]] == 1


def test_sampled_kmedoids_assigns_everyone_to_the_nearest_medoid(planted) -> None:
    R, truth = planted
    beta = MEASURED_SHRINKAGE  # as the run clusters; user-medoid distances are user pairs
    result = kmedoids_sampled(R, 3, "euclidean", sample_size=45, shrinkage=beta, seed=2)
    assert len(result.sample) == 45 and len(result.labels) == R.shape[0]
    distances = distances_to_centers(R, R[result.medoids], "euclidean", shrinkage=beta)
    np.testing.assert_array_equal(result.labels, distances.argmin(axis=1))
    assert adjusted_rand_score(truth, result.labels) >= 0.9
    model = KMedoidsClustering(
        3, "euclidean", shrinkage=beta, memory_budget=0, sample_size=45, seed=2
    ).fit(R)
    np.testing.assert_array_equal(model.labels_, result.labels)
    literal = kmedoids_sampled(R, 3, "euclidean", sample_size=45, seed=2)  # default: beta = 0
    plain = distances_to_centers(R, R[literal.medoids], "euclidean")
    np.testing.assert_array_equal(literal.labels, plain.argmin(axis=1))


def test_estimators_follow_the_scikit_learn_contract(planted) -> None:
    R, truth = planted
    for model in (
        MaskedKMeans(3, "cosine"),
        KMedoidsClustering(3, "euclidean"),
        LinkageClustering(3, "cosine"),
    ):
        params = model.get_params()
        assert model.fit(R) is model
        assert clone(model).get_params() == params
        assert model.labels_.shape == (R.shape[0],)
        assert np.isfinite(model.objective_) and model.inertia_ == model.objective_
        assert adjusted_rand_score(truth, model.labels_) >= 0.9
    assert MaskedKMeans(3).fit(R).cluster_centers_.shape == (3, R.shape[1])
    D = pairwise_distances(R, "jaccard")
    assert KMedoidsClustering(2, "precomputed").fit(D).medoid_indices_.shape == (2,)


# -- choosing L, embedding, evidence --------------------------------------------------------------


def test_silhouette_beats_random_labelling_and_suggests_the_planted_L(planted) -> None:
    R, truth = planted
    sweep = sweep_n_clusters(R, "cosine", range(2, 6), seed=0)
    assert sweep.suggested == 3
    random_labels = np.random.default_rng(0).integers(3, size=len(truth))
    assert sweep.point(3).silhouette > silhouette(sweep.distances, random_labels) + 0.3
    jaccard = sweep_n_clusters(R, "jaccard", [2, 3], seed=0)
    assert jaccard.algorithm == "kmedoids" and len(jaccard.points) == 2


def test_sweep_clustering_does_not_depend_on_the_range(planted) -> None:
    R, _ = planted
    alone = sweep_n_clusters(R, "euclidean", [4], seed=3).point(4).clustering.labels
    swept = sweep_n_clusters(R, "euclidean", [2, 3, 4], seed=3).point(4).clustering.labels
    np.testing.assert_array_equal(alone, swept)


def test_classical_mds_recovers_a_euclidean_configuration() -> None:
    points = np.random.default_rng(0).normal(size=(40, 2)) * [3.0, 1.0]
    D = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    coordinates, shares = classical_mds(D)
    recovered = np.sqrt(((coordinates[:, None] - coordinates[None]) ** 2).sum(-1))
    np.testing.assert_allclose(recovered, D, atol=1e-8)
    assert shares.sum() == pytest.approx(1.0) and shares[0] > shares[1]


def test_metric_evidence_on_a_hand_made_example() -> None:
    R = sp.csr_matrix(
        np.array([[5, 4, 0, 0], [5, 4, 1, 0], [0, 0, 0, 3], [0, 0, 2, 3]], dtype=float)
    )  # pairs without a co-rated movie: (0,2), (0,3), (1,2)
    labels = np.array([0, 0, 1, 1])
    distances = {m: pairwise_distances(R, m) for m in ("euclidean", "cosine", "jaccard")}
    evidence = metric_evidence(R, dict.fromkeys(distances, labels), distances)
    rows = {row["metric"]: row for row in evidence["metrics"]}
    assert rows["euclidean"]["pairs"] == 6
    assert rows["euclidean"]["no_co_rated_share"] == pytest.approx(3 / 6)  # (0,2) (0,3) (1,2)
    assert rows["euclidean"]["undefined_share"] == pytest.approx(3 / 6)
    assert rows["jaccard"]["undefined_share"] == 0
    assert rows["jaccard"]["at_max_share"] == pytest.approx(3 / 6)
    assert rows["cosine"]["size_entropy"] == pytest.approx(1.0)
    assert rows["cosine"]["largest_to_smallest"] == 1
    assert all(row["ari"] == pytest.approx(1.0) for row in evidence["agreement"])
    assert len(evidence["agreement"]) == 3
    assert not any(
        isinstance(v, float) and np.isnan(v) for row in evidence["metrics"] for v in row.values()
    )


def test_cluster_users_picks_the_sampled_path_beyond_the_budget(planted) -> None:
    R, _ = planted
    result = cluster_users(R, 3, "jaccard", memory_budget=1000, sample_size=50)
    assert result.sample is not None and len(result.labels) == R.shape[0]
    with pytest.raises(ConfigError):
        cluster_users(R, 3, "jaccard", "kmeans")
    with pytest.raises(MemoryBudgetError, match="kmedoids"):
        cluster_users(R, 3, "jaccard", "agglomerative", memory_budget=1000)


@pytest.mark.parametrize("metric", ["jaccard", "cosine"])
def test_sweep_beyond_the_budget_works_on_one_sample(planted, metric: str) -> None:
    R, truth = planted
    sweep = sweep_n_clusters(R, metric, [2, 3], memory_budget=1000, sample_size=50, seed=1)
    assert sweep.users is not None and len(sweep.users) == 50
    assert sweep.distances.shape == (50, 50)
    for point in sweep.points:
        assert len(point.clustering.labels) == R.shape[0]
        assert point.silhouette is not None
    if metric == "jaccard":
        assert all(np.isin(p.clustering.medoids, sweep.users).all() for p in sweep.points)
    else:
        assert adjusted_rand_score(truth, sweep.point(3).clustering.labels) >= 0.9


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_npy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from clusterrec.data.synthetic import generate_records, write_dataset_npy

    return write_dataset_npy(tmp_path_factory.mktemp("data") / "Dataset.npy", generate_records())


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def test_cli_cluster_json_shape_and_files(tiny_npy: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["cluster", str(tiny_npy), "--metric", "cosine,jaccard", "--clusters", "2-3"]
    argv += ["--min-ratings", "5", "--max-ratings", "60", "--out", str(out), "--json"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [run["metric"] for run in payload["runs"]] == ["cosine", "jaccard"]
    assert [run["algorithm"] for run in payload["runs"]] == ["kmeans", "kmedoids"]
    n_users = payload["input"]["users"]
    for run in payload["runs"]:
        assert run["suggested_L"] in (2, 3)
        assert [c["L"] for c in run["clusters"]] == [2, 3]
        for item in run["clusters"]:
            assert set(item) >= {"L", "sizes", "objective", "silhouette", "labels"}
            assert sum(item["sizes"]) == n_users and len(item["sizes"]) == item["L"]
            with open(item["labels"], newline="") as handle:
                rows = list(csv.reader(handle))
            assert rows[0] == ["user", "cluster"] and len(rows) == n_users + 1
            assert rows[1][0].startswith("ur")
    assert Path(payload["figures"]["choose_L"]).is_file()
    assert Path(payload["figures"]["embedding"]).is_file()
    assert Path(payload["evidence"]["table"]).is_file()
    assert {row["metric"] for row in payload["evidence"]["metrics"]} == {"cosine", "jaccard"}
    assert json.loads((out / "cluster.json").read_text())["runs"] == payload["runs"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--metric", "jaccard", "--algorithm", "kmeans", "--clusters", "3"], "k-means cannot"),
        (["--metric", "euclidean", "--clusters", "5-2"], "--clusters"),
        (["--metric", "hamming", "--clusters", "3"], "--metric"),
        (["--metric", "cosine", "--clusters", "100000"], "only"),
    ],
)
def test_cli_cluster_errors_are_one_line_and_exit_2(
    tiny_npy: Path, tmp_path: Path, capsys, options: list[str], message: str
) -> None:
    argv = ["cluster", str(tiny_npy), *options, "--min-ratings", "1"]
    argv += ["--out", str(tmp_path / "out")]
    assert exit_status(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("clusterrec: error:") and message in error
    assert len(error.splitlines()) == 1
