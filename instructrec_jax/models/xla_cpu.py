"""Formulations of two patterns that XLA:CPU runs far below the machine's speed.

Both keep their values on every backend. One setting picks the form (``mode``, from
``T5Config.cpu_rewrites``): ``cpu`` the rewritten forms, ``plain`` the plain ``jnp`` forms
TPU and GPU run natively, ``auto`` (default) the rewritten forms when the computation is
traced for CPU devices: the platform of the mesh in context
(:func:`~instructrec_jax.models.target.target_platform`), so an ahead-of-time TPU or GPU
compile on a CPU host gets the plain forms; without a mesh, the default backend's.

1. Dense weight gradients (:func:`dense_matmul`). A dense layer ``y = x @ kernel``
   (x [..., in], kernel [in, out]) has two backward dots, ``dx = dy @ kernel.T`` and
   ``dkernel = x.T @ dy``. Autodiff writes the second as one ``dot_general`` contracting the
   token dims of both operands; XLA:CPU (jaxlib 0.10, AVX2) runs that form far below a plain
   ``[M, K] @ [K, N]`` dot, and for the output head it first transposes the whole ``dy``
   [tokens, vocab]. Materialising the small ``x.T`` [in, tokens] and running a plain dot
   measured 65 -> 159 GFLOP/s for the tiny preset's head (512 tokens, 128 -> 32128) and
   124 -> 143 GFLOP/s for a [2048, 512] x [2048, 2048] kernel gradient.

2. Sums over leading axes (:func:`sum_leading_axes`). A reduction over the major axis of a
   wide array, e.g. the mean over ``embed`` of a [128, 32128] squared gradient in
   Adafactor's column factor, took 12.2 ms where a ``ones @ x`` matrix-vector product took
   1.7 ms; the batch sum [16, 4, 128, 128] -> [4, 128, 128] of the relative-position bias
   gradient, 7.4 ms against 0.1 ms.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from instructrec_jax.models.target import target_platform

MODES = ("auto", "plain", "cpu")


@jax.custom_vjp
def _dense_with_plain_weight_gradient(x: jax.Array, kernel: jax.Array) -> jax.Array:
    return jnp.dot(x, kernel)


def _forward(x: jax.Array, kernel: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return jnp.dot(x, kernel), (x, kernel)


def _backward(
    residuals: tuple[jax.Array, jax.Array], d_output: jax.Array
) -> tuple[jax.Array, jax.Array]:
    x, kernel = residuals
    d_x = jax.lax.dot_general(d_output, kernel, (((d_output.ndim - 1,), (1,)), ((), ())))
    tokens_by_in = x.reshape(-1, x.shape[-1])
    tokens_by_out = d_output.reshape(-1, d_output.shape[-1])
    # The barrier keeps XLA from folding the transpose back into the dot's dimension numbers.
    in_by_tokens = jax.lax.optimization_barrier(tokens_by_in.T)
    d_kernel = jnp.dot(in_by_tokens, tokens_by_out)
    return d_x.astype(x.dtype), d_kernel.astype(kernel.dtype)


_dense_with_plain_weight_gradient.defvjp(_forward, _backward)


def use_cpu_forms(mode: str = "auto") -> bool:
    """Whether ``mode`` (one of :data:`MODES`) selects the rewritten forms where it is traced."""
    if mode == "auto":
        return target_platform() == "cpu"
    if mode not in MODES:
        raise ValueError(f"unknown CPU rewrite mode {mode!r}; known: {MODES}")
    return mode == "cpu"


def dense_matmul(x: jax.Array, kernel: jax.Array, mode: str = "auto") -> jax.Array:
    """``x [..., in] @ kernel [in, out] -> [..., out]``; same values in every ``mode``."""
    if use_cpu_forms(mode):
        return _dense_with_plain_weight_gradient(x, kernel)
    return jnp.dot(x, kernel)


def sum_leading_axes(array: jax.Array, count: int, mode: str = "auto") -> jax.Array:
    """Sum of ``array`` over its first ``count`` axes: [a0, .., a(count-1), *rest] -> rest.

    CPU forms: a float32 ``ones [1, a0*..] @ array [a0*.., prod(rest)]`` product at HIGHEST
    precision; plain: ``jnp.sum``.
    """
    if count == 0:
        return array
    if not use_cpu_forms(mode) or not jnp.issubdtype(array.dtype, jnp.floating):
        return jnp.sum(array, axis=tuple(range(count)))
    rest = array.shape[count:]
    leading = math.prod(array.shape[:count])
    matrix = array.reshape(leading, math.prod(rest))
    ones = jnp.ones((1, leading), array.dtype)
    total = jnp.dot(ones, matrix, precision=jax.lax.Precision.HIGHEST)
    return total.reshape(rest)


def mean_over_axes(array: jax.Array, axes: tuple[int, ...], mode: str = "auto") -> jax.Array:
    """``jnp.mean(array, axis=axes)``, through :func:`sum_leading_axes` when ``axes`` are the
    leading axes ``(0, 1, .., k-1)``."""
    if axes and tuple(axes) == tuple(range(len(axes))):
        count = math.prod(array.shape[: len(axes)])
        return sum_leading_axes(array, len(axes), mode) / count
    return jnp.mean(array, axis=axes)


def _broadcast(array: jax.Array, rows: int) -> jax.Array:
    return jnp.broadcast_to(array, (rows, *array.shape[1:]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _broadcast_rows_summing_on_cpu(array: jax.Array, rows: int) -> jax.Array:
    return _broadcast(array, rows)


def _broadcast_rows_forward(array: jax.Array, rows: int) -> tuple[jax.Array, None]:
    return _broadcast(array, rows), None


def _broadcast_rows_backward(rows: int, _: None, d_output: jax.Array) -> tuple[jax.Array]:
    del rows
    return (sum_leading_axes(d_output, 1, mode="cpu")[None],)


_broadcast_rows_summing_on_cpu.defvjp(_broadcast_rows_forward, _broadcast_rows_backward)


def broadcast_rows(array: jax.Array, rows: int, mode: str = "auto") -> jax.Array:
    """[1, ...] -> [rows, ...]; with the CPU forms its gradient sums the rows through
    :func:`sum_leading_axes`.

    Arrays whose leading dim is not 1 are returned unchanged (they already have their rows).
    """
    if array.shape[0] != 1 or rows == 1:
        return array
    if not use_cpu_forms(mode):
        return _broadcast(array, rows)
    return _broadcast_rows_summing_on_cpu(array, rows)
