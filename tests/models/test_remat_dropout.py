"""Rematerialization changes memory, not results; dropout is seeded and only on request."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.models.config import T5Config
from instructrec_jax.models.losses import sequence_log_likelihood
from instructrec_jax.models.t5 import Transformer, init_params
from tests.t5_configs import tiny_t5_config

CONFIG = tiny_t5_config(vocab_size=61, d_model=16, head_dim=8, d_ff=32, dropout_rate=0.3)
RNG = np.random.default_rng(0)
ENCODER_TOKENS = jnp.asarray(RNG.integers(1, 61, size=(2, 6)), jnp.int32)
TARGETS = jnp.asarray(RNG.integers(1, 61, size=(2, 4)), jnp.int32)
DECODER_INPUTS = jnp.pad(TARGETS[:, :-1], ((0, 0), (1, 0)))


# Unoptimized XLA code: these tiny programs compile much faster and compute the same thing.
@functools.partial(
    jax.jit, static_argnums=(0, 2), compiler_options={"xla_backend_optimization_level": 0}
)
def _loss_and_grads(config: T5Config, params: dict, enable_dropout: bool, dropout_key: jax.Array):
    model = Transformer(config)

    def loss(params: dict) -> jax.Array:
        logits = model.apply(
            {"params": params},
            ENCODER_TOKENS,
            DECODER_INPUTS,
            decoder_target_tokens=TARGETS,
            enable_dropout=enable_dropout,
            rngs={"dropout": dropout_key},
        )
        return -jnp.sum(sequence_log_likelihood(logits, TARGETS))

    return jax.value_and_grad(loss)(params)


def loss_and_grads(config: T5Config, params: dict, enable_dropout: bool, seed: int = 0):
    """Loss and gradients; compiled once per (config, enable_dropout)."""
    return _loss_and_grads(config, params, enable_dropout, jax.random.PRNGKey(seed))


@pytest.mark.parametrize("policy", ["dots_saveable", "minimal", "offload"])
def test_remat_policies_give_the_same_loss_and_gradients(policy):
    params = init_params(CONFIG, jax.random.PRNGKey(1))
    want_loss, want_grads = loss_and_grads(CONFIG, params, enable_dropout=True)
    loss, grads = loss_and_grads(CONFIG.replace(remat_policy=policy), params, enable_dropout=True)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), grads, want_grads
    )


def test_dropout_is_seeded_and_off_by_default():
    params = init_params(CONFIG, jax.random.PRNGKey(1))
    off, _ = loss_and_grads(CONFIG, params, enable_dropout=False, seed=0)
    off_other_seed, _ = loss_and_grads(CONFIG, params, enable_dropout=False, seed=5)
    on, _ = loss_and_grads(CONFIG, params, enable_dropout=True, seed=0)
    on_again, _ = loss_and_grads(CONFIG, params, enable_dropout=True, seed=0)
    on_other_seed, _ = loss_and_grads(CONFIG, params, enable_dropout=True, seed=5)
    assert off == off_other_seed
    assert on == on_again
    assert on != off and on != on_other_seed
