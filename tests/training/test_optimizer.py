"""Adafactor factored by logical axes: the plans, the update (vs optax on 2-D), the state
specs and the learning-rate schedules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec

from instructrec_jax.training.optimizer import (
    UNFACTORED,
    AdafactorConfig,
    FactorPlan,
    factored_adafactor,
    learning_rate_schedule,
    plan_factoring,
    plan_tree,
    state_partition_specs,
)


def test_plans_follow_logical_axes_not_sizes():
    # Embedding [vocab, embed]: embed is the row axis, vocab the column axis.
    assert plan_factoring((256, 128), ("vocab", "embed")) == FactorPlan((1,), (0,))
    # Kernel [embed, mlp].
    assert plan_factoring((128, 512), ("embed", "mlp")) == FactorPlan((0,), (1,))
    # Stacked layers are a batch axis even when it is the largest dim; the size rule
    # (optax) would factor over it.
    stacked = plan_factoring((300, 128, 256), ("layers", "embed", "mlp"))
    assert stacked == FactorPlan((1,), (2,), batch_axes=(0,))
    assert plan_factoring((300, 128), ("layers", "embed")) == FactorPlan((), (), (0,))
    assert plan_factoring((300, 128, 256), None) == FactorPlan((2,), (0,))
    # The relative position table is never factored; neither are vectors or small dims.
    assert plan_factoring((512, 512), ("heads", "relpos_buckets")) == UNFACTORED
    assert plan_factoring((512,), ("embed",)) == UNFACTORED
    assert plan_factoring((64, 512), ("embed", "mlp")) == UNFACTORED
    assert plan_factoring((64, 512), ("embed", "mlp"), min_dim_size_to_factor=32).factored
    # Unknown axis names fall back to the size rule.
    assert plan_factoring((256, 128), ("mystery", "embed")) == FactorPlan((1,), (0,))
    with pytest.raises(ValueError, match="do not match"):
        plan_factoring((4, 4, 4), ("embed", "mlp"))


@pytest.mark.parametrize("kernel_shape", [(8, 6), (2, 3)])
def test_a_stacked_parameter_is_updated_like_its_per_layer_slices(kernel_shape):
    """Scanned models stack [layers, ...]: factoring, clipping and parameter scale per layer."""
    layers = [jax.random.normal(jax.random.PRNGKey(i), kernel_shape) * (i + 1) for i in range(3)]
    grads = [[jnp.cos(p * (step + 1)) * (i + 1) for i, p in enumerate(layers)] for step in range(2)]
    config = AdafactorConfig(min_dim_size_to_factor=4, clipping_threshold=0.5)

    def run(params: dict, specs: dict, steps: list[dict]) -> dict:
        optimizer = factored_adafactor(0.1, plan_tree(params, specs, 4), config)
        state = optimizer.init(params)
        for grad in steps:
            updates, state = optimizer.update(grad, state, params)
            params = optax.apply_updates(params, updates)
        return params

    per_layer = run(
        {f"w{i}": p for i, p in enumerate(layers)},
        {f"w{i}": PartitionSpec("embed", "mlp") for i in range(3)},
        [{f"w{i}": g for i, g in enumerate(step)} for step in grads],
    )
    stacked = run(
        {"w": jnp.stack(layers)},
        {"w": PartitionSpec("layers", "embed", "mlp")},
        [{"w": jnp.stack(step)} for step in grads],
    )
    want = np.stack([per_layer[f"w{i}"] for i in range(3)])
    np.testing.assert_allclose(stacked["w"], want, rtol=1e-6, atol=1e-7)


def _problem():
    key = jax.random.PRNGKey(0)
    k1, k2, k3 = jax.random.split(key, 3)
    params = {"w": jax.random.normal(k1, (8, 6)), "b": jax.random.normal(k2, (6,))}
    grads = [jax.tree.map(lambda p, i=i: jnp.sin(p * (i + 1)) + 0.1 * i, params) for i in range(3)]
    specs = {"w": PartitionSpec("embed", "mlp"), "b": PartitionSpec("mlp")}
    del k3
    return params, grads, specs


def test_update_matches_optax_adafactor_on_2d_and_1d_params():
    params, grads, specs = _problem()
    plans = plan_tree(params, specs, min_dim_size_to_factor=4)
    assert plans["w"].factored and not plans["b"].factored
    schedule = learning_rate_schedule(0.05, "rsqrt", warmup_steps=2)
    ours = factored_adafactor(schedule, plans, AdafactorConfig(min_dim_size_to_factor=4))
    reference = optax.adafactor(schedule, min_dim_size_to_factor=4)
    ours_state, ref_state = ours.init(params), reference.init(params)
    assert ours_state.v_row["w"].shape == (8,) and ours_state.v_col["w"].shape == (6,)
    ours_params, ref_params = params, params
    for grad in grads:
        ours_updates, ours_state = ours.update(grad, ours_state, ours_params)
        ref_updates, ref_state = reference.update(grad, ref_state, ref_params)
        for name in params:
            np.testing.assert_allclose(ours_updates[name], ref_updates[name], rtol=2e-5)
        ours_params = optax.apply_updates(ours_params, ours_updates)
        ref_params = optax.apply_updates(ref_params, ref_updates)
    assert int(ours_state.count) == 3


def test_batch_axis_keeps_one_factor_pair_per_layer():
    params = {"k": jnp.ones((3, 8, 6))}
    specs = {"k": PartitionSpec("layers", "embed", "mlp")}
    plans = plan_tree(params, specs, min_dim_size_to_factor=4)
    optimizer = factored_adafactor(0.1, plans, AdafactorConfig(min_dim_size_to_factor=4))
    state = optimizer.init(params)
    assert state.v_row["k"].shape == (3, 8) and state.v_col["k"].shape == (3, 6)
    # Layer 1 gets gradients 10x larger: normalized updates stay equal across layers.
    grad = {"k": jnp.ones((3, 8, 6)) * jnp.array([1.0, 10.0, 1.0])[:, None, None]}
    updates, _ = optimizer.update(grad, state, params)
    np.testing.assert_allclose(updates["k"][0], updates["k"][1], rtol=1e-5)


def test_update_clipping_bounds_the_rms_of_the_update():
    params = {"w": jnp.ones((4,))}
    plans = plan_tree(params, None)
    config = AdafactorConfig(clipping_threshold=0.5, multiply_by_parameter_scale=False)
    optimizer = factored_adafactor(1.0, plans, config)
    grad = {"w": jnp.array([1.0, -1.0, 1.0, -1.0])}
    updates, _ = optimizer.update(grad, optimizer.init(params), params)
    # First step: v = g^2, so g / sqrt(v) has rms 1, clipped to 0.5.
    np.testing.assert_allclose(jnp.sqrt(jnp.mean(updates["w"] ** 2)), 0.5, rtol=1e-6)


def test_state_specs_keep_the_names_of_kept_dims():
    params, _, specs = _problem()
    plans = plan_tree(params, specs, min_dim_size_to_factor=4)
    state_specs = state_partition_specs(specs, plans)
    assert state_specs.v_row["w"] == PartitionSpec("embed")
    assert state_specs.v_col["w"] == PartitionSpec("mlp")
    assert state_specs.v["w"] == PartitionSpec()
    assert state_specs.v["b"] == PartitionSpec("mlp")
    assert state_specs.count == PartitionSpec()


def test_schedules():
    constant = learning_rate_schedule(1e-3, "constant", warmup_steps=4)
    np.testing.assert_allclose(
        [float(constant(jnp.int32(s))) for s in (0, 1, 3, 10)], [2.5e-4, 5e-4, 1e-3, 1e-3]
    )
    rsqrt = learning_rate_schedule(1e-2, "rsqrt", warmup_steps=100)
    np.testing.assert_allclose(float(rsqrt(jnp.int32(50))), 1e-2, rtol=1e-6)
    np.testing.assert_allclose(float(rsqrt(jnp.int32(400))), 1e-2 * 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="learning_rate_schedule 'cosine' is unknown"):
        learning_rate_schedule(1e-3, "cosine")


def test_bfloat16_params_are_updated_like_t5x():
    """Updates stay float32: ``apply_updates`` forms param + update in float32 and rounds once
    to bfloat16, as T5X's ``(param - update).astype(param.dtype)`` (a bfloat16 update would
    round twice)."""
    key_p, key_g = jax.random.split(jax.random.PRNGKey(1))
    params = {"w": (1.0 + jax.random.uniform(key_p, (64, 64))).astype(jnp.bfloat16)}
    grads = {"w": jax.random.normal(key_g, (64, 64)).astype(jnp.bfloat16)}
    plans = plan_tree(params, None)
    config = AdafactorConfig(multiply_by_parameter_scale=False)
    optimizer = factored_adafactor(0.01, plans, config)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    assert updates["w"].dtype == jnp.float32
    new_params = optax.apply_updates(params, updates)
    assert new_params["w"].dtype == jnp.bfloat16

    as_f32 = lambda tree: jax.tree.map(lambda x: x.astype(jnp.float32), tree)  # noqa: E731
    reference, _ = optimizer.update(as_f32(grads), optimizer.init(as_f32(params)), as_f32(params))
    t5x = (params["w"].astype(jnp.float32) + reference["w"]).astype(jnp.bfloat16)
    np.testing.assert_array_equal(np.asarray(new_params["w"]), np.asarray(t5x))
