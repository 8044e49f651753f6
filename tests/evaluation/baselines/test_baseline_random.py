from __future__ import annotations

import numpy as np
import pytest

from instructrec_jax.data import EvalExample
from instructrec_jax.evaluation.baselines import RandomScorer
from instructrec_jax.evaluation.metrics import ranking_metrics


def _examples(count: int, num_candidates: int = 10) -> list[EvalExample]:
    return [
        EvalExample(
            user_id=f"u{row}",
            split="test",
            history=("h1", "h2"),
            target=f"t{row}",
            negatives=tuple(f"n{row}_{j}" for j in range(num_candidates - 1)),
        )
        for row in range(count)
    ]


def test_shape_and_range():
    scores = RandomScorer(seed=3).score(_examples(7, num_candidates=5))
    assert scores.shape == (7, 5)
    assert ((scores >= 0) & (scores < 1)).all()


def test_same_seed_same_scores_and_independent_of_batching():
    examples = _examples(20)
    first = RandomScorer(seed=1).score(examples)
    np.testing.assert_array_equal(first, RandomScorer(seed=1).score(examples))
    np.testing.assert_array_equal(first[5:9], RandomScorer(seed=1).score(examples[5:9]))
    assert not np.array_equal(first, RandomScorer(seed=2).score(examples))


def test_metrics_match_chance_over_many_examples():
    # 10 candidates, no ties: the positive's rank is uniform on 1..10.
    scores = RandomScorer(seed=0).score(_examples(4000))
    metrics = ranking_metrics(scores, np.zeros(len(scores), dtype=np.int64))
    # Binomial standard deviation of HR@1 over 4000 examples is 0.0047; allow ~4 sigma.
    assert metrics["HR@1"] == pytest.approx(0.1, abs=0.02)
    assert metrics["HR@5"] == pytest.approx(0.5, abs=0.03)
    assert metrics["MRR"] == pytest.approx(np.mean(1 / np.arange(1, 11)), abs=0.02)


def test_mixed_candidate_counts_are_rejected():
    examples = _examples(2) + _examples(1, num_candidates=4)
    with pytest.raises(ValueError, match="example 2"):
        RandomScorer(seed=0).score(examples)


def test_empty_input_gives_empty_matrix():
    assert RandomScorer(seed=0).score([]).shape == (0, 0)
