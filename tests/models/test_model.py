"""Every public scoring path of EncoderDecoderModel agrees with a plain reference.

The reference is written out here, independent of the project's loss and scoring code: the
module's full forward pass on each (instruction, target) pair, a float64 log-softmax, and a
gather of each real target token's log-probability. The model's ``score_batch``,
``score_candidates`` (encode once), ``score_candidates_by_pairs``, ``loss_fn``, the
ScoringEngine, the score CLI's ``score_examples`` and ``predict_batch``'s answer scores must
all match it to 1e-5 (float32 model).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.inference.buckets import ScoringBuckets, pad_token_rows
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.inference.trie import TitleTrie
from instructrec_jax.models.model import (
    EncoderDecoderModel,
    as_model,
    score_candidates_by_pairs,
    shift_right,
)
from instructrec_jax.models.t5 import init_params
from instructrec_jax.partitioning import Partitioner, make_mesh
from instructrec_jax.score import ScoreExample, score_examples
from tests.inference.conftest import ragged_batch, random_params, small_config

ROWS, CANDIDATES, INPUT_LENGTH, TARGET_LENGTH = 4, 3, 16, 8
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def model_and_params():
    config = small_config()
    return EncoderDecoderModel(config, z_loss=0.0), random_params(config, 7)


@pytest.fixture(scope="module")
def batch():
    """Ragged instructions [ROWS] and ROWS x CANDIDATES target lists (EOS-terminated)."""
    return ragged_batch(
        3, rows=ROWS, num_candidates=CANDIDATES, max_input=INPUT_LENGTH, max_target=TARGET_LENGTH
    )


def reference_log_probs(model, params, instructions, targets) -> np.ndarray:
    """float64 log p(token) [pairs, TARGET_LENGTH, V] at every position of each target,
    from the module's full forward pass (decoder inputs: 0 then the target)."""
    encoder = pad_token_rows(instructions, INPUT_LENGTH)
    padded_targets = pad_token_rows(targets, TARGET_LENGTH)
    decoder_inputs = pad_token_rows([[0, *t[:-1]] for t in targets], TARGET_LENGTH)
    logits = np.asarray(
        jax.jit(model.module.apply)({"params": params}, encoder, decoder_inputs, padded_targets),
        np.float64,
    )
    top = logits.max(axis=-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def reference_scores(model, params, instructions, targets) -> np.ndarray:
    """Sum over each target's tokens (EOS included) of its reference log-probability."""
    log_probs = reference_log_probs(model, params, instructions, targets)
    return np.array(
        [
            sum(log_probs[row, t, token] for t, token in enumerate(target))
            for row, target in enumerate(targets)
        ]
    )


@pytest.fixture(scope="module")
def expected(model_and_params, batch):
    """Reference scores [ROWS, CANDIDATES]."""
    model, params = model_and_params
    instructions, candidates = batch
    pairs = [(i, c) for i, row in zip(instructions, candidates) for c in row]
    flat = reference_scores(model, params, [i for i, _ in pairs], [c for _, c in pairs])
    return flat.reshape(ROWS, CANDIDATES)


def arrays(instructions, candidates):
    encoder = pad_token_rows(instructions, INPUT_LENGTH)
    targets = np.stack([pad_token_rows(row, TARGET_LENGTH) for row in candidates])
    return jnp.asarray(encoder), jnp.asarray(targets)


def test_model_scoring_methods_match_the_reference(model_and_params, batch, expected):
    model, params = model_and_params
    encoder, targets = arrays(*batch)
    fast = jax.jit(model.score_candidates)(params, encoder, targets)
    naive = jax.jit(functools.partial(score_candidates_by_pairs, model))(params, encoder, targets)
    np.testing.assert_allclose(np.asarray(fast), expected, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(np.asarray(naive), expected, rtol=TOLERANCE, atol=TOLERANCE)
    first = {"encoder_input_tokens": encoder, "decoder_target_tokens": targets[:, 0]}
    by_batch = jax.jit(model.score_batch)(params, first)
    np.testing.assert_allclose(np.asarray(by_batch), expected[:, 0], rtol=TOLERANCE, atol=TOLERANCE)
    # The train loss without z-loss is the negated total log-likelihood.
    train_batch = {
        **first,
        "decoder_input_tokens": shift_right(targets[:, 0]),
        "decoder_loss_weights": (targets[:, 0] > 0).astype(jnp.int32),
    }
    loss, sums = jax.jit(model.loss_fn)(params, train_batch)
    np.testing.assert_allclose(float(loss), -expected[:, 0].sum(), rtol=TOLERANCE)
    assert float(sums.weight) == sum(len(row[0]) for row in batch[1])


def test_engine_and_score_cli_match_the_reference(model_and_params, batch, expected):
    model, params = model_and_params
    instructions, candidates = batch
    engine = ScoringEngine(
        model,
        params,
        ScoringBuckets(
            input_lengths=(16,), target_lengths=(8,), candidate_counts=(2,), batch_size=2
        ),
    )
    np.testing.assert_allclose(
        engine.score(instructions, candidates), expected, rtol=TOLERANCE, atol=TOLERANCE
    )
    examples = [
        ScoreExample({}, tuple(i), tuple(c))
        for i, row in zip(instructions, candidates)
        for c in row
    ]
    on_one_device = score_examples(params, model.config, examples, batch_size=4)
    np.testing.assert_allclose(on_one_device, expected.ravel(), rtol=TOLERANCE, atol=TOLERANCE)
    # Sharded over a (4 data, 2 model) mesh, with the logical rules active.
    partitioner = Partitioner(make_mesh(2, devices=jax.devices()[:8]))
    sharded = score_examples(params, model.config, examples, batch_size=4, partitioner=partitioner)
    np.testing.assert_allclose(sharded, expected.ravel(), rtol=TOLERANCE, atol=TOLERANCE)


def test_predict_batch_scores_are_reference_log_likelihoods(model_and_params, batch):
    model, params = model_and_params
    instructions, candidates = batch
    trie = TitleTrie((f"item{n}", c[:-1]) for n, c in enumerate(candidates[0]))
    buckets = ScoringBuckets(input_lengths=(16,), target_lengths=(8,), batch_size=4)
    constrained = model.predict_batch(params, instructions, beam_size=2, trie=trie, buckets=buckets)
    free = model.predict_batch(params, instructions, max_decode_length=4, buckets=buckets)
    for answers in constrained:
        assert 1 <= len(answers) <= 2 and answers[0].score >= answers[-1].score
        assert all(a.tokens[-1] == 1 and a.item_ids for a in answers)
    got = [a.score for answers in constrained for a in answers]
    rows = [r for r, answers in enumerate(constrained) for _ in answers]
    tokens = [list(a.tokens) for answers in constrained for a in answers]
    reference = reference_scores(model, params, [instructions[r] for r in rows], tokens)
    np.testing.assert_allclose(got, reference, rtol=TOLERANCE, atol=TOLERANCE)
    # Greedy without a trie: each step takes the reference's likeliest (non-padding) token.
    for instruction, (answer,) in zip(instructions, free):
        assert 1 <= len(answer.tokens) <= 4
        (log_probs,) = reference_log_probs(model, params, [instruction], [list(answer.tokens)])
        for position, token in enumerate(answer.tokens):
            assert token == 1 + int(np.argmax(log_probs[position, 1:]))
        chosen = sum(log_probs[t, token] for t, token in enumerate(answer.tokens))
        np.testing.assert_allclose(answer.score, chosen, rtol=TOLERANCE, atol=TOLERANCE)


def test_initial_params_and_as_model(model_and_params):
    model, _ = model_and_params
    key = jax.random.PRNGKey(5)
    initial = jax.jit(model.initial_params)(key)
    jax.tree.map(np.testing.assert_array_equal, initial, init_params(model.config, key))
    assert as_model(model) is model
    assert as_model(model.module).config == model.config
    with pytest.raises(TypeError, match="EncoderDecoderModel or a Transformer"):
        as_model("t5")
