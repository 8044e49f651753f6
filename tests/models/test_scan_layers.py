"""Scanned layer stacks compute what the unrolled stacks compute, on every model path.

One float32 model, its parameters in both layouts (``stack_layers``), and each method of
``Transformer`` compared to 1e-5: the teacher-forced forward pass (packed), training loss
and gradients (with and without remat), encode, cross keys/values, decoding from them with a
candidate axis, and cached step-by-step decoding.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.checkpoints.layer_stacking import stack_layers, unstack_layers
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.losses import sequence_log_likelihood
from instructrec_jax.models.t5 import Transformer, abstract_params, init_decode_cache, init_params
from tests.t5_configs import tiny_t5_config

UNROLLED = tiny_t5_config(vocab_size=61, head_dim=8, d_ff=48, num_encoder_layers=3)
SCANNED = UNROLLED.replace(scan_layers=True)
ATOL = 1e-5
FAST_COMPILE = {"xla_backend_optimization_level": 0}
RNG = np.random.default_rng(0)
ENCODER_TOKENS = np.asarray(RNG.integers(1, 61, size=(2, 7)), np.int32)
ENCODER_TOKENS[1, 5:] = 0
TARGETS = np.asarray(RNG.integers(1, 61, size=(2, 5)), np.int32)
TARGETS[0, 4:] = 0
DECODER_INPUTS = np.pad(TARGETS[:, :-1], ((0, 0), (1, 0)))


def _apply(config: T5Config, params: dict, *args: object, **kwargs: object) -> object:
    """``Transformer(config).apply`` jitted with fast compilation."""
    model = Transformer(config)
    method = kwargs.pop("method", None)

    def run(params: dict, *arrays: object) -> object:
        return model.apply({"params": params}, *arrays, method=method, **kwargs)

    return jax.jit(run, compiler_options=FAST_COMPILE)(params, *args)


@pytest.fixture(scope="module")
def params() -> tuple[dict, dict]:
    """(per-layer params, the same values stacked)."""
    unrolled = init_params(UNROLLED, jax.random.PRNGKey(3))
    return unrolled, stack_layers(unrolled)


def assert_trees_close(actual: object, expected: object) -> None:
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, atol=ATOL, rtol=0), actual, expected
    )


def test_scanned_parameters_are_the_stacked_per_layer_parameters_with_a_layers_axis():
    unrolled = flax.traverse_util.flatten_dict(abstract_params(UNROLLED), sep="/")
    scanned = flax.traverse_util.flatten_dict(abstract_params(SCANNED), sep="/")
    query = scanned["encoder/layers/attention/query/kernel"]
    assert query.value.shape == (3, 32, 16)
    assert query.names == ("layers", "embed", "joined_kv")
    assert scanned["decoder/layers/mlp/wo/kernel"].value.shape == (1, 48, 32)
    # One relative-position table per stack, shared by the layers, in both layouts.
    assert scanned["encoder/relpos_bias/rel_embedding"].value.shape == (2, 32)
    stacked = stack_layers(flax.linen.unbox(abstract_params(UNROLLED)))
    shapes = {k: v.shape for k, v in flax.traverse_util.flatten_dict(stacked, sep="/").items()}
    assert shapes == {k: v.value.shape for k, v in scanned.items()}
    assert len(unrolled) > len(scanned)


def test_stack_and_unstack_are_inverse(params):
    unrolled, stacked = params
    assert_trees_close(unstack_layers(stacked), unrolled)
    assert "layers_0" in unstack_layers(stacked)["decoder"]


def test_forward_logits_with_packing_agree(params):
    unrolled, stacked = params
    packing = dict(
        decoder_target_tokens=TARGETS,
        encoder_segment_ids=np.array([[1, 1, 1, 2, 2, 2, 2], [1] * 5 + [0] * 2], np.int32),
        decoder_segment_ids=np.array([[1, 1, 2, 2, 0], [1] * 5], np.int32),
        encoder_positions=np.array([[0, 1, 2, 0, 1, 2, 3], [0, 1, 2, 3, 4, 0, 0]], np.int32),
        decoder_positions=np.array([[0, 1, 0, 1, 0], [0, 1, 2, 3, 4]], np.int32),
    )
    names = list(packing)

    def forward(config: T5Config, tree: dict) -> jax.Array:
        model = Transformer(config)
        run = lambda p, *arrays: model.apply(  # noqa: E731
            {"params": p}, ENCODER_TOKENS, DECODER_INPUTS, **dict(zip(names, arrays))
        )
        return jax.jit(run, compiler_options=FAST_COMPILE)(tree, *packing.values())

    want = forward(UNROLLED, unrolled)
    got = forward(SCANNED, stacked)
    assert got.shape == (2, 5, 61)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("remat_policy", ["none", "full"])
def test_training_loss_and_gradients_agree(params, remat_policy):
    unrolled, stacked = params

    def loss_and_grads(config: T5Config, tree: dict) -> tuple[jax.Array, dict]:
        model = Transformer(config.replace(remat_policy=remat_policy))

        def loss(p: dict) -> jax.Array:
            logits = model.apply(
                {"params": p}, ENCODER_TOKENS, DECODER_INPUTS, decoder_target_tokens=TARGETS
            )
            return -jnp.sum(sequence_log_likelihood(logits, TARGETS))

        return jax.jit(jax.value_and_grad(loss), compiler_options=FAST_COMPILE)(tree)

    want_loss, want_grads = loss_and_grads(UNROLLED, unrolled)
    loss, grads = loss_and_grads(SCANNED, stacked)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    assert_trees_close(grads, stack_layers(want_grads))


def test_dropout_runs_in_the_scanned_stack_and_draws_per_layer_masks(params):
    _, stacked = params
    config = SCANNED.replace(dropout_rate=0.5)
    logits = [
        _apply(
            config,
            stacked,
            ENCODER_TOKENS,
            DECODER_INPUTS,
            enable_dropout=True,
            rngs={"dropout": jax.random.PRNGKey(seed)},
        )
        for seed in (0, 0, 1)
    ]
    np.testing.assert_array_equal(logits[0], logits[1])
    assert np.all(np.isfinite(logits[0]))
    assert not np.allclose(logits[0], logits[2])


def test_encode_cross_kv_and_candidate_decoding_agree(params):
    unrolled, stacked = params
    candidates = np.stack([TARGETS, TARGETS[::-1]], axis=1)  # [B=2, N=2, T]
    decoder_inputs = np.pad(candidates[..., :-1], ((0, 0), (0, 0), (1, 0)))
    results = {}
    for config, tree in ((UNROLLED, unrolled), (SCANNED, stacked)):
        encoded = _apply(config, tree, ENCODER_TOKENS, method=Transformer.encode)
        cross_kv = _apply(config, tree, encoded, method=Transformer.cross_attention_kv)
        logits = _apply(
            config,
            tree,
            None,
            ENCODER_TOKENS,
            decoder_inputs,
            cross_kv=cross_kv,
            method=Transformer.decode,
        )
        results[config.scan_layers] = encoded, cross_kv, logits
    (enc_u, kv_u, logits_u), (enc_s, kv_s, logits_s) = results[False], results[True]
    np.testing.assert_allclose(enc_s, enc_u, atol=ATOL, rtol=0)
    keys, values = kv_s
    assert keys.shape == (1, 2, 7, 2, 8)  # [layers, B, L, H, K]
    np.testing.assert_allclose(keys, np.stack([k for k, _ in kv_u]), atol=ATOL, rtol=0)
    np.testing.assert_allclose(values, np.stack([v for _, v in kv_u]), atol=ATOL, rtol=0)
    assert logits_s.shape == (2, 2, 5, 61)
    np.testing.assert_allclose(logits_s, logits_u, atol=ATOL, rtol=0)


def test_decode_rejects_per_layer_cross_kv_in_a_scanned_model(params):
    unrolled, stacked = params
    encoded = _apply(UNROLLED, unrolled, ENCODER_TOKENS, method=Transformer.encode)
    per_layer = _apply(UNROLLED, unrolled, encoded, method=Transformer.cross_attention_kv)
    with pytest.raises(ValueError, match="scanned decoder takes cross_kv"):
        Transformer(SCANNED).apply(
            {"params": stacked},
            None,
            ENCODER_TOKENS,
            DECODER_INPUTS,
            cross_kv=per_layer,
            method=Transformer.decode,
        )


def test_cached_step_decoding_agrees_with_the_unrolled_teacher_forced_logits(params):
    unrolled, stacked = params
    want = _apply(UNROLLED, unrolled, ENCODER_TOKENS, DECODER_INPUTS)
    model = Transformer(SCANNED)
    encoded = _apply(SCANNED, stacked, ENCODER_TOKENS, method=Transformer.encode)
    cross_kv = _apply(SCANNED, stacked, encoded, method=Transformer.cross_attention_kv)
    cache = init_decode_cache(SCANNED, 2, max_decode_length=5)
    cached_key = cache["decoder"]["layers"]["self_attention"]["cache"]["cached_key"]
    assert cached_key.shape == (1, 2, 5, 2, 8)  # [layers, B, T_max, H, K]

    @jax.jit
    def step(cache: dict, token: jax.Array) -> tuple[jax.Array, dict]:
        return model.apply(
            {"params": stacked, "cache": cache},
            None,
            ENCODER_TOKENS,
            token,
            cross_kv=cross_kv,
            decode=True,
            method=Transformer.decode,
            mutable=["cache"],
        )

    for position in range(5):
        logits, mutated = step(cache, DECODER_INPUTS[:, position : position + 1])
        cache = mutated["cache"]
        np.testing.assert_allclose(logits[:, 0], want[:, position], atol=ATOL, rtol=0)
