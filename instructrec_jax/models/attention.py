"""T5 attention: relative position buckets, masks as additive biases, multi-head attention.

Shapes: B batch, T query length, S key length, H heads, K head_dim, D d_model.
Attention logits are not scaled by 1/sqrt(K) (T5 folds that into the query initializer).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from instructrec_jax.models.config import T5Config
from instructrec_jax.models.layers import BATCH_LENGTH_HEADS_KV, Dense, fan_in_init
from instructrec_jax.models.xla_cpu import broadcast_rows

MASKED_BIAS = -1e10


def relative_position_bucket(
    relative_position: jax.Array, bidirectional: bool, num_buckets: int, max_distance: int
) -> jax.Array:
    """Bucket of ``key_position - query_position`` (int array, any shape) -> int32 buckets.

    Half of the buckets (``num_buckets // 2`` when bidirectional, per direction) hold exact
    distances; the rest grow logarithmically up to ``max_distance``, beyond which all
    distances share the last bucket. Causal (``bidirectional=False``) maps keys after the
    query to bucket 0.
    """
    relative_position = relative_position.astype(jnp.int32)
    buckets = jnp.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).astype(jnp.int32) * num_buckets
        distance = jnp.abs(relative_position)
    else:
        distance = -jnp.minimum(relative_position, 0)
    max_exact = num_buckets // 2
    is_exact = distance < max_exact
    safe_distance = jnp.maximum(distance, 1).astype(jnp.float32)
    log_ratio = jnp.log(safe_distance / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (num_buckets - max_exact)).astype(jnp.int32)
    large = jnp.minimum(large, num_buckets - 1)
    return buckets + jnp.where(is_exact, distance, large)


class RelativePositionBias(nn.Module):
    """Learned per-head bias by relative-position bucket, one table per stack.

    Parameter ``rel_embedding`` [H, buckets]. ``__call__(query_positions [B|1, T],
    key_positions [B|1, S])`` -> float32 bias [B|1, H, T, S].
    """

    config: T5Config
    bidirectional: bool

    @nn.compact
    def __call__(self, query_positions: jax.Array, key_positions: jax.Array) -> jax.Array:
        config = self.config
        table = self.param(
            "rel_embedding",
            nn.with_logical_partitioning(
                nn.initializers.variance_scaling(1.0, "fan_avg", "uniform"),
                ("heads", "relpos_buckets"),
            ),
            (config.num_heads, config.relative_attention_num_buckets),
            config.parameter_dtype,
        )
        relative = key_positions[:, None, :] - query_positions[:, :, None]
        buckets = relative_position_bucket(
            relative,
            self.bidirectional,
            config.relative_attention_num_buckets,
            config.relative_attention_max_distance,
        )
        bias = jnp.take(table.astype(jnp.float32), buckets, axis=1)  # [H, B, T, S]
        return jnp.transpose(bias, (1, 0, 2, 3))


def mask_to_bias(mask: jax.Array) -> jax.Array:
    """Boolean mask [...] (True = may attend) -> float32 additive bias (0 or -1e10)."""
    return jnp.where(mask, 0.0, MASKED_BIAS).astype(jnp.float32)


def add_mask_bias(
    position_bias: jax.Array, mask_bias: jax.Array, cpu_rewrites: str = "auto"
) -> jax.Array:
    """Position bias [1|B, H, T, S] + mask bias [1|B, 1|H, 1|T, S] -> [B|1, H, T, S].

    A shared position bias is broadcast to the mask's rows through
    :func:`~instructrec_jax.models.xla_cpu.broadcast_rows`, whose gradient (the sum over
    rows) XLA:CPU would otherwise run as a slow major-axis reduction (``cpu_rewrites``:
    ``T5Config.cpu_rewrites``).
    """
    return broadcast_rows(position_bias, mask_bias.shape[0], cpu_rewrites) + mask_bias


def default_positions(tokens: jax.Array) -> jax.Array:
    """Positions 0..length-1 as [1, length] int32 (shared by every row of tokens [B, length])."""
    return jnp.arange(tokens.shape[-1], dtype=jnp.int32)[None, :]


def segment_mask(query_segments: jax.Array, key_segments: jax.Array) -> jax.Array:
    """Segment ids [B, T] and [B, S] -> bool [B, 1, T, S], True within the same segment."""
    return query_segments[:, None, :, None] == key_segments[:, None, None, :]


class KeyValueCache(nn.Module):
    """Autoregressive key/value cache in the flax ``cache`` collection.

    Variables ``cached_key``/``cached_value`` [B, T_max, H, K] and ``cache_index`` (int32).
    ``__call__(keys, values)``: when the cache does not exist yet it is created with the
    shapes of keys/values [B, T_max, H, K] and None is returned; otherwise one step
    [B, 1, H, K] is written at ``cache_index`` and (all keys, all values, the step's index)
    are returned.
    """

    @nn.compact
    def __call__(
        self, keys: jax.Array, values: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array] | None:
        initialized = self.has_variable("cache", "cached_key")
        cached_key = self.variable("cache", "cached_key", jnp.zeros, keys.shape, keys.dtype)
        cached_value = self.variable("cache", "cached_value", jnp.zeros, values.shape, values.dtype)
        cache_index = self.variable("cache", "cache_index", lambda: jnp.array(0, jnp.int32))
        if not initialized:
            return None
        index = cache_index.value
        start = (0, index, 0, 0)
        cached_key.value = jax.lax.dynamic_update_slice(cached_key.value, keys, start)
        cached_value.value = jax.lax.dynamic_update_slice(cached_value.value, values, start)
        cache_index.value = index + 1
        return cached_key.value, cached_value.value, index


class MultiHeadAttention(nn.Module):
    """Projections ``query``, ``key``, ``value`` [D, H*K] and ``out`` [H*K, D] (T5X names).

    ``project_kv`` lets callers compute cross-attention keys/values once and reuse them;
    ``attend`` runs attention from queries and given keys/values; ``self_attend`` adds the
    optional autoregressive cache (flax collection ``cache``).
    """

    config: T5Config

    def setup(self) -> None:
        config = self.config
        joined = config.num_heads * config.head_dim
        query_init = fan_in_init(1.0 / config.head_dim, "normal")
        self.query = Dense(config, joined, ("embed", "joined_kv"), kernel_init=query_init)
        kv_init = fan_in_init(1.0, "normal")
        self.key = Dense(config, joined, ("embed", "joined_kv"), kernel_init=kv_init)
        self.value = Dense(config, joined, ("embed", "joined_kv"), kernel_init=kv_init)
        self.out = Dense(config, config.d_model, ("joined_kv", "embed"), kernel_init=kv_init)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.cache = KeyValueCache()

    def _split_heads(self, x: jax.Array) -> jax.Array:
        """[..., H*K] -> [..., H, K] with logical constraint on [B, T, H, K]."""
        split = x.reshape(*x.shape[:-1], self.config.num_heads, self.config.head_dim)
        if split.ndim == 4:
            split = nn.with_logical_constraint(split, BATCH_LENGTH_HEADS_KV)
        return split

    def project_query(self, x: jax.Array) -> jax.Array:
        """x [B, T, D] -> queries [B, T, H, K]."""
        return self._split_heads(self.query(x))

    def project_kv(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """x [B, S, D] -> (keys, values), each [B, S, H, K]."""
        return self._split_heads(self.key(x)), self._split_heads(self.value(x))

    def attend(
        self,
        queries: jax.Array,
        keys: jax.Array,
        values: jax.Array,
        bias: jax.Array | None,
        enable_dropout: bool,
    ) -> jax.Array:
        """queries [B, T, H, K], keys/values [B, S, H, K], bias broadcastable to [B, H, T, S]
        (float32, additive) -> output [B, T, D]."""
        dtype = self.config.activation_dtype
        logits = jnp.einsum("bthk,bshk->bhts", queries.astype(dtype), keys.astype(dtype))
        logits = logits.astype(jnp.float32)
        if bias is not None:
            logits = logits + bias
        weights = jax.nn.softmax(logits, axis=-1).astype(dtype)
        weights = self.dropout(weights, deterministic=not enable_dropout)
        context = jnp.einsum("bhts,bshk->bthk", weights, values.astype(dtype))
        context = context.reshape(*context.shape[:2], -1)
        return self.out(context)

    def self_attend(
        self, x: jax.Array, bias: jax.Array | None, enable_dropout: bool, decode: bool = False
    ) -> jax.Array:
        """Self-attention of x [B, T, D] -> [B, T, D].

        With ``decode=True`` the keys/values live in the ``cache`` collection. The first such
        call (cache not yet created) sizes the cache as [B, T_max, H, K] from x and otherwise
        behaves like a normal call; later calls take one step x [B, 1, D], write it at
        ``cache_index`` and attend to the cached prefix. In a step call ``bias`` is the full
        [1|B, H, T_max, T_max] relative-position bias; its row ``cache_index`` is used and
        causality is enforced here.
        """
        queries = self.project_query(x)
        keys, values = self.project_kv(x)
        if not decode:
            return self.attend(queries, keys, values, bias, enable_dropout)
        step = self.cache(keys, values)
        if step is None:
            return self.attend(queries, keys, values, bias, enable_dropout)
        if x.shape[1] != 1:
            raise ValueError(f"a cached decoding step takes one token per row, got x {x.shape}")
        keys, values, index = step
        max_length = keys.shape[1]
        causal = jnp.arange(max_length) <= index
        step_bias = mask_to_bias(causal)[None, None, None, :]
        if bias is not None:
            row = jax.lax.dynamic_slice_in_dim(bias, index, 1, axis=2)
            step_bias = step_bias + row
        return self.attend(queries, keys, values, step_bias, enable_dropout)
