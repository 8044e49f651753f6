"""Ranking metrics against hand-computed values, ties included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from instructrec_jax.evaluation import metrics


def test_ranks_count_ties_against_the_positive():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.2, 0.2], [0.1, 0.3, 0.3]])
    ranks = metrics.positive_ranks(scores, [0, 0, 1])
    # Row 0: best. Row 1: all tied, positive ranked last. Row 2: one tie, one worse.
    np.testing.assert_array_equal(ranks, [1, 3, 2])


def test_metrics_match_hand_computation():
    out = metrics.metrics_from_ranks([1, 3, 2], cutoffs=(1, 3))
    assert out["HR@1"] == pytest.approx(1 / 3)
    assert out["HR@3"] == pytest.approx(1.0)
    ndcg3 = (1.0 + 1 / math.log2(4) + 1 / math.log2(3)) / 3
    assert out["NDCG@3"] == pytest.approx(ndcg3)
    assert out["MRR"] == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    assert "NDCG@1" not in out


def test_rank_beyond_cutoff_scores_zero():
    out = metrics.metrics_from_ranks([6], cutoffs=(5,))
    assert out["HR@5"] == 0.0 and out["NDCG@5"] == 0.0


def test_bad_shapes_and_nan_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        metrics.positive_ranks(np.zeros((2, 3)), [0])
    with pytest.raises(ValueError, match="NaN"):
        metrics.positive_ranks(np.array([[np.nan, 1.0]]), [0])
    with pytest.raises(ValueError, match="no examples"):
        metrics.metrics_from_ranks([])


def test_a_negative_positive_index_is_rejected_not_wrapped():
    with pytest.raises(ValueError, match="positive_index -1 of example 1"):
        metrics.positive_ranks(np.zeros((2, 3)), [0, -1])
    with pytest.raises(ValueError, match="positive_index 3"):
        metrics.positive_ranks(np.zeros((1, 3)), [3])


def test_rank_zero_and_cutoffs_below_one_are_rejected():
    with pytest.raises(ValueError, match="got rank 0"):
        metrics.metrics_from_ranks([1, 0])
    with pytest.raises(ValueError, match="cutoffs must be >= 1, got 0"):
        metrics.metrics_from_ranks([1], cutoffs=(0, 5))


def test_metric_names_are_the_keys_computed():
    assert metrics.metric_names((1, 3)) == ("HR@1", "HR@3", "NDCG@3", "MRR")


def test_per_user_metrics_average_to_the_reported_metrics():
    from instructrec_jax.evaluation.metrics import metrics_from_ranks, per_user_metrics

    per_user = per_user_metrics([1, 3, 10], (1, 3))
    assert per_user["HR@1"].tolist() == [1.0, 0.0, 0.0]
    assert per_user["HR@3"].tolist() == [1.0, 1.0, 0.0]
    assert per_user["NDCG@3"].tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert per_user["MRR"].tolist() == pytest.approx([1.0, 1 / 3, 0.1])
    means = {name: float(values.mean()) for name, values in per_user.items()}
    assert means == metrics_from_ranks([1, 3, 10], (1, 3))
