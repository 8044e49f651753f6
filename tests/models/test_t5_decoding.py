"""Decoding paths agree with the teacher-forced forward pass: cache, candidate axis, packing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.models.t5 import Transformer, init_decode_cache, init_params
from tests.t5_configs import tiny_t5_config

CONFIG = tiny_t5_config(
    vocab_size=97, head_dim=8, d_ff=48, num_encoder_layers=2, num_decoder_layers=2
)
ATOL = 1e-5
MODEL = Transformer(CONFIG)
# Jitted apply: one compilation per shape is much cheaper than eager op-by-op dispatch, and
# unoptimized XLA code compiles several times faster for these tiny programs.
FAST_COMPILE = {"xla_backend_optimization_level": 0}
apply = jax.jit(
    MODEL.apply, static_argnames=("method", "mutable", "decode"), compiler_options=FAST_COMPILE
)


@pytest.fixture(scope="module")
def variables():
    return {"params": init_params(CONFIG, jax.random.PRNGKey(0))}


def tokens(rng: np.random.Generator, lengths: list[int], width: int) -> np.ndarray:
    out = np.zeros((len(lengths), width), np.int32)
    for row, length in enumerate(lengths):
        out[row, :length] = rng.integers(2, CONFIG.vocab_size, size=length)
    return out


def shift_right(targets: np.ndarray) -> np.ndarray:
    inputs = np.zeros_like(targets)
    inputs[..., 1:] = targets[..., :-1]
    return inputs


@pytest.mark.parametrize("num_candidates", [None, 2])
def test_cached_step_decoding_equals_teacher_forcing(variables, num_candidates):
    rng = np.random.default_rng(0)
    encoder_tokens = tokens(rng, [9, 4], 9)
    rows = 2 * (num_candidates or 1)
    targets = tokens(rng, [6] * rows, 6)
    # With a candidate axis, row b's candidates all read encoder row b (like beams).
    repeated_encoder = np.repeat(encoder_tokens, num_candidates or 1, axis=0)
    want = apply(variables, repeated_encoder, shift_right(targets))
    if num_candidates:
        targets = targets.reshape(2, num_candidates, 6)
        want = want.reshape(2, num_candidates, 6, -1)
    encoded = apply(variables, encoder_tokens, method=Transformer.encode)
    cross_kv = apply(variables, encoded, method=Transformer.cross_attention_kv)
    cache = init_decode_cache(CONFIG, 2, max_decode_length=6, num_candidates=num_candidates)
    step = jax.jit(
        lambda cache, token: MODEL.apply(
            {**variables, "cache": cache},
            None,
            encoder_tokens,
            token,
            cross_kv=cross_kv,
            decode=True,
            method=Transformer.decode,
            mutable=["cache"],
        ),
        compiler_options=FAST_COMPILE,
    )
    inputs = shift_right(targets)
    for position in range(6):
        logits, mutated = step(cache, inputs[..., position : position + 1])
        cache = mutated["cache"]
        np.testing.assert_allclose(logits[..., 0, :], want[..., position, :], atol=ATOL, rtol=0)


def test_candidate_axis_equals_repeated_inputs(variables):
    rng = np.random.default_rng(1)
    batch, num_candidates = 2, 3
    encoder_tokens = tokens(rng, [7, 3], 7)
    candidates = np.stack([tokens(rng, [4, 2, 5], 5) for _ in range(batch)])  # [B, N, T]
    encoded = apply(variables, encoder_tokens, method=Transformer.encode)
    grouped = apply(
        variables, encoded, encoder_tokens, shift_right(candidates), method=Transformer.decode
    )
    cross_kv = apply(variables, encoded, method=Transformer.cross_attention_kv)
    from_kv = apply(
        variables,
        None,
        encoder_tokens,
        shift_right(candidates),
        cross_kv=cross_kv,
        method=Transformer.decode,
    )
    assert grouped.shape == (batch, num_candidates, 5, CONFIG.vocab_size)
    repeated = apply(
        variables,
        np.repeat(encoder_tokens, num_candidates, axis=0),
        shift_right(candidates.reshape(batch * num_candidates, -1)),
        decoder_target_tokens=candidates.reshape(batch * num_candidates, -1),
    ).reshape(grouped.shape)
    valid = candidates > 0
    np.testing.assert_allclose(grouped[valid], repeated[valid], atol=ATOL, rtol=0)
    np.testing.assert_allclose(from_kv, grouped, atol=ATOL, rtol=0)


def test_packed_segments_equal_separate_examples(variables):
    rng = np.random.default_rng(2)
    inputs_a, inputs_b = tokens(rng, [5], 5)[0], tokens(rng, [4], 4)[0]
    targets_a, targets_b = tokens(rng, [3], 3)[0], tokens(rng, [4], 4)[0]

    def separate(inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return apply(variables, inputs[None], shift_right(targets[None]))[0]

    packed_inputs = np.concatenate([inputs_a, inputs_b, [0]])[None].astype(np.int32)
    packed_targets = np.concatenate([targets_a, targets_b, [0]])[None].astype(np.int32)
    decoder_inputs = np.concatenate([shift_right(targets_a), shift_right(targets_b), [0]])[None]
    logits = apply(
        variables,
        packed_inputs,
        decoder_inputs.astype(np.int32),
        decoder_target_tokens=packed_targets,
        encoder_segment_ids=np.array([[1] * 5 + [2] * 4 + [0]], np.int32),
        decoder_segment_ids=np.array([[1] * 3 + [2] * 4 + [0]], np.int32),
        encoder_positions=np.array([[*range(5), *range(4), 0]], np.int32),
        decoder_positions=np.array([[*range(3), *range(4), 0]], np.int32),
    )[0]
    np.testing.assert_allclose(logits[:3], separate(inputs_a, targets_a), atol=ATOL, rtol=0)
    np.testing.assert_allclose(logits[3:7], separate(inputs_b, targets_b), atol=ATOL, rtol=0)


def test_decode_rejects_missing_encoder_output(variables):
    with pytest.raises(ValueError, match="either `encoded` or `cross_kv`"):
        apply(
            variables,
            None,
            jnp.ones((1, 3), jnp.int32),
            jnp.ones((1, 2), jnp.int32),
            method=Transformer.decode,
        )


def test_bfloat16_activations_track_float32(variables):
    rng = np.random.default_rng(3)
    encoder_tokens = tokens(rng, [6, 3], 6)
    targets = tokens(rng, [4, 2], 4)
    want = apply(variables, encoder_tokens, shift_right(targets))
    bf16 = jax.jit(
        Transformer(CONFIG.replace(dtype="bfloat16")).apply, compiler_options=FAST_COMPILE
    )(variables, encoder_tokens, shift_right(targets))
    assert bf16.dtype == jnp.float32  # logits are always float32
    valid = targets > 0
    scale = float(np.max(np.abs(np.asarray(want)[valid])))
    np.testing.assert_allclose(bf16[valid], want[valid], atol=0.05 * scale, rtol=0)
