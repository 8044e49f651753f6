"""Token cross-entropy with z-loss, as sums, so that microbatches add up exactly.

T5X normalizes the loss by the number of real target tokens of the whole batch
("NUM_REAL_TARGET_TOKENS"). With gradient accumulation the per-microbatch token counts
differ, so this module returns *sums* (loss, z-loss, correct tokens, weight) and the train
step divides the accumulated sums by the accumulated weight once.
"""

from __future__ import annotations

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
    logits = logits.astype(jnp.float32)
    weights = weights.astype(jnp.float32)
    log_normalizer = jax.nn.logsumexp(logits, axis=-1)
    target_logit = jnp.take_along_axis(logits, targets[..., None].astype(jnp.int32), axis=-1)
    cross_entropy = log_normalizer - target_logit[..., 0]
    z_loss = z_loss_coefficient * jnp.square(log_normalizer)
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
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
