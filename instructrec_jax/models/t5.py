"""The Flan-T5 / T5 v1.1 encoder-decoder as a flax linen module with T5X parameter names.

Parameter tree (T5X ``examples/t5/network.py``)::

    token_embedder/embedding                          [vocab, embed]
    encoder/relpos_bias/rel_embedding                 [heads, relpos_buckets]
    encoder/layers_i/{pre_attention_layer_norm, attention/{query,key,value,out}, pre_mlp_layer_norm,
                      mlp/{wi_0,wi_1,wo}}
    encoder/encoder_norm/scale
    decoder/relpos_bias/rel_embedding
    decoder/layers_i/{pre_self_attention_layer_norm, self_attention, pre_cross_attention_layer_norm,
                      encoder_decoder_attention, pre_mlp_layer_norm, mlp}
    decoder/decoder_norm/scale
    decoder/logits_dense/kernel                       [embed, vocab]

With ``T5Config.scan_layers`` the ``layers_i`` subtrees become one ``layers`` subtree whose
every parameter has a leading [num_layers] axis (logical name ``layers``).

Token id 0 is padding (and the decoder start token). Shapes: B batch, L encoder length,
T decoder length, N candidates per input, D d_model, H heads, K head_dim, V vocab.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from instructrec_jax.models.attention import default_positions, mask_to_bias, segment_mask
from instructrec_jax.models.config import T5Config
from instructrec_jax.models.layers import Embed
from instructrec_jax.models.stacks import CrossKV, Decoder, Encoder
from instructrec_jax.partitioning import Partitioner


class Transformer(nn.Module):
    """Encoder-decoder T5. See the module docstring for the parameter tree and shapes."""

    config: T5Config

    def setup(self) -> None:
        self.token_embedder = Embed(self.config)
        self.encoder = Encoder(self.config, self.token_embedder)
        self.decoder = Decoder(self.config, self.token_embedder)

    def __call__(
        self,
        encoder_input_tokens: jax.Array,
        decoder_input_tokens: jax.Array,
        decoder_target_tokens: jax.Array | None = None,
        encoder_segment_ids: jax.Array | None = None,
        decoder_segment_ids: jax.Array | None = None,
        encoder_positions: jax.Array | None = None,
        decoder_positions: jax.Array | None = None,
        enable_dropout: bool = False,
        decode: bool = False,
    ) -> jax.Array:
        """Teacher-forced logits [B, T, V] float32.

        Packed batches give segment ids (restricting every attention to its segment) and
        positions that restart at 0 per segment (for the relative position bias).
        """
        encoded = self.encode(
            encoder_input_tokens,
            encoder_segment_ids,
            enable_dropout,
            encoder_positions=encoder_positions,
        )
        return self.decode(
            encoded,
            encoder_input_tokens,
            decoder_input_tokens,
            decoder_target_tokens=decoder_target_tokens,
            encoder_segment_ids=encoder_segment_ids,
            decoder_segment_ids=decoder_segment_ids,
            decoder_positions=decoder_positions,
            enable_dropout=enable_dropout,
            decode=decode,
        )

    def encode(
        self,
        encoder_input_tokens: jax.Array,
        encoder_segment_ids: jax.Array | None = None,
        enable_dropout: bool = False,
        encoder_positions: jax.Array | None = None,
    ) -> jax.Array:
        """Encoder output [B, L, D] (activation dtype) for tokens [B, L]."""
        valid = encoder_input_tokens > 0
        mask = valid[:, None, None, :]
        if encoder_segment_ids is not None:
            mask = mask & segment_mask(encoder_segment_ids, encoder_segment_ids)
        positions = (
            default_positions(encoder_input_tokens)
            if encoder_positions is None
            else encoder_positions
        )
        return self.encoder(encoder_input_tokens, positions, mask_to_bias(mask), enable_dropout)

    def cross_attention_kv(self, encoded: jax.Array) -> CrossKV:
        """Cross keys/values of the encoder output: per decoder layer (keys, values), each
        [B, L, H, K]; with scanned layers one (keys, values) pair stacked [layers, B, L, H, K]."""
        return self.decoder.cross_attention_kv(encoded)

    def decode(
        self,
        encoded: jax.Array | None,
        encoder_input_tokens: jax.Array,
        decoder_input_tokens: jax.Array,
        cross_kv: CrossKV | None = None,
        decoder_target_tokens: jax.Array | None = None,
        encoder_segment_ids: jax.Array | None = None,
        decoder_segment_ids: jax.Array | None = None,
        decoder_positions: jax.Array | None = None,
        enable_dropout: bool = False,
        decode: bool = False,
    ) -> jax.Array:
        """Decoder logits [B, T, V], or [B, N, T, V] for candidates [B, N, T] (float32).

        Give ``encoded`` [B, L, D] or precomputed ``cross_kv`` (from ``cross_attention_kv``);
        ``encoder_input_tokens`` [B, L] supplies the padding mask. With a candidate axis N
        every candidate attends to its own row's keys/values without copying them N times.

        ``decode=True`` uses the ``cache`` collection: a first call with
        ``decoder_input_tokens`` [B(, N), T_max] creates an empty cache (see
        :func:`init_decode_cache`); each later call takes one token [B(, N), 1].
        """
        if cross_kv is None:
            if encoded is None:
                raise ValueError("decode needs either `encoded` or `cross_kv`")
            cross_kv = self.cross_attention_kv(encoded)
        has_candidates = decoder_input_tokens.ndim == 3
        batch = decoder_input_tokens.shape[0]
        num_candidates = decoder_input_tokens.shape[1] if has_candidates else 1
        tokens = decoder_input_tokens.reshape(batch * num_candidates, -1)
        if has_candidates and (decoder_segment_ids is not None or encoder_segment_ids is not None):
            raise ValueError("segment ids (packing) cannot be combined with a candidate axis")
        if encoder_input_tokens.shape[0] != batch:
            raise ValueError(
                f"encoder_input_tokens has batch {encoder_input_tokens.shape[0]}, "
                f"decoder_input_tokens {decoder_input_tokens.shape}"
            )
        if decoder_positions is not None:
            decoder_positions = decoder_positions.reshape(tokens.shape)
        cross_mask = (encoder_input_tokens > 0)[:, None, None, :]
        if decoder_segment_ids is not None and encoder_segment_ids is not None:
            cross_mask = cross_mask & segment_mask(decoder_segment_ids, encoder_segment_ids)
        logits = self.decoder(
            tokens,
            decoder_target_tokens,
            decoder_segment_ids,
            decoder_positions,
            cross_kv,
            mask_to_bias(cross_mask),
            num_candidates,
            enable_dropout,
            decode,
        )
        if has_candidates:
            logits = logits.reshape(batch, num_candidates, *logits.shape[1:])
        return logits


def abstract_params(config: T5Config) -> Any:
    """Parameter shapes/dtypes (``jax.ShapeDtypeStruct``, boxed with logical axis names)."""
    model = Transformer(config)
    tokens = jnp.ones((1, 1), jnp.int32)
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), tokens, tokens))
    return variables["params"]


def init_params(config: T5Config, rng: jax.Array) -> Any:
    """Freshly initialized parameters (plain arrays, no logical-axis boxes)."""
    model = Transformer(config)
    tokens = jnp.ones((1, 1), jnp.int32)
    init = Partitioner.single_device().partition(
        lambda key: nn.unbox(model.init(key, tokens, tokens)["params"])
    )
    return init(rng)


def init_decode_cache(
    config: T5Config, batch_size: int, max_decode_length: int, num_candidates: int | None = None
) -> Any:
    """An empty autoregressive cache for ``Transformer.decode(..., decode=True)``.

    Rows are ``batch_size`` (times ``num_candidates`` when decoding with a candidate axis).
    Built from shapes only (``jax.eval_shape``), then zero-filled.
    """
    model = Transformer(config)
    rows = (batch_size,) if num_candidates is None else (batch_size, num_candidates)
    decoder_tokens = jnp.zeros((*rows, max_decode_length), jnp.int32)
    encoder_tokens = jnp.ones((batch_size, 1), jnp.int32)
    encoded = jnp.zeros((batch_size, 1, config.d_model), config.activation_dtype)

    def make() -> Any:
        return model.init(
            jax.random.PRNGKey(0),
            encoded,
            encoder_tokens,
            decoder_tokens,
            decode=True,
            method=Transformer.decode,
        )["cache"]

    shapes = jax.eval_shape(make)
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


__all__ = ["CrossKV", "Transformer", "abstract_params", "init_decode_cache", "init_params"]
