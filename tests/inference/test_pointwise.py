"""Pointwise (T0) Yes-probability at the first decoder step."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.inference import buckets
from instructrec_jax.inference.pointwise import PointwiseScorer
from tests.inference.conftest import ragged_batch

YES, NO = 17, 42


def test_yes_probability_is_two_way_softmax_of_first_step(tiny_model, exact_scorer):
    module, params = tiny_model
    instructions, _ = ragged_batch(5, rows=5, num_candidates=1, max_input=30, max_target=2)
    scorer = PointwiseScorer(
        module, params, YES, NO, buckets.ScoringBuckets(input_lengths=(32,), batch_size=4)
    )
    probabilities = scorer.score(instructions)  # two batches of 4, the last padded
    assert probabilities.shape == (5,)
    assert np.all((probabilities > 0) & (probabilities < 1))
    # log p(Yes) and log p(No) as one-token candidates scored by the likelihood path.
    encoder = jnp.asarray(buckets.pad_token_rows(instructions, 32))
    answers = jnp.asarray(np.array([[[YES], [NO]]] * 5, dtype=np.int32))
    log_p = np.asarray(exact_scorer(params, encoder, answers))
    expected = 1.0 / (1.0 + np.exp(log_p[:, 1] - log_p[:, 0]))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_pointwise_rejects_equal_answer_tokens(tiny_model):
    module, params = tiny_model
    with pytest.raises(ValueError, match="differ"):
        PointwiseScorer(module, params, YES, YES)
