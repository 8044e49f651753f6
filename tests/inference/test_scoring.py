"""Encode-once candidate scoring equals the naive per-pair full forward pass."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.inference import buckets
from instructrec_jax.models.model import EncoderDecoderModel, score_candidates_by_pairs
from tests.inference.conftest import ragged_batch


def _arrays(instructions, candidates, input_length, target_length):
    encoder = buckets.pad_token_rows(instructions, input_length)
    targets = np.stack([buckets.pad_token_rows(row, target_length) for row in candidates])
    return jnp.asarray(encoder), jnp.asarray(targets)


def _manual_log_likelihoods(module, params, instructions, candidates, input_length, length):
    """Per pair, the sum of log p(token) written out token by token from full-model logits."""
    pairs = [(i, c) for i, row in zip(instructions, candidates) for c in row]
    encoder = buckets.pad_token_rows([i for i, _ in pairs], input_length)
    targets = buckets.pad_token_rows([c for _, c in pairs], length)
    decoder_inputs = buckets.pad_token_rows([[0, *c[:-1]] for _, c in pairs], length)
    logits = jax.jit(module.apply)(
        {"params": params}, jnp.asarray(encoder), jnp.asarray(decoder_inputs), jnp.asarray(targets)
    )
    log_probs = jax.nn.log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    sums = [
        float(sum(log_probs[p, t, token] for t, token in enumerate(target)))
        for p, (_, target) in enumerate(pairs)
    ]
    return np.array(sums).reshape(len(instructions), -1)


def test_fast_path_equals_naive_and_token_by_token_sum(tiny_model, exact_scorer):
    module, params = tiny_model
    instructions, candidates = ragged_batch(0, rows=3, num_candidates=5, max_input=20, max_target=7)
    encoder, targets = _arrays(instructions, candidates, 24, 8)
    fast = np.asarray(exact_scorer(params, encoder, targets))
    naive = jax.jit(
        functools.partial(score_candidates_by_pairs, EncoderDecoderModel(module.config))
    )(params, encoder, targets)
    assert fast.shape == (3, 5)
    assert np.all(fast < 0)
    np.testing.assert_allclose(fast, np.asarray(naive), rtol=1e-5, atol=1e-5)
    # EOS included, padding excluded: the explicit per-token sum over each real target.
    manual = _manual_log_likelihoods(module, params, instructions, candidates, 24, 8)
    np.testing.assert_allclose(fast, manual, rtol=1e-5, atol=1e-4)


def test_length_normalization_divides_by_token_count(tiny_model, exact_scorer):
    module, params = tiny_model
    instructions, candidates = ragged_batch(0, rows=3, num_candidates=5, max_input=20, max_target=7)
    encoder, targets = _arrays(instructions, candidates, 24, 8)
    summed = np.asarray(exact_scorer(params, encoder, targets))
    normalized = jax.jit(
        functools.partial(
            EncoderDecoderModel(module.config).score_candidates, length_normalize=True
        )
    )(params, encoder, targets)
    lengths = np.array([[len(c) for c in row] for row in candidates])
    np.testing.assert_allclose(np.asarray(normalized), summed / lengths, rtol=1e-6)
