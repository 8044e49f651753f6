"""Building blocks of T5 v1.1: RMS norm, embedding, dense kernels, gated-GELU MLP.

Every parameter carries logical axis names (``nn.with_logical_partitioning``) so the
partitioner (:mod:`instructrec_jax.partitioning`) can map it onto a device mesh. Parameter
names follow T5X's ``examples/t5/network.py`` (``kernel``, ``scale``, ``embedding``).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from instructrec_jax.models.config import T5Config
from instructrec_jax.models.xla_cpu import dense_matmul

Initializer = Callable[..., jax.Array]
LogicalAxes = tuple[str | None, ...]

# Activation logical axes.
BATCH_LENGTH_EMBED: LogicalAxes = ("batch", "length", "embed")
BATCH_LENGTH_MLP: LogicalAxes = ("batch", "length", "mlp")
BATCH_LENGTH_HEADS_KV: LogicalAxes = ("batch", "length", "heads", "kv")
BATCH_LENGTH_VOCAB: LogicalAxes = ("batch", "length", "vocab")


def fan_in_init(scale: float = 1.0, distribution: str = "truncated_normal") -> Initializer:
    """Variance-scaling initializer with fan-in of a 2-D kernel [in, out]."""
    return nn.initializers.variance_scaling(scale, "fan_in", distribution)


class RMSNorm(nn.Module):
    """T5 layer norm: scale only, no mean subtraction, no bias; statistics in float32.

    x [..., D] -> [..., D] in the config's activation dtype.
    """

    config: T5Config

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        scale = self.param(
            "scale",
            nn.with_logical_partitioning(nn.initializers.ones_init(), ("embed",)),
            (x.shape[-1],),
            self.config.parameter_dtype,
        )
        x32 = x.astype(jnp.float32)
        variance = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
        normed = (x32 * jax.lax.rsqrt(variance + self.config.layer_norm_epsilon)).astype(
            self.config.activation_dtype
        )
        return normed * scale.astype(self.config.activation_dtype)


class Embed(nn.Module):
    """Token embedding table ``embedding`` [vocab, embed]; tokens [...] int -> [..., D]."""

    config: T5Config

    def setup(self) -> None:
        self.embedding = self.param(
            "embedding",
            nn.with_logical_partitioning(nn.initializers.normal(stddev=1.0), ("vocab", "embed")),
            (self.config.vocab_size, self.config.d_model),
            self.config.parameter_dtype,
        )

    def __call__(self, tokens: jax.Array) -> jax.Array:
        if not jnp.issubdtype(tokens.dtype, jnp.integer):
            raise TypeError(f"token ids must be integers, got dtype {tokens.dtype}")
        return jnp.take(self.embedding, tokens, axis=0).astype(self.config.activation_dtype)


class Dense(nn.Module):
    """A bias-free kernel [in, features] with logical axis names; x [..., in] -> [..., features].

    ``compute_dtype`` overrides the config's activation dtype (the output head computes in
    float32, as T5X does).
    """

    config: T5Config
    features: int
    kernel_axes: LogicalAxes
    kernel_init: Initializer = fan_in_init()
    compute_dtype: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param(
            "kernel",
            nn.with_logical_partitioning(self.kernel_init, self.kernel_axes),
            (x.shape[-1], self.features),
            self.config.parameter_dtype,
        )
        dtype = jnp.dtype(self.compute_dtype or self.config.dtype)
        return dense_matmul(x.astype(dtype), kernel.astype(dtype), self.config.cpu_rewrites)


class GatedGeluMlp(nn.Module):
    """``wo(dropout(gelu_tanh(wi_0 x) * wi_1 x))``; x [B, T, D] -> [B, T, D]."""

    config: T5Config

    @nn.compact
    def __call__(self, x: jax.Array, enable_dropout: bool) -> jax.Array:
        config = self.config
        gate = Dense(config, config.d_ff, ("embed", "mlp"), name="wi_0")(x)
        linear = Dense(config, config.d_ff, ("embed", "mlp"), name="wi_1")(x)
        hidden = nn.gelu(gate, approximate=True) * linear
        hidden = nn.with_logical_constraint(hidden, BATCH_LENGTH_MLP)
        hidden = nn.Dropout(config.dropout_rate)(hidden, deterministic=not enable_dropout)
        return Dense(config, config.d_model, ("mlp", "embed"), name="wo")(hidden)
