"""A bidirectional (post-LayerNorm, BERT-style) transformer encoder for BERT4Rec and TEM.

Each layer: ``x = LN(x + Dropout(SelfAttention(x)))`` then
``x = LN(x + Dropout(W2 GELU(W1 x)))``, as in BERT and RecBole's ``TransformerEncoder``.
Padding positions are masked out as attention keys.
"""

from __future__ import annotations

import flax.linen as nn
import jax


class TransformerLayer(nn.Module):
    """Self-attention over unmasked keys, then a GELU feed-forward; both post-norm."""

    hidden_size: int
    num_heads: int
    inner_size: int
    dropout_rate: float

    @nn.compact
    def __call__(self, states: jax.Array, is_key: jax.Array, deterministic: bool) -> jax.Array:
        """states [B, L, D], is_key bool [B, L] (positions that may be attended) -> [B, L, D]."""
        attended = nn.MultiHeadDotProductAttention(
            num_heads=self.num_heads,
            qkv_features=self.hidden_size,
            out_features=self.hidden_size,
            dropout_rate=self.dropout_rate,
            deterministic=deterministic,
            name="attention",
        )(states, states, mask=is_key[:, None, None, :])
        dropped = nn.Dropout(self.dropout_rate)(attended, deterministic=deterministic)
        states = nn.LayerNorm(epsilon=1e-12, name="attention_norm")(states + dropped)
        hidden = nn.gelu(nn.Dense(self.inner_size, name="dense_in")(states), approximate=False)
        hidden = nn.Dense(self.hidden_size, name="dense_out")(hidden)
        hidden = nn.Dropout(self.dropout_rate)(hidden, deterministic=deterministic)
        return nn.LayerNorm(epsilon=1e-12, name="ffn_norm")(states + hidden)


class TransformerEncoder(nn.Module):
    """``num_layers`` :class:`TransformerLayer` s."""

    num_layers: int
    hidden_size: int
    num_heads: int
    inner_size: int
    dropout_rate: float

    @nn.compact
    def __call__(self, states: jax.Array, is_key: jax.Array, deterministic: bool) -> jax.Array:
        """states [B, L, D], is_key bool [B, L] -> [B, L, D]."""
        for layer in range(self.num_layers):
            states = TransformerLayer(
                self.hidden_size,
                self.num_heads,
                self.inner_size,
                self.dropout_rate,
                name=f"layer_{layer}",
            )(states, is_key, deterministic)
        return states
