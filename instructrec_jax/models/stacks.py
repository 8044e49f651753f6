"""Encoder and decoder stacks of T5 v1.1 (pre-norm residual layers, T5X parameter names).

Shapes: R decoder rows (batch, or batch x candidates), B batch, L encoder length,
T decoder length, D d_model, H heads, K head_dim, V vocab.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from instructrec_jax.models.attention import (
    MultiHeadAttention,
    RelativePositionBias,
    add_mask_bias,
    default_positions,
    mask_to_bias,
    segment_mask,
)
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.layers import (
    BATCH_LENGTH_EMBED,
    BATCH_LENGTH_VOCAB,
    Dense,
    Embed,
    GatedGeluMlp,
    RMSNorm,
)

_REMAT_POLICIES: dict[str, Any] = {
    "full": None,
    "dots_saveable": jax.checkpoint_policies.dots_saveable,
    "dots_with_no_batch_dims_saveable": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
    "everything_saveable": jax.checkpoint_policies.everything_saveable,
}


def maybe_remat(
    layer_cls: type[nn.Module], policy_name: str, static_argnums: tuple[int, ...]
) -> Any:
    """``layer_cls`` wrapped in ``nn.remat`` per the policy (``"none"``: unchanged).

    ``static_argnums`` index the positional arguments of ``__call__`` counting ``self`` as 0
    (flax's convention); they must be Python values (flags, counts).
    """
    if policy_name == "none":
        return layer_cls
    static = static_argnums
    return nn.remat(
        layer_cls, policy=_REMAT_POLICIES[policy_name], static_argnums=static, prevent_cse=True
    )


class EncoderLayer(nn.Module):
    """Self-attention then gated-GELU MLP, each pre-normed and residual; [B, L, D] -> same."""

    config: T5Config

    def setup(self) -> None:
        self.pre_attention_layer_norm = RMSNorm(self.config)
        self.attention = MultiHeadAttention(self.config)
        self.pre_mlp_layer_norm = RMSNorm(self.config)
        self.mlp = GatedGeluMlp(self.config)
        self.dropout = nn.Dropout(self.config.dropout_rate)

    def __call__(self, x: jax.Array, bias: jax.Array, enable_dropout: bool) -> jax.Array:
        deterministic = not enable_dropout
        h = self.attention.self_attend(self.pre_attention_layer_norm(x), bias, enable_dropout)
        x = x + self.dropout(h, deterministic=deterministic)
        h = self.mlp(self.pre_mlp_layer_norm(x), enable_dropout)
        x = x + self.dropout(h, deterministic=deterministic)
        return nn.with_logical_constraint(x, BATCH_LENGTH_EMBED)


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention, MLP; [R, T, D] -> same.

    Cross-attention takes per-layer keys/values [B, L, H, K]; when R = B x N the N
    candidates of a row share them (queries are grouped to [B, N*T, H, K]).
    """

    config: T5Config

    def setup(self) -> None:
        self.pre_self_attention_layer_norm = RMSNorm(self.config)
        self.self_attention = MultiHeadAttention(self.config)
        self.pre_cross_attention_layer_norm = RMSNorm(self.config)
        self.encoder_decoder_attention = MultiHeadAttention(self.config)
        self.pre_mlp_layer_norm = RMSNorm(self.config)
        self.mlp = GatedGeluMlp(self.config)
        self.dropout = nn.Dropout(self.config.dropout_rate)

    def cross_kv(self, encoded: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Encoder output [B, L, D] -> this layer's cross-attention (keys, values) [B, L, H, K]."""
        return self.encoder_decoder_attention.project_kv(encoded)

    def __call__(
        self,
        x: jax.Array,
        self_bias: jax.Array,
        cross_keys: jax.Array,
        cross_values: jax.Array,
        cross_bias: jax.Array,
        num_candidates: int,
        enable_dropout: bool,
        decode: bool,
    ) -> jax.Array:
        deterministic = not enable_dropout
        h = self.pre_self_attention_layer_norm(x)
        h = self.self_attention.self_attend(h, self_bias, enable_dropout, decode)
        x = x + self.dropout(h, deterministic=deterministic)

        h = self.pre_cross_attention_layer_norm(x)
        queries = self.encoder_decoder_attention.project_query(h)
        rows, length = queries.shape[:2]
        groups = rows // num_candidates
        grouped = queries.reshape(groups, num_candidates * length, *queries.shape[2:])
        h = self.encoder_decoder_attention.attend(
            grouped, cross_keys, cross_values, cross_bias, enable_dropout
        )
        x = x + self.dropout(h.reshape(rows, length, -1), deterministic=deterministic)

        h = self.mlp(self.pre_mlp_layer_norm(x), enable_dropout)
        x = x + self.dropout(h, deterministic=deterministic)
        return nn.with_logical_constraint(x, BATCH_LENGTH_EMBED)


class Encoder(nn.Module):
    """Tokens [B, L] -> encoded [B, L, D]; ``mask_bias`` float32 [B, 1, L|1, L]."""

    config: T5Config
    shared_embedding: Embed

    def setup(self) -> None:
        config = self.config
        layer_cls = maybe_remat(EncoderLayer, config.remat_policy, static_argnums=(3,))
        self.relpos_bias = RelativePositionBias(config, bidirectional=True)
        self.layers = [layer_cls(config) for _ in range(config.num_encoder_layers)]
        self.encoder_norm = RMSNorm(config)
        self.dropout = nn.Dropout(config.dropout_rate)

    def __call__(
        self, tokens: jax.Array, positions: jax.Array, mask_bias: jax.Array, enable_dropout: bool
    ) -> jax.Array:
        deterministic = not enable_dropout
        x = self.shared_embedding(tokens)
        x = nn.with_logical_constraint(x, BATCH_LENGTH_EMBED)
        x = self.dropout(x, deterministic=deterministic)
        bias = add_mask_bias(self.relpos_bias(positions, positions), mask_bias)
        for layer in self.layers:
            x = layer(x, bias, enable_dropout)
        x = self.encoder_norm(x)
        return self.dropout(x, deterministic=deterministic)


class Decoder(nn.Module):
    """Decoder tokens [R, T] + cross keys/values -> logits [R, T, V] (float32)."""

    config: T5Config
    shared_embedding: Embed

    def setup(self) -> None:
        config = self.config
        layer_cls = maybe_remat(DecoderLayer, config.remat_policy, static_argnums=(6, 7, 8))
        self.relpos_bias = RelativePositionBias(config, bidirectional=False)
        self.layers = [layer_cls(config) for _ in range(config.num_decoder_layers)]
        self.decoder_norm = RMSNorm(config)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.logits_dense = Dense(
            config,
            config.vocab_size,
            ("embed", "vocab"),
            kernel_init=nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal"),
            compute_dtype="float32",
        )

    def cross_attention_kv(self, encoded: jax.Array) -> tuple[tuple[jax.Array, jax.Array], ...]:
        """Per layer (keys, values) [B, L, H, K] of the encoder output [B, L, D]."""
        return tuple(layer.cross_kv(encoded) for layer in self.layers)

    def __call__(
        self,
        tokens: jax.Array,
        target_tokens: jax.Array | None,
        segment_ids: jax.Array | None,
        positions: jax.Array | None,
        cross_kv: tuple[tuple[jax.Array, jax.Array], ...],
        cross_bias: jax.Array,
        num_candidates: int,
        enable_dropout: bool,
        decode: bool,
    ) -> jax.Array:
        if len(cross_kv) != len(self.layers):
            raise ValueError(f"cross_kv has {len(cross_kv)} layers, the decoder {len(self.layers)}")
        deterministic = not enable_dropout
        self_bias = self._self_bias(tokens, target_tokens, segment_ids, positions, decode)
        x = self.shared_embedding(tokens)
        x = nn.with_logical_constraint(x, BATCH_LENGTH_EMBED)
        x = self.dropout(x, deterministic=deterministic)
        for layer, (keys, values) in zip(self.layers, cross_kv):
            x = layer(
                x, self_bias, keys, values, cross_bias, num_candidates, enable_dropout, decode
            )
        x = self.decoder_norm(x)
        x = self.dropout(x, deterministic=deterministic)
        logits = self.logits_dense(x)
        return nn.with_logical_constraint(logits, BATCH_LENGTH_VOCAB)

    def _cached_length(self) -> int | None:
        """T_max of an existing autoregressive cache, or None when there is none yet."""
        cache = self.variables.get("cache", {})
        if "layers_0" not in cache:
            return None
        return int(cache["layers_0"]["self_attention"]["cache"]["cached_key"].shape[1])

    def _self_bias(
        self,
        tokens: jax.Array,
        target_tokens: jax.Array | None,
        segment_ids: jax.Array | None,
        positions: jax.Array | None,
        decode: bool,
    ) -> jax.Array:
        """Relative-position bias plus causal/segment/padding mask: float32 [R|1, H, T, T].

        In a cached step the bias spans [T_max, T_max]; the attention picks its row and
        applies causality itself.
        """
        cached_length = self._cached_length() if decode else None
        if cached_length is not None:
            steps = jnp.arange(cached_length, dtype=jnp.int32)[None, :]
            return self.relpos_bias(steps, steps)
        if positions is None:
            positions = default_positions(tokens)
        length = tokens.shape[-1]
        mask = jnp.tril(jnp.ones((length, length), dtype=bool))[None, None]
        if segment_ids is not None:
            mask = mask & segment_mask(segment_ids, segment_ids)
        if target_tokens is not None:
            # Keys whose target is padding are masked; real positions never see them.
            mask = mask & (target_tokens.reshape(tokens.shape) > 0)[:, None, None, :]
        return add_mask_bias(self.relpos_bias(positions, positions), mask_to_bias(mask))
