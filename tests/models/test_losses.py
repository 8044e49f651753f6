"""Token loss sums: cross-entropy and z-loss against numpy, and exact addition."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.models.losses import LossSums, normalized_metrics, token_loss_sums


def _reference(logits, targets, weights, z):
    log_z = np.log(np.sum(np.exp(logits), axis=-1))
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return np.sum((log_z - picked) * weights), np.sum(z * log_z**2 * weights)


def test_loss_sums_match_numpy_and_ignore_padding():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 7)).astype(np.float32)
    targets = rng.integers(1, 7, size=(2, 5)).astype(np.int32)
    weights = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.float32)
    sums = token_loss_sums(logits, targets, weights, z_loss_coefficient=1e-2)
    cross_entropy, z_loss = _reference(logits, targets, weights, 1e-2)
    np.testing.assert_allclose(sums.cross_entropy, cross_entropy, rtol=1e-5)
    np.testing.assert_allclose(sums.z_loss, z_loss, rtol=1e-5)
    assert float(sums.weight) == 8.0
    # Padding logits do not matter.
    changed = logits.copy()
    changed[0, 3:] = 100.0
    np.testing.assert_allclose(
        token_loss_sums(changed, targets, weights, 1e-2).cross_entropy, sums.cross_entropy
    )


def test_microbatch_sums_add_up_to_the_batch_and_normalize_by_tokens():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 3, 5)).astype(np.float32)
    targets = np.argmax(logits, axis=-1).astype(np.int32)  # all correct
    weights = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 1, 0]], np.float32)
    whole = token_loss_sums(logits, targets, weights)
    halves = token_loss_sums(logits[:2], targets[:2], weights[:2]) + token_loss_sums(
        logits[2:], targets[2:], weights[2:]
    )
    for a, b in zip(whole, halves):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    metrics = jax.device_get(normalized_metrics(whole))
    assert metrics["accuracy"] == 1.0
    np.testing.assert_allclose(
        metrics["loss"], (whole.cross_entropy + whole.z_loss) / 8.0, rtol=1e-6
    )
    assert float(normalized_metrics(LossSums.zeros())["loss"]) == 0.0


def _naive_objective(logits, targets, weights, z):
    log_z = jax.nn.logsumexp(logits, axis=-1)
    picked = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return jnp.sum((log_z - picked + z * log_z**2) * weights)


def test_fused_backward_equals_autodiff_of_the_plain_loss():
    rng = np.random.default_rng(2)
    logits = jnp.asarray(rng.normal(size=(3, 4, 11)).astype(np.float32) * 3)
    targets = jnp.asarray(rng.integers(0, 11, size=(3, 4)).astype(np.int32))
    weights = jnp.asarray(np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], np.float32))

    def ours(values):
        sums = token_loss_sums(values, targets, weights, z_loss_coefficient=1e-2)
        return sums.cross_entropy + sums.z_loss

    np.testing.assert_allclose(
        ours(logits), _naive_objective(logits, targets, weights, 1e-2), rtol=1e-5
    )
    np.testing.assert_allclose(
        jax.grad(ours)(logits),
        jax.grad(_naive_objective)(logits, targets, weights, 1e-2),
        rtol=1e-4,
        atol=1e-6,
    )


def test_accuracy_counts_a_target_that_holds_the_largest_logit():
    logits = np.array([[[0.0, 2.0, 1.0], [3.0, 0.0, 3.0]]], np.float32)
    weights = np.ones((1, 2), np.float32)
    hits = token_loss_sums(logits, np.array([[1, 2]], np.int32), weights).correct
    misses = token_loss_sums(logits, np.array([[2, 1]], np.int32), weights).correct
    assert float(hits) == 2.0  # the second token ties for the maximum
    assert float(misses) == 0.0
