from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.evaluation.baselines import ItemIndex, SASRecConfig, SASRecScorer
from instructrec_jax.evaluation.baselines.sequence_losses import item_table, next_item_loss

NUM_ITEMS = 12


@pytest.fixture(scope="module")
def tiny():
    config = SASRecConfig(hidden_size=8, num_blocks=1, max_length=4, dropout_rate=0.0)
    items = ItemIndex([f"i{k:02d}" for k in range(NUM_ITEMS)])
    model = SASRecScorer(None, config, items, {}, {}).model
    params = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros((1, 4), jnp.int32))["params"]
    inputs = np.array([[0, 3, 4, 5], [0, 0, 7, 8]], dtype=np.int32)
    targets = np.array([[0, 4, 5, 6], [0, 0, 8, 9]], dtype=np.int32)
    states = np.asarray(jax.jit(model.apply)({"params": params}, inputs))
    return model, params, inputs, targets, states


def _loss(model, params, inputs, targets, loss_name):
    key = jax.random.key(3, impl="rbg")
    return float(
        jax.jit(next_item_loss, static_argnums=(0, 5))(
            model, params, inputs, targets, key, loss_name
        )
    )


def test_cross_entropy_matches_softmax_over_catalog(tiny):
    # The left-padded positions (target 0) are outside ``mask``: they must not count.
    model, params, inputs, targets, states = tiny
    table = np.asarray(item_table(params))
    logits = states @ table[1:].T  # padding row excluded from the softmax
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    mask = targets > 0
    expected = -np.mean(log_probs[mask, targets[mask] - 1])
    assert _loss(model, params, inputs, targets, "ce") == pytest.approx(expected, rel=1e-5)


def test_bce_uses_one_real_negative_other_than_the_target(tiny):
    model, params, inputs, targets, states = tiny
    table = np.asarray(item_table(params))
    softplus = np.logaddexp(0.0, states[..., None, :] @ table[1:].T[None])  # [B, L, 1, N]
    softplus = softplus[:, :, 0, :]
    mask = targets > 0
    rows = np.nonzero(mask)
    positive_logits = np.einsum("pd,pd->p", states[mask], table[targets[mask]])
    positive_part = np.logaddexp(0.0, -positive_logits)
    other = softplus[rows].copy()
    other[np.arange(len(other)), targets[mask] - 1] = np.nan  # the target is never drawn
    lower = np.mean(positive_part + np.nanmin(other, axis=1))
    upper = np.mean(positive_part + np.nanmax(other, axis=1))
    assert lower <= _loss(model, params, inputs, targets, "bce") <= upper
