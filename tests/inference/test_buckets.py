"""Bucket rounding and padding helpers."""

from __future__ import annotations

import numpy as np
import pytest

from instructrec_jax.inference import buckets


def test_round_up_picks_smallest_bucket_then_multiples_of_largest():
    assert buckets.round_up_to_bucket(0, (4, 8), "x") == 4
    assert buckets.round_up_to_bucket(5, (4, 8), "x") == 8
    assert buckets.round_up_to_bucket(8, (4, 8), "x") == 8
    assert buckets.round_up_to_bucket(17, (4, 8), "x") == 24
    with pytest.raises(ValueError, match="increasing"):
        buckets.round_up_to_bucket(1, (8, 4), "x")


def test_scoring_buckets_dimensions():
    spec = buckets.ScoringBuckets(
        input_lengths=(8, 16), target_lengths=(4,), candidate_counts=(2, 5)
    )
    assert spec.input_length(9) == 16
    with pytest.raises(ValueError, match="truncate"):
        spec.input_length(17)
    assert spec.target_length(9) == 12
    assert spec.candidate_count(3) == 5
    assert spec.max_candidates_per_call == 5


def test_padding_helpers():
    rows = buckets.pad_token_rows([[3, 1], [4, 5, 1]], 4)
    np.testing.assert_array_equal(rows, [[3, 1, 0, 0], [4, 5, 1, 0]])
    assert rows.dtype == np.int32
    with pytest.raises(ValueError, match="more than"):
        buckets.pad_token_rows([[1, 2, 3]], 2)
    np.testing.assert_array_equal(
        buckets.pad_array(np.ones((1, 2), np.int32), (2, 3)), [[1, 1, 0], [0, 0, 0]]
    )
    assert buckets.used_length(rows) == 3
    assert buckets.used_length(np.zeros((2, 5))) == 0
