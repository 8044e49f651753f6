from __future__ import annotations

import numpy as np
import pytest
from baseline_datasets import dataset_from_sequences

from instructrec_jax.data import EvalExample
from instructrec_jax.evaluation.baselines import PopularityScorer


@pytest.fixture(scope="module")
def crafted_dataset():
    # "hot" is in every training part; "only_test" occurs only as a test target and
    # "only_valid" only as a validation target; "warm" in two training parts.
    sequences = {
        "u1": ["hot", "warm", "a", "only_valid", "only_test"],
        "u2": ["warm", "hot", "b", "c", "only_test"],
        "u3": ["hot", "d", "e", "f", "only_test"],
        "u4": ["hot", "g", "h", "only_valid", "i"],
    }
    sequences["u5"] = [f"filler{k}" for k in range(12)]
    return dataset_from_sequences(sequences)


def test_counts_come_from_training_parts_only(crafted_dataset):
    scorer = PopularityScorer.fit(crafted_dataset)
    assert scorer.counts["hot"] == 4
    assert scorer.counts["warm"] == 2
    assert scorer.counts["only_test"] == 0
    assert scorer.counts["only_valid"] == 0
    assert scorer.counts["i"] == 0  # u4's test target


def test_test_target_seen_only_as_target_ranks_below_trained_items(crafted_dataset):
    scorer = PopularityScorer.fit(crafted_dataset, break_ties=False)
    example = next(e for e in crafted_dataset.test if e.user_id == "u1")
    assert example.target == "only_test"
    scores = scorer.score([example])
    assert scores[0, 0] == 0.0
    candidate_counts = [scorer.counts[item] for item in example.candidates]
    np.testing.assert_array_equal(scores[0], candidate_counts)


def test_ranks_by_count_and_breaks_ties_deterministically():
    counts = {"a": 5, "b": 3, "c": 3, "d": 0, "e": 0}
    example = EvalExample("u", "test", ("x",), "b", ("a", "c", "d", "e"))
    scores = PopularityScorer(counts, seed=7).score([example])[0]
    order = [example.candidates[j] for j in np.argsort(-scores)]
    assert order[0] == "a"
    assert set(order[1:3]) == {"b", "c"}
    assert set(order[3:]) == {"d", "e"}
    assert len(set(scores.tolist())) == 5  # jitter removed every tie
    np.testing.assert_array_equal(scores, PopularityScorer(counts, seed=7).score([example])[0])
    np.testing.assert_array_equal(np.floor(scores), [3, 5, 3, 0, 0])


def test_tie_breaking_is_fair_over_many_examples():
    counts = {f"i{k}": 1 for k in range(10)}
    examples = [
        EvalExample(f"u{row}", "test", (), "i0", tuple(f"i{k}" for k in range(1, 10)))
        for row in range(2000)
    ]
    scores = PopularityScorer(counts, seed=0).score(examples)
    top1 = (scores.argmax(axis=1) == 0).mean()
    assert top1 == pytest.approx(0.1, abs=0.03)


def test_negative_counts_rejected():
    with pytest.raises(ValueError, match="negative"):
        PopularityScorer({"a": -1})
