"""The train step: gradient accumulation changes nothing but memory; NaN stops with the step;
the learning rate follows the global step of a state started from a step-N checkpoint."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import training_tiny_task

from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.partitioning import Partitioner, make_mesh, standard_logical_axis_rules
from instructrec_jax.training.monitor import NonFiniteError, check_finite
from instructrec_jax.training.optimizer import AdafactorConfig, learning_rate_schedule
from instructrec_jax.training.state import build_layout, init_state, state_from_params
from instructrec_jax.training.step import jit_train_step, make_train_step


def _batch(rows=8, length=6):
    rng = np.random.default_rng(0)
    inputs = rng.integers(2, 64, size=(rows, length)).astype(np.int32)
    targets = rng.integers(2, 64, size=(rows, 4)).astype(np.int32)
    targets[::3, 2:] = 0  # uneven target counts across rows and microbatches
    decoder_inputs = np.concatenate([np.zeros((rows, 1), np.int32), targets[:, :-1]], axis=1)
    return {
        "encoder_input_tokens": inputs,
        "decoder_input_tokens": decoder_inputs,
        "decoder_target_tokens": targets,
        "decoder_loss_weights": (targets > 0).astype(np.int32),
    }


@pytest.fixture(scope="module")
def setup():
    config = training_tiny_task.tiny_model_config()
    mesh = make_mesh(mesh_shape=(2, 2), devices=jax.devices()[:4])
    rules = standard_logical_axis_rules(fsdp=True)
    layout = build_layout(
        config, Partitioner(mesh, rules), learning_rate_schedule(1e-2), AdafactorConfig()
    )
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))

    compiled = {}

    def step_fn(microbatches):
        if microbatches in compiled:
            return compiled[microbatches]
        pure = make_train_step(
            EncoderDecoderModel(config),
            layout,
            num_microbatches=microbatches,
            dropout=False,
            seed=0,
        )
        compiled[microbatches] = jit_train_step(pure, layout, sharding)
        return compiled[microbatches]

    return config, layout, step_fn


def test_state_is_created_sharded_on_the_mesh(setup):
    config, layout, _ = setup
    state = init_state(layout, config, seed=0)
    embedding = state.params["token_embedder"]["embedding"]
    # [vocab, embed]: vocab over model, embed over data (FSDP): 4 distinct shards.
    assert embedding.sharding.spec == jax.sharding.PartitionSpec("model", "data")
    assert {shard.data.shape for shard in embedding.addressable_shards} == {(32, 16)}


def test_microbatches_give_the_same_update(setup):
    config, layout, step_fn = setup
    batch = _batch()
    one, _ = step_fn(1)(init_state(layout, config, seed=0), batch)
    two, metrics = step_fn(2)(init_state(layout, config, seed=0), batch)
    assert int(two.step) == 1 and float(metrics["target_tokens"]) == float(
        batch["decoder_loss_weights"].sum()
    )
    for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(two.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_non_finite_loss_stops_with_the_step_number(setup):
    config, layout, step_fn = setup
    state = init_state(layout, config, seed=0)
    state = state._replace(
        params=jax.tree.map(lambda p: p * jnp.nan, state.params),
    )
    _, metrics = step_fn(1)(state, _batch())
    assert float(metrics["finite"]) == 0.0
    with pytest.raises(NonFiniteError, match="at step 7"):
        check_finite(7, metrics)


@pytest.mark.parametrize(("kind", "ratio"), [("rsqrt", 0.1), ("constant", 100.0)])
def test_rate_applied_after_a_step_n_checkpoint_is_the_logged_rate(kind, ratio):
    """A state created at global step 10000 (fresh optimizer state, count 0) updates with
    schedule(10000), the rate the loop logs for step 10001, not schedule(0)."""
    config = training_tiny_task.tiny_model_config()
    mesh = make_mesh(mesh_shape=(2, 1), devices=jax.devices()[:2])
    rules = standard_logical_axis_rules()
    schedule = learning_rate_schedule(1e-2, kind, warmup_steps=100)
    # rsqrt: 1e-2 through warmup, 1e-2 * sqrt(100 / 10000) at 10000; constant: ramps from
    # 1e-2 / 100 at step 0 to 1e-2.
    np.testing.assert_allclose(
        float(schedule(jnp.int32(10000))) / float(schedule(jnp.int32(0))), ratio, rtol=1e-6
    )
    layout = build_layout(config, Partitioner(mesh, rules), schedule, AdafactorConfig())
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    pure = make_train_step(
        EncoderDecoderModel(config), layout, num_microbatches=1, dropout=False, seed=0
    )
    step_fn = jit_train_step(pure, layout, sharding)
    params = jax.device_get(init_state(layout, config, seed=0).params)
    change = {}
    for start in (0, 10000):
        state, _ = step_fn(state_from_params(layout, params, step=start), _batch())
        assert int(state.step) == start + 1 and int(state.opt_state.count) == 1
        change[start] = optax.global_norm(
            jax.tree.map(lambda new, old: np.asarray(new) - old, state.params, params)
        )
    # Same gradients and fresh moments: the update differs only by the rate.
    np.testing.assert_allclose(float(change[10000] / change[0]), ratio, rtol=1e-2)
