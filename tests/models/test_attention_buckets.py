"""Relative position buckets (T5: exact near, logarithmic far, capped) and mask biases."""

from __future__ import annotations

import math

import numpy as np

from instructrec_jax.models.attention import mask_to_bias, relative_position_bucket


def reference_bucket(
    relative: int, bidirectional: bool, num_buckets: int, max_distance: int
) -> int:
    """Direct scalar transcription of the T5 bucketing rule, in float64."""
    bucket = 0
    if bidirectional:
        num_buckets //= 2
        if relative > 0:
            bucket += num_buckets
        distance = abs(relative)
    else:
        distance = max(-relative, 0)
    max_exact = num_buckets // 2
    if distance < max_exact:
        return bucket + distance
    scaled = math.log(distance / max_exact) / math.log(max_distance / max_exact)
    return bucket + min(num_buckets - 1, max_exact + int(scaled * (num_buckets - max_exact)))


def test_buckets_match_the_rule_for_all_distances_up_to_300():
    relative = np.arange(-300, 301)
    for bidirectional in (True, False):
        got = np.asarray(relative_position_bucket(relative, bidirectional, 32, 128))
        want = [reference_bucket(int(r), bidirectional, 32, 128) for r in relative]
        np.testing.assert_array_equal(got, want)


def test_bucket_landmarks():
    def bucket(relative: int, bidirectional: bool) -> int:
        return int(relative_position_bucket(np.array(relative), bidirectional, 32, 128))

    # Bidirectional: keys before the query use buckets 0-15, keys after it 16-31.
    assert [bucket(r, True) for r in (0, -1, -7, 1, 7)] == [0, 1, 7, 17, 23]
    assert bucket(-1000, True) == 15 and bucket(1000, True) == 31
    # Causal: future keys share bucket 0; the past uses all 32 buckets.
    assert [bucket(r, False) for r in (5, 0, -1, -15)] == [0, 0, 1, 15]
    assert bucket(-1000, False) == 31


def test_mask_to_bias():
    bias = np.asarray(mask_to_bias(np.array([True, False])))
    assert bias.dtype == np.float32
    assert bias[0] == 0.0 and bias[1] <= -1e9
