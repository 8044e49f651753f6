"""Sequence scores with T5X ``score_batch`` semantics."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def token_log_likelihoods(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """log p(target token) [..., T] float32 from logits [..., T, V] and targets [..., T] int.

    Padding positions (target 0) are zeroed.
    """
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    picked = jnp.take_along_axis(log_probs, targets[..., None].astype(jnp.int32), axis=-1)
    return jnp.where(targets > 0, picked[..., 0], 0.0)


def sequence_log_likelihood(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Sum of target-token log-probabilities [...] (nats), EOS included, padding excluded.

    logits [..., T, V], targets [..., T] with 0 = padding; e.g. [B, T, V] -> [B] or, with a
    candidate axis, [B, N, T, V] -> [B, N]. No length normalization, no label smoothing.
    """
    return jnp.sum(token_log_likelihoods(logits, targets), axis=-1)
