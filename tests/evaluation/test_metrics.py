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
