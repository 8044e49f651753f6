"""Per-token target statistics: cross-entropy with z-loss (training) and log-likelihoods
(scoring), both from the one :func:`token_terms`.

Training sums: T5X normalizes the loss by the number of real target tokens of the whole batch
("NUM_REAL_TARGET_TOKENS"). With gradient accumulation the per-microbatch token counts
differ, so this module returns *sums* (loss, z-loss, correct tokens, weight) and the train
step divides the accumulated sums by the accumulated weight once.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp


class LossSums(NamedTuple):
    """Sums over the target tokens of one (micro)batch; all float32 scalars.

    ``cross_entropy`` and ``z_loss`` are weighted sums in nats; ``correct`` is the weighted
    count of argmax hits; ``weight`` the sum of loss weights (real target tokens).
    """

    cross_entropy: jax.Array
    z_loss: jax.Array
    correct: jax.Array
    weight: jax.Array

    def __add__(self, other: LossSums) -> LossSums:  # type: ignore[override]
        return LossSums(*(a + b for a, b in zip(self, other)))

    @staticmethod
    def zeros() -> LossSums:
        """Sums of an empty batch."""
        zero = jnp.zeros((), jnp.float32)
        return LossSums(zero, zero, zero, zero)


def _token_terms(
    logits: jax.Array, targets: jax.Array, z_loss_coefficient: float
) -> tuple[tuple[jax.Array, jax.Array, jax.Array], jax.Array]:
    """Per-token (cross-entropy, z-loss, correct) [B, T] and the log-normalizer [B, T]."""
    max_logit = jnp.max(logits, axis=-1)
    shifted = jnp.exp(logits - max_logit[..., None])
    log_normalizer = max_logit + jnp.log(jnp.sum(shifted, axis=-1))
    target_logit = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    cross_entropy = log_normalizer - target_logit
    z_loss = z_loss_coefficient * jnp.square(log_normalizer)
    # The target holds the largest logit (ties count as correct; argmax would take the first).
    correct = (target_logit >= max_logit).astype(jnp.float32)
    return (cross_entropy, z_loss, correct), log_normalizer


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def token_terms(
    logits: jax.Array, targets: jax.Array, z_loss_coefficient: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-token cross-entropy, z-loss and correctness, each [B, T] float32.

    ``logits`` [B, T, V] float32, ``targets`` [B, T] int32. A custom VJP (as T5X's
    ``cross_entropy_with_logits``) turns the backward pass into one fused elementwise pass,
    ``softmax * (g_ce + 2 z lse g_z) - onehot(target) * g_ce``, instead of a scatter into a
    zero [B, T, V] array plus a second softmax; the metric needs no argmax pass either.
    """
    return _token_terms(logits, targets, z_loss_coefficient)[0]


def _token_terms_forward(
    logits: jax.Array, targets: jax.Array, z_loss_coefficient: float
) -> tuple[tuple[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array, jax.Array]]:
    terms, log_normalizer = _token_terms(logits, targets, z_loss_coefficient)
    return terms, (logits, targets, log_normalizer)


def _token_terms_backward(
    z_loss_coefficient: float,
    residuals: tuple[jax.Array, jax.Array, jax.Array],
    cotangents: tuple[jax.Array, jax.Array, jax.Array],
) -> tuple[jax.Array, None]:
    logits, targets, log_normalizer = residuals
    d_cross_entropy, d_z_loss, _ = cotangents  # ``correct`` is piecewise constant
    softmax_scale = d_cross_entropy + 2.0 * z_loss_coefficient * log_normalizer * d_z_loss
    softmax = jnp.exp(logits - log_normalizer[..., None])
    vocab = jax.lax.broadcasted_iota(jnp.int32, logits.shape, logits.ndim - 1)
    is_target = vocab == targets[..., None]
    d_logits = softmax * softmax_scale[..., None] - jnp.where(
        is_target, d_cross_entropy[..., None], 0.0
    )
    return d_logits, None


token_terms.defvjp(_token_terms_forward, _token_terms_backward)


def token_loss_sums(
    logits: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    z_loss_coefficient: float = 1e-4,
) -> LossSums:
    """Weighted sums of cross-entropy and z-loss over ``targets``.

    Args:
      logits: [B, T, V] float logits.
      targets: [B, T] int token ids.
      weights: [B, T] loss weights (0 for padding).
      z_loss_coefficient: weight of ``logsumexp(logits) ** 2`` per token (T5X: 1e-4).
    """
    weights = weights.astype(jnp.float32)
    cross_entropy, z_loss, correct = token_terms(
        logits.astype(jnp.float32), targets.astype(jnp.int32), float(z_loss_coefficient)
    )
    return LossSums(
        cross_entropy=jnp.sum(cross_entropy * weights),
        z_loss=jnp.sum(z_loss * weights),
        correct=jnp.sum(correct * weights),
        weight=jnp.sum(weights),
    )


def normalized_metrics(sums: LossSums) -> dict[str, jax.Array]:
    """Per-token averages: ``loss`` (cross-entropy + z-loss), its parts, and ``accuracy``."""
    denominator = jnp.maximum(sums.weight, 1.0)
    cross_entropy = sums.cross_entropy / denominator
    z_loss = sums.z_loss / denominator
    return {
        "loss": cross_entropy + z_loss,
        "cross_entropy_loss": cross_entropy,
        "z_loss": z_loss,
        "accuracy": sums.correct / denominator,
        "target_tokens": sums.weight,
    }


def token_log_likelihoods(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """log p(target token) [..., T] float32 from logits [..., T, V] and targets [..., T] int.

    The negated cross-entropy of :func:`token_terms` (no z-loss, no label smoothing);
    padding positions (target 0) are zeroed.
    """
    cross_entropy, _, _ = token_terms(logits.astype(jnp.float32), targets.astype(jnp.int32), 0.0)
    return jnp.where(targets > 0, -cross_entropy, 0.0)


def sequence_log_likelihood(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Sum of target-token log-probabilities [...] (nats), EOS included, padding excluded.

    logits [..., T, V], targets [..., T] with 0 = padding; e.g. [B, T, V] -> [B] or, with a
    candidate axis, [B, N, T, V] -> [B, N]. No length normalization, no label smoothing
    (T5X ``score_batch`` semantics).
    """
    return jnp.sum(token_log_likelihoods(logits, targets), axis=-1)
