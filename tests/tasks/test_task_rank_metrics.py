"""The rank-classification metric fn against hand-computed HR/NDCG/MRR, ties included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from instructrec_jax.tasks.preprocessors import RankTarget, rank_target_postprocessor
from instructrec_jax.tasks.rank_metrics import (
    grouped_ranks,
    rank_classification_metrics,
    rank_metrics_by_template,
)


def _pairs(example_index, scores, positive, template_id="A7"):
    return [
        (RankTarget(example_index, k, k == positive, template_id), score)
        for k, score in enumerate(scores)
    ]


def _crafted():
    # Example 7: positive best -> rank 1.
    # Example 3: positive 0.2 ties one negative and loses to 0.9 -> rank 3 (tie counts against).
    # Example 5: five equal scores -> rank 5 (the positive loses every tie).
    pairs = (
        _pairs(7, [0.1, 0.5, 0.3], positive=1)
        + _pairs(3, [0.2, 0.2, 0.9, 0.1], positive=0)
        + _pairs(5, [1.0] * 5, positive=2, template_id="A8")
    )
    order = np.random.default_rng(0).permutation(len(pairs))  # SeqIO order is arbitrary
    targets = [pairs[i][0] for i in order]
    scores = np.array([pairs[i][1] for i in order])
    return targets, scores


def test_ranks_are_grouped_by_example_and_pessimistic():
    targets, scores = _crafted()
    ranks = dict(zip([7, 3, 5], [1, 3, 5]))
    got = grouped_ranks(targets, scores)
    first_seen = list(dict.fromkeys(t.example_index for t in targets))
    assert list(got) == [ranks[i] for i in first_seen]


def test_metrics_match_hand_computation():
    targets, scores = _crafted()
    got = rank_classification_metrics(targets, scores)
    expected = {
        "HR@1": 1 / 3,
        "HR@3": 2 / 3,
        "HR@5": 1.0,
        "HR@10": 1.0,
        "NDCG@3": (1 + 1 / math.log2(4)) / 3,
        "NDCG@5": (1 + 1 / math.log2(4) + 1 / math.log2(6)) / 3,
        "NDCG@10": (1 + 1 / math.log2(4) + 1 / math.log2(6)) / 3,
        "MRR": (1 + 1 / 3 + 1 / 5) / 3,
    }
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value), name


def test_targets_from_the_postprocessor_and_dicts_work():
    examples = [
        {"example_index": np.int64(0), "candidate_index": np.int64(k), "is_positive": k == 1}
        for k in range(3)
    ]
    targets = [rank_target_postprocessor("title", example=ex, is_target=True) for ex in examples]
    assert all(isinstance(t, RankTarget) for t in targets)
    assert rank_target_postprocessor(0.5, is_target=False) == 0.5
    assert rank_classification_metrics(targets, [0.0, 1.0, 0.5])["HR@1"] == 1.0
    as_dicts = [t._asdict() for t in targets]
    assert rank_classification_metrics(as_dicts, [0.0, -1.0, 0.5])["MRR"] == pytest.approx(1 / 3)


def test_bad_groups_are_rejected():
    two_positives = [RankTarget(0, 0, True), RankTarget(0, 1, True)]
    with pytest.raises(ValueError, match="example 0: expected exactly one positive"):
        rank_classification_metrics(two_positives, [0.1, 0.2])
    with pytest.raises(ValueError, match="2 targets but 3 scores"):
        rank_classification_metrics(two_positives, [0.1, 0.2, 0.3])


def test_metrics_by_template():
    targets, scores = _crafted()
    got = rank_metrics_by_template(targets, scores)
    # A7 holds examples 7 (rank 1) and 3 (rank 3); A8 holds example 5 (rank 5).
    assert got["A7/HR@1"] == pytest.approx(0.5)
    assert got["A7/MRR"] == pytest.approx((1 + 1 / 3) / 2)
    assert got["A7/NDCG@3"] == pytest.approx((1 + 0.5) / 2)
    assert got["A8/HR@5"] == 1.0 and got["A8/HR@3"] == 0.0
    assert got["A8/MRR"] == pytest.approx(0.2)
    assert len(got) == 2 * 8
