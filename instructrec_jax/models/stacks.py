"""Encoder and decoder stacks of T5 v1.1 (pre-norm residual layers, T5X parameter names).

A stack is unrolled (``layers_0`` .. ``layers_{n-1}``) or, with ``T5Config.scan_layers``,
one ``nn.scan`` (``layers``, every parameter stacked [n, ...]); see
:mod:`instructrec_jax.models.layer_stack`. Either way the relative-position bias is one
table per stack, computed once and shared by every layer.

Shapes: R decoder rows (batch, or batch x candidates), B batch, L encoder length,
T decoder length, D d_model, H heads, K head_dim, V vocab, N layers of a stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

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
from instructrec_jax.models.layer_stack import remat_layer, scan_stack
from instructrec_jax.models.layers import (
    BATCH_LENGTH_EMBED,
    BATCH_LENGTH_VOCAB,
    Dense,
    Embed,
    GatedGeluMlp,
    RMSNorm,
)

# Cross-attention keys/values of every decoder layer (see :class:`Decoder`).
CrossKV = tuple[tuple[jax.Array, jax.Array], ...] | tuple[jax.Array, jax.Array]


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


def _with_scan_carry(layer_cls: type[nn.Module]) -> type[nn.Module]:
    """``layer_cls`` with the scan signature ``(x, *args) -> (x, None)``: ``x`` is the
    carry and ``args`` are the layer's own (scanned with per-argument ``in_axes``)."""

    class Scanned(layer_cls):  # type: ignore[misc, valid-type]
        def __call__(self, x: jax.Array, *args: object) -> tuple[jax.Array, None]:  # type: ignore[override]
            return super().__call__(x, *args), None

    Scanned.__name__ = Scanned.__qualname__ = f"Scanned{layer_cls.__name__}"
    return Scanned


ScannedEncoderLayer = _with_scan_carry(EncoderLayer)
"""``EncoderLayer``: ``(x, bias, enable_dropout) -> (x, None)``."""


class ScannedDecoderLayer(_with_scan_carry(DecoderLayer)):  # type: ignore[misc]
    """:class:`DecoderLayer` with scan signatures: ``__call__`` carries x and takes this
    layer's slice of the stacked cross keys/values; ``stacked_cross_kv`` carries the encoder
    output and returns this layer's (keys, values), stacked by the scan to [N, B, L, H, K]."""

    def stacked_cross_kv(self, encoded: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        """(encoded [B, L, D] unchanged, this layer's (keys, values) [B, L, H, K])."""
        return encoded, self.cross_kv(encoded)


def _encoder_stack(config: T5Config) -> nn.Module | list[nn.Module]:
    """The encoder's layers: one scanned module, or a list of ``num_encoder_layers``."""
    scanned = config.scan_layers
    layer_cls = ScannedEncoderLayer if scanned else EncoderLayer
    layer_cls = remat_layer(layer_cls, config.remat_policy, (3,), scanned)
    if not scanned:
        return [layer_cls(config) for _ in range(config.num_encoder_layers)]
    in_axes = (nn.broadcast, nn.broadcast)
    return scan_stack(layer_cls, config.num_encoder_layers, {"__call__": in_axes})(config)


def _decoder_stack(config: T5Config) -> nn.Module | list[nn.Module]:
    """The decoder's layers: one scanned module, or a list of ``num_decoder_layers``."""
    scanned = config.scan_layers
    layer_cls = ScannedDecoderLayer if scanned else DecoderLayer
    layer_cls = remat_layer(layer_cls, config.remat_policy, (6, 7, 8), scanned)
    if not scanned:
        return [layer_cls(config) for _ in range(config.num_decoder_layers)]
    broadcast = nn.broadcast
    in_axes = (broadcast, 0, 0, broadcast, broadcast, broadcast, broadcast)
    methods = {"__call__": in_axes, "stacked_cross_kv": ()}
    return scan_stack(layer_cls, config.num_decoder_layers, methods)(config)


class _Stack(nn.Module):
    """What the encoder and decoder share: the tied token embedding, one relative-position
    bias table (``relpos_bias``), the ``layers`` and their dropout (T5X names)."""

    config: T5Config
    shared_embedding: Embed

    bidirectional: ClassVar[bool]
    make_layers: ClassVar[Callable[[T5Config], nn.Module | list[nn.Module]]]

    def setup(self) -> None:
        self.relpos_bias = RelativePositionBias(self.config, bidirectional=self.bidirectional)
        self.layers = type(self).make_layers(self.config)
        self.dropout = nn.Dropout(self.config.dropout_rate)

    def _embed(self, tokens: jax.Array, deterministic: bool) -> jax.Array:
        """Token embeddings [R, T, D] (activation dtype) after dropout."""
        x = nn.with_logical_constraint(self.shared_embedding(tokens), BATCH_LENGTH_EMBED)
        return self.dropout(x, deterministic=deterministic)


class Encoder(_Stack):
    """Tokens [B, L] -> encoded [B, L, D]; ``mask_bias`` float32 [B, 1, L|1, L]."""

    bidirectional = True
    make_layers = staticmethod(_encoder_stack)

    def setup(self) -> None:
        super().setup()
        self.encoder_norm = RMSNorm(self.config)

    def __call__(
        self, tokens: jax.Array, positions: jax.Array, mask_bias: jax.Array, enable_dropout: bool
    ) -> jax.Array:
        deterministic = not enable_dropout
        x = self._embed(tokens, deterministic)
        position_bias = self.relpos_bias(positions, positions)
        bias = add_mask_bias(position_bias, mask_bias, self.config.cpu_rewrites)
        if self.config.scan_layers:
            x, _ = self.layers(x, bias, enable_dropout)
        else:
            for layer in self.layers:
                x = layer(x, bias, enable_dropout)
        x = self.encoder_norm(x)
        return self.dropout(x, deterministic=deterministic)


class Decoder(_Stack):
    """Decoder tokens [R, T] + cross keys/values -> logits [R, T, V] (float32).

    Cross keys/values (:data:`CrossKV`): unrolled, a tuple of per-layer (keys, values)
    [B, L, H, K]; scanned, one (keys, values) pair stacked [N, B, L, H, K].
    """

    bidirectional = False
    make_layers = staticmethod(_decoder_stack)

    def setup(self) -> None:
        super().setup()
        self.decoder_norm = RMSNorm(self.config)
        self.logits_dense = Dense(
            self.config,
            self.config.vocab_size,
            ("embed", "vocab"),
            kernel_init=nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal"),
            compute_dtype="float32",
        )

    def cross_attention_kv(self, encoded: jax.Array) -> CrossKV:
        """The cross keys/values (see the class docstring) of the encoder output [B, L, D]."""
        if self.config.scan_layers:
            _, stacked = self.layers.stacked_cross_kv(encoded)
            return stacked
        return tuple(layer.cross_kv(encoded) for layer in self.layers)

    def __call__(
        self,
        tokens: jax.Array,
        target_tokens: jax.Array | None,
        segment_ids: jax.Array | None,
        positions: jax.Array | None,
        cross_kv: CrossKV,
        cross_bias: jax.Array,
        num_candidates: int,
        enable_dropout: bool,
        decode: bool,
    ) -> jax.Array:
        self._check_cross_kv(cross_kv)
        deterministic = not enable_dropout
        self_bias = self._self_bias(tokens, target_tokens, segment_ids, positions, decode)
        x = self._embed(tokens, deterministic)
        if self.config.scan_layers:
            keys, values = cross_kv
            flags = (num_candidates, enable_dropout, decode)
            x, _ = self.layers(x, self_bias, keys, values, cross_bias, *flags)
        else:
            for layer, (keys, values) in zip(self.layers, cross_kv):
                x = layer(
                    x, self_bias, keys, values, cross_bias, num_candidates, enable_dropout, decode
                )
        x = self.decoder_norm(x)
        x = self.dropout(x, deterministic=deterministic)
        logits = self.logits_dense(x)
        return nn.with_logical_constraint(logits, BATCH_LENGTH_VOCAB)

    def _check_cross_kv(self, cross_kv: CrossKV) -> None:
        """Raise ValueError when ``cross_kv`` does not have this stack's layout."""
        layers = self.config.num_decoder_layers
        if self.config.scan_layers:
            if len(cross_kv) != 2 or getattr(cross_kv[0], "ndim", 0) != 5:
                raise ValueError(
                    "a scanned decoder takes cross_kv as (keys, values) [N, B, L, H, K]"
                )
            if cross_kv[0].shape[0] != layers:
                raise ValueError(
                    f"cross_kv stacks {cross_kv[0].shape[0]} layers, the decoder {layers}"
                )
        elif len(cross_kv) != layers:
            raise ValueError(f"cross_kv has {len(cross_kv)} layers, the decoder {layers}")

    def _cached_length(self) -> int | None:
        """T_max of an existing autoregressive cache, or None when there is none yet."""
        cache = self.variables.get("cache", {})
        name = "layers" if self.config.scan_layers else "layers_0"
        if name not in cache:
            return None
        # Scanned caches are stacked [N, R, T_max, H, K].
        cached_key = cache[name]["self_attention"]["cache"]["cached_key"]
        return int(cached_key.shape[-3])

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
        position_bias = self.relpos_bias(positions, positions)
        return add_mask_bias(position_bias, mask_to_bias(mask), self.config.cpu_rewrites)
