"""The original notebook's evaluation, reproduced on purpose to show its error: LEAKY.

Protocol ``notebook-leaky`` (never a default; every output it makes says LEAKY): users are
clustered by Jaccard distance; each user's k "nearest neighbours" inside the cluster include
the user themself (at distance 0, so first), as the notebook's neighbour search did; one row per
rating R_u(i) holds the neighbours' ratings of i, the first of which is R_u(i) itself; the rows
of each cluster are split at random (80/20, seeded) and one network per cluster (by default
the notebook's preset; with another preset, its layers and training on the same raw-rating
rows) is trained on the 80 % and tested on the 20 %. The test rows' target is an
input of the network, so the test error measures copying, not prediction.

:func:`notebook_leaky` returns per-cluster train and test MAE/RMSE; with ``include_self=False``
the same rows and split are built without the user among their neighbours (still a row split,
so a user's other ratings train the network that is tested on them, but no copying).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from clusterrec.data.ratings import Ratings
from clusterrec.errors import ConfigError

__all__ = [
    "PROTOCOL_NOTEBOOK_LEAKY",
    "LeakyResult",
    "notebook_leaky",
]

#: The first words of the protocol sentence, with and without the self-neighbour.
_PROTOCOL_NAMES = {
    True: "notebook-leaky (LEAKY, the original notebook's evaluation, not an estimate of accuracy)",
    False: "notebook rows without self (the notebook's row split, its self-neighbour removed)",
}
PROTOCOL_NOTEBOOK_LEAKY = (
    "{name}: "
    "Jaccard clusters (L = {n_clusters}); each user's {k} neighbours inside the cluster "
    "{self_text}; the rows (one per rating) of each cluster split at random {train:.0%}/"
    "{test:.0%} (seed {seed}); one network per cluster on the neighbours' raw ratings, with "
    "preset {preset}'s layers and training ({epochs} epochs)"
)


@dataclass
class LeakyResult:
    """Per-cluster and overall errors of the notebook's protocol (``leaky`` says whether the
    user was their own neighbour)."""

    clusters: pd.DataFrame
    overall: dict
    protocol: str
    leaky: bool

    def _rows(self) -> list[dict]:
        """The per-cluster rows, then ``"all"`` with the overall figures."""
        return [*self.clusters.to_dict(orient="records"), {"cluster": "all", **self.overall}]

    def as_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "leaky": self.leaky,
            "overall": self.overall,
            "clusters": self.clusters.to_dict(orient="records"),
        }

    def to_frame(self) -> pd.DataFrame:
        """A row per cluster and a last row ``"all"`` (the overall figures), indexed by
        cluster: users, training and test ratings, MAE and RMSE."""
        frame = pd.DataFrame(self._rows(), columns=list(self.clusters.columns))
        frame["cluster"] = frame["cluster"].astype(str)
        return frame.set_index("cluster")

    def _repr_html_(self) -> str:
        """The per-cluster table under its protocol sentence (which says LEAKY when it is)."""
        from clusterrec._html import frame_html

        return frame_html(self.to_frame(), f"Protocol: {self.protocol}")

    def to_markdown(self, digits: int = 4) -> str:
        lines = [f"Protocol: {self.protocol}", ""]
        header = list(self.clusters.columns)
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---:" for _ in header) + "|")
        for row in self._rows():
            cells = [
                f"{row[c]:.{digits}f}" if isinstance(row[c], float) else str(row[c]) for c in header
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def notebook_leaky(
    ratings: Ratings,
    n_clusters: int = 5,
    *,
    n_neighbors: int | None = None,
    test_share: float = 0.2,
    preset: str = "notebook",
    include_self: bool = True,
    labels: np.ndarray | None = None,
    epochs: int | None = None,
    max_rows: int | None = None,
    seed: int = 0,
) -> LeakyResult:
    """The notebook's evaluation (see the module docstring): LEAKY when ``include_self``.

    ``n_neighbors``: k, the user included (default: the preset's, 6 for the notebook's).
    ``labels``: the users' clusters (one label per user, ``0..n_clusters-1``), so that the
    comparison with an honest protocol runs on the same clusters; None clusters the users
    here by Jaccard distance (k-medoids, ``seed``). ``epochs``: instead of the preset's (the
    run passes the epochs its honest networks trained, so both train alike). ``max_rows``: each
    cluster's network trains on at most this many of its training rows and is tested on at
    most this many of its test rows (seeded samples; the features of no other row are built).
    """
    from clusterrec.clustering.entry import cluster_users
    from clusterrec.models.inputs import RatingLookup, rated_pairs
    from clusterrec.models.neighbors import neighbors_in_clusters
    from clusterrec.models.networks import build_network, predict_network, train_network
    from clusterrec.models.presets import preset as preset_config

    if not 0 < test_share < 1:
        raise ConfigError(f"test_share must be between 0 and 1, not {test_share!r}")
    config = preset_config(preset)
    if epochs is not None:
        config = replace(config, epochs=int(epochs))
    k = n_neighbors or config.n_neighbors
    R = ratings.matrix()
    if labels is None:
        labels = np.asarray(cluster_users(ratings, n_clusters, "jaccard", seed=seed).labels)
    labels = _check_labels(labels, R.shape[0], n_clusters)
    others, _ = neighbors_in_clusters(R, labels, k - 1 if include_self else k)
    if include_self:
        neighbors = np.column_stack([np.arange(R.shape[0]), others])
    else:
        neighbors = others
    users, items, truth = rated_pairs(R, np.arange(R.shape[0]))
    lookup = RatingLookup(R)

    def features(rows: np.ndarray) -> np.ndarray:  # only the rows a step needs (memory)
        return lookup(neighbors[users[rows]], items[rows][:, None]).astype(np.float32)

    rng = np.random.default_rng(seed)
    rows = []
    errors = {"train": [], "test": []}
    for cluster in range(n_clusters):
        members = np.flatnonzero(labels[users] == cluster)
        if len(members) < 2:
            continue
        shuffled = rng.permutation(members)
        n_test = max(1, int(round(test_share * len(members))))
        test, train = shuffled[:n_test], shuffled[n_test:]
        if max_rows is not None:  # both already in a seeded random order
            train, test = train[:max_rows], test[:max_rows]
        fitted = train_network(features(train), truth[train], config, seed=seed + cluster)
        network = build_network(neighbors.shape[1], config.hidden)
        network.load_state_dict(fitted.state_dict)
        row = {"cluster": cluster, "users": int(np.count_nonzero(labels == cluster))}
        for name, part in (("train", train), ("test", test)):
            predicted = np.clip(predict_network(network, features(part)), *_scale(ratings))
            error = predicted - truth[part]
            errors[name].append(error)
            row[f"{name}_ratings"] = len(part)
            row[f"{name}_mae"] = float(np.mean(np.abs(error)))
            row[f"{name}_rmse"] = float(np.sqrt(np.mean(error**2)))
        rows.append(row)
    overall = {"users": int(R.shape[0])}
    for name in ("train", "test"):
        error = np.concatenate(errors[name])
        overall[f"{name}_ratings"] = len(error)
        overall[f"{name}_mae"] = float(np.mean(np.abs(error)))
        overall[f"{name}_rmse"] = float(np.sqrt(np.mean(error**2)))
    self_text = (
        "include the user themself (first, at distance 0): the target is an input"
        if include_self
        else "exclude the user (no copying; still a row split)"
    )
    protocol = PROTOCOL_NOTEBOOK_LEAKY.format(
        name=_PROTOCOL_NAMES[include_self],
        n_clusters=n_clusters,
        k=k,
        self_text=self_text,
        train=1 - test_share,
        test=test_share,
        seed=seed,
        preset=preset,
        epochs=config.epochs,
    )
    if max_rows is not None:
        protocol += f"; each network trained and tested on at most {max_rows:,} rows (seeded)"
    return LeakyResult(pd.DataFrame(rows), overall, protocol, leaky=include_self)


def _check_labels(labels: np.ndarray, n_users: int, n_clusters: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n_users,):
        raise ConfigError(
            f"labels: expected one cluster per user ({n_users:,}), got {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_clusters):
        raise ConfigError(f"labels: clusters must be 0..{n_clusters - 1}")
    return labels.astype(np.int64, copy=False)


def _scale(ratings: Ratings) -> tuple[float, float]:
    return float(ratings.scale.low), float(ratings.scale.high)
