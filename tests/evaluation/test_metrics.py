"""Error and top-N metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clusterrec.data.ratings import RatingScale
from clusterrec.errors import ConfigError, DataError
from clusterrec.evaluation.metrics import (
    default_relevance_threshold,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
    top_n_scores,
)


def test_error_metrics_match_hand_computed_values():
    y, y_hat = [1, 2, 3], [2, 2, 5]
    assert mae(y, y_hat) == pytest.approx(1.0)
    assert rmse(y, y_hat) == pytest.approx(math.sqrt(5 / 3))
    with pytest.raises(ConfigError):
        rmse([1, 2], [1])
    with pytest.raises(DataError):
        mae([], [])


def test_top_n_metrics_on_a_tiny_ranking():
    ranking = [[10, 20, 30, 40], [7, 8], [1, 2, 3]]
    relevant = [{20, 40, 99}, {8}, set()]  # the third user has nothing relevant: left out
    scores = top_n_scores(ranking, relevant, k=3)
    assert scores.n_users == 2
    # user 1: hits at rank 2 only; 3 relevant items. user 2: hit at rank 2 of a 2-item list.
    p1, p2 = 1 / 3, 1 / 3
    r1, r2 = 1 / 3, 1.0
    ndcg1 = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    ndcg2 = (1 / math.log2(3)) / 1.0
    assert scores.precision == pytest.approx((p1 + p2) / 2)
    assert scores.recall == pytest.approx((r1 + r2) / 2)
    assert scores.ndcg == pytest.approx((ndcg1 + ndcg2) / 2)
    assert precision_at_k(ranking, relevant, 3) == pytest.approx(scores.precision)
    assert recall_at_k(ranking, relevant, 3) == pytest.approx(scores.recall)
    assert ndcg_at_k(ranking, relevant, 3) == pytest.approx(scores.ndcg)


def test_a_perfect_ranking_scores_one_and_no_relevant_user_gives_nan():
    assert ndcg_at_k(np.array([[3, 1, 2]]), [[1, 2, 3]], k=3) == pytest.approx(1.0)
    assert recall_at_k([[5, 6]], [[6, 5]], k=2) == pytest.approx(1.0)
    empty = top_n_scores([[1, 2]], [[]], k=2)
    assert empty.n_users == 0 and math.isnan(empty.ndcg)
    with pytest.raises(ConfigError):
        top_n_scores([[1]], [[1], [2]], k=1)


def test_default_relevance_threshold_is_80_percent_of_the_top():
    assert default_relevance_threshold(RatingScale(1, 5, 1)) == pytest.approx(4)
    assert default_relevance_threshold(RatingScale(1, 10, 1)) == pytest.approx(8)


# -- MAP, MRR, hit rate; coverage, novelty, diversity (formulas in docs/evaluation.md) ----------


def test_map_mrr_and_hit_rate_on_the_tiny_ranking():
    ranking = [[10, 20, 30, 40], [7, 8], [1, 2, 3]]
    relevant = [{20, 40, 99}, {8}, set()]
    scores = top_n_scores(ranking, relevant, k=3)
    # user 1: one hit at rank 2, AP = (1/2) / min(3 relevant, k=3) = 1/6; user 2: AP = (1/2) / 1
    assert scores.map == pytest.approx((1 / 6 + 1 / 2) / 2)
    assert scores.mrr == pytest.approx(0.5)  # both first hits at rank 2
    assert scores.hit_rate == pytest.approx(1.0)
    missed = top_n_scores([[1, 2], [3, 4]], [{2}, {9}], k=2)
    assert (missed.map, missed.mrr, missed.hit_rate) == pytest.approx((0.25, 0.25, 0.5))
    perfect = top_n_scores(np.array([[3, 1, 2]]), [[1, 2, 3]], k=3)
    assert (perfect.map, perfect.mrr, perfect.hit_rate) == pytest.approx((1, 1, 1))


def test_coverage_novelty_and_diversity_by_hand():
    import scipy.sparse as sp

    from clusterrec.evaluation.metrics import list_measures

    # 3 users x 4 items: u0 rates 0, 1; u1 rates 0, 1, 2; u2 rates 0, 3.
    rated = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 1]]))
    ranking = np.array([[0, 1], [2, 3], [1, -1]])
    coverage, novelty, diversity = list_measures(ranking, rated)
    assert coverage == pytest.approx(4 / 4)
    # popularity ranks: item 0 (3 raters) 1, item 1 (2) 2, items 2 and 3 (1 each) tied at 3
    assert novelty == pytest.approx((1 + 2 + 3 + 3 + 2) / 5)
    # list 0: 1 - cos({u0,u1,u2}, {u0,u1}) = 1 - 2/sqrt(6); list 1: disjoint raters, 1;
    # list 2 has one item and is left out
    assert diversity == pytest.approx(((1 - 2 / math.sqrt(6)) + 1) / 2)
    assert list_measures(ranking, rated, k=1)[:2] == pytest.approx((3 / 4, (1 + 3 + 2) / 3))
