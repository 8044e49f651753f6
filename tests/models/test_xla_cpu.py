"""The XLA:CPU formulations give the values and gradients of the plain forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src.mesh import AbstractDevice

from instructrec_jax.models import xla_cpu


def abstract_tpu_mesh() -> jax.sharding.AbstractMesh:
    """A one-device mesh of a TPU that is not here, as an ahead-of-time compile sees it."""
    device = AbstractDevice(device_kind="TPU v4", num_cores=None, platform="tpu")
    return jax.sharding.AbstractMesh((1,), ("data",), abstract_device=device)


def _random(shape: tuple[int, ...], seed: int) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape).astype(np.float32))


def test_modes_choose_the_forms_and_auto_follows_the_traced_for_platform():
    assert xla_cpu.use_cpu_forms("auto")  # no mesh: this CPU backend
    assert xla_cpu.use_cpu_forms("cpu") and not xla_cpu.use_cpu_forms("plain")
    with jax.sharding.use_abstract_mesh(abstract_tpu_mesh()):
        assert not xla_cpu.use_cpu_forms("auto")
        assert xla_cpu.use_cpu_forms("cpu")
    with pytest.raises(ValueError, match="unknown CPU rewrite mode 'gpu'"):
        xla_cpu.use_cpu_forms("gpu")


def test_dense_matmul_matches_jnp_dot_in_value_and_both_gradients():
    x, kernel, probe = _random((3, 5, 8), 0), _random((8, 6), 1), _random((3, 5, 6), 2)

    def loss(fn):
        return lambda a, b: jnp.sum(jnp.sin(fn(a, b)) * probe)

    np.testing.assert_allclose(xla_cpu.dense_matmul(x, kernel), jnp.dot(x, kernel), rtol=1e-5)
    ours = jax.grad(loss(xla_cpu.dense_matmul), argnums=(0, 1))(x, kernel)
    plain = jax.grad(loss(jnp.dot), argnums=(0, 1))(x, kernel)
    for got, want in zip(ours, plain):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_dense_matmul_keeps_the_input_dtypes_of_its_gradients():
    x, kernel = _random((4, 8), 0).astype(jnp.bfloat16), _random((8, 3), 1).astype(jnp.bfloat16)
    d_x, d_kernel = jax.grad(
        lambda a, b: jnp.sum(xla_cpu.dense_matmul(a, b).astype(jnp.float32)), argnums=(0, 1)
    )(x, kernel)
    assert d_x.dtype == jnp.bfloat16 and d_kernel.dtype == jnp.bfloat16


@pytest.mark.parametrize("count", [0, 1, 2])
def test_sum_leading_axes_matches_jnp_sum(count):
    array = _random((4, 3, 5, 2), 3)
    np.testing.assert_allclose(
        xla_cpu.sum_leading_axes(array, count),
        jnp.sum(array, axis=tuple(range(count))),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("axes", [(0,), (1,), (0, 1), (1, 2), (2,)])
def test_mean_over_axes_matches_jnp_mean(axes):
    array = _random((6, 4, 5), 4)
    np.testing.assert_allclose(
        xla_cpu.mean_over_axes(array, axes), jnp.mean(array, axis=axes), rtol=1e-5, atol=1e-6
    )


def test_broadcast_rows_gradient_sums_the_rows():
    shared, probe = _random((1, 2, 3), 5), _random((4, 2, 3), 6)
    out = xla_cpu.broadcast_rows(shared, 4)
    np.testing.assert_array_equal(out, jnp.broadcast_to(shared, (4, 2, 3)))
    grad = jax.grad(lambda s: jnp.sum(xla_cpu.broadcast_rows(s, 4) * probe))(shared)
    np.testing.assert_allclose(grad, jnp.sum(probe, axis=0, keepdims=True), rtol=1e-5)


def test_broadcast_rows_leaves_arrays_that_already_have_rows():
    per_row = _random((4, 2), 7)
    assert xla_cpu.broadcast_rows(per_row, 4) is per_row
