"""Pointwise (T0) Yes-vs-No log-odds at the first decoder step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.inference import buckets
from instructrec_jax.inference.pointwise import PointwiseScorer
from tests.inference.conftest import ragged_batch

YES, NO = 17, 42
BUCKETS = buckets.ScoringBuckets(input_lengths=(32,), batch_size=4)


def _reference_log_odds(exact_scorer, params, instructions):
    """log p(Yes) - log p(No), both scored as one-token candidates by the likelihood path."""
    encoder = jnp.asarray(buckets.pad_token_rows(instructions, 32))
    answers = jnp.asarray(np.array([[[YES], [NO]]] * len(instructions), dtype=np.int32))
    log_p = np.asarray(exact_scorer(params, encoder, answers))
    return log_p[:, 0] - log_p[:, 1]


def test_scores_are_the_yes_no_log_odds_of_the_first_step(tiny_model, exact_scorer):
    module, params = tiny_model
    instructions, _ = ragged_batch(5, rows=5, num_candidates=1, max_input=30, max_target=2)
    scores = PointwiseScorer(module, params, YES, NO, BUCKETS).score(instructions)
    assert scores.shape == (5,)  # two batches of 4, the last padded
    expected = _reference_log_odds(exact_scorer, params, instructions)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def test_large_logit_gaps_do_not_saturate_into_ties(tiny_model, exact_scorer):
    # Logits scaled 1000x: |logit(Yes) - logit(No)| is in the hundreds, where a float32
    # p(Yes) rounds to exactly 1.0 (or 0.0) and different instructions would tie.
    module, params = tiny_model
    params = jax.tree_util.tree_map_with_path(
        lambda path, leaf: leaf * 1000.0 if "logits_dense" in jax.tree_util.keystr(path) else leaf,
        params,
    )
    instructions, _ = ragged_batch(6, rows=8, num_candidates=1, max_input=30, max_target=2)
    scores = PointwiseScorer(module, params, YES, NO, BUCKETS).score(instructions)
    expected = _reference_log_odds(exact_scorer, params, instructions)
    assert (np.abs(expected) > 100).all()
    assert len(set(scores.tolist())) == len(instructions)  # no false ties
    np.testing.assert_allclose(scores, expected, rtol=1e-4)


def test_pointwise_rejects_equal_answer_tokens(tiny_model):
    module, params = tiny_model
    with pytest.raises(ValueError, match="differ"):
        PointwiseScorer(module, params, YES, YES)
