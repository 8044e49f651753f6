"""The few model calls inference makes, in one place.

Inference needs four things from the encoder-decoder (``instructrec_jax.models.Transformer``):
encode the instruction, project each decoder layer's cross-attention keys/values once,
decode targets with those keys/values, and the full forward pass for the naive reference.
Keeping the ``module.apply`` plumbing here means the scoring, pointwise and generation code
never touches flax variable collections directly.

``params`` everywhere is the ``'params'`` collection (what ``checkpoints.load_params``
returns), not the ``{'params': ...}`` variables dict.
"""

from __future__ import annotations

from typing import Any

import jax

Params = Any
CrossKV = Any


def encode(module: Any, params: Params, encoder_tokens: jax.Array) -> jax.Array:
    """encoder_tokens int32 [B, L] -> encoded [B, L, D]."""
    return module.apply({"params": params}, encoder_tokens, method="encode")


def cross_attention_kv(module: Any, params: Params, encoded: jax.Array) -> CrossKV:
    """encoded [B, L, D] -> per decoder layer (key, value) [B, L, H, Dh]."""
    return module.apply({"params": params}, encoded, method="cross_attention_kv")


def decode_with_kv(
    module: Any,
    params: Params,
    cross_kv: CrossKV,
    encoder_tokens: jax.Array,
    decoder_inputs: jax.Array,
) -> jax.Array:
    """Teacher-forced decoding reading precomputed cross keys/values.

    Args:
      cross_kv: from :func:`cross_attention_kv` for ``encoder_tokens`` ([B, L, ...]).
      encoder_tokens: int32 [B, L] (its padding masks the cross-attention).
      decoder_inputs: int32 [B, T] or [B, N, T]; with the N axis every candidate of a row
        attends to that row's keys/values without copying them.

    Returns:
      float32 logits [B, (N,) T, V].
    """
    return module.apply(
        {"params": params},
        None,
        encoder_tokens,
        decoder_inputs,
        cross_kv=cross_kv,
        method="decode",
    )


def full_forward(
    module: Any,
    params: Params,
    encoder_tokens: jax.Array,
    decoder_inputs: jax.Array,
    decoder_targets: jax.Array,
) -> jax.Array:
    """The training forward pass: [B, L], [B, T], [B, T] -> logits [B, T, V]."""
    return module.apply({"params": params}, encoder_tokens, decoder_inputs, decoder_targets)


def shift_right(targets: jax.Array, start_id: int = 0) -> jax.Array:
    """Decoder inputs from targets along the last axis: [t0, t1, ...] -> [start, t0, ...]."""
    import jax.numpy as jnp

    start = jnp.full((*targets.shape[:-1], 1), start_id, dtype=targets.dtype)
    return jnp.concatenate([start, targets[..., :-1]], axis=-1)
