"""A bidirectional (post-LayerNorm, BERT-style) transformer encoder for BERT4Rec and TEM.

Each layer: ``x = LN(x + Dropout(SelfAttention(x)))`` then
``x = LN(x + Dropout(W2 GELU(W1 x)))``, as in BERT and RecBole's ``TransformerEncoder``.
Padding positions are masked out as attention keys. ``TransformerConfig`` holds the sizes
(and checks them) for the baselines' configs.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax

from instructrec_jax.evaluation.baselines.training_config import (
    TrainingConfig,
    check_heads,
)


@dataclasses.dataclass(frozen=True)
class TransformerConfig(TrainingConfig):
    """The encoder sizes of a transformer baseline (BERT4Rec, TEM).

    Attributes:
      hidden_size: embedding and model width.
      num_layers: transformer layers.
      num_heads: attention heads (must divide ``hidden_size``).
      inner_size: feed-forward width.
      dropout_rate: dropout on the inputs, attention weights and layer outputs.
    """

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    inner_size: int = 256
    dropout_rate: float = 0.2

    positive_fields = ("hidden_size", "num_layers", "num_heads", "inner_size")
    fraction_fields = ("dropout_rate",)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_heads(type(self).__name__, self.hidden_size, self.num_heads)


def self_attention(
    hidden_size: int, num_heads: int, dropout_rate: float, deterministic: bool
) -> nn.MultiHeadDotProductAttention:
    """The attention sub-layer every baseline transformer uses (named ``attention``)."""
    return nn.MultiHeadDotProductAttention(
        num_heads=num_heads,
        qkv_features=hidden_size,
        out_features=hidden_size,
        dropout_rate=dropout_rate,
        deterministic=deterministic,
        name="attention",
    )


class TransformerLayer(nn.Module):
    """Self-attention over unmasked keys, then a GELU feed-forward; both post-norm."""

    hidden_size: int
    num_heads: int
    inner_size: int
    dropout_rate: float

    @nn.compact
    def __call__(self, states: jax.Array, is_key: jax.Array, deterministic: bool) -> jax.Array:
        """states [B, L, D], is_key bool [B, L] (positions that may be attended) -> [B, L, D]."""
        attention = self_attention(
            self.hidden_size, self.num_heads, self.dropout_rate, deterministic
        )
        attended = attention(states, states, mask=is_key[:, None, None, :])
        dropped = nn.Dropout(self.dropout_rate)(attended, deterministic=deterministic)
        states = nn.LayerNorm(epsilon=1e-12, name="attention_norm")(states + dropped)
        hidden = nn.gelu(nn.Dense(self.inner_size, name="dense_in")(states), approximate=False)
        hidden = nn.Dense(self.hidden_size, name="dense_out")(hidden)
        hidden = nn.Dropout(self.dropout_rate)(hidden, deterministic=deterministic)
        return nn.LayerNorm(epsilon=1e-12, name="ffn_norm")(states + hidden)


class TransformerEncoder(TransformerLayer):
    """``num_layers`` :class:`TransformerLayer` s of the inherited sizes."""

    num_layers: int = 1

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


class TransformerModel(nn.Module):
    """The encoder sizes of a transformer baseline's flax module (``TransformerConfig``'s
    fields); subclasses add theirs and build the encoder with ``make_encoder``."""

    hidden_size: int
    num_layers: int
    num_heads: int
    inner_size: int
    dropout_rate: float

    def make_encoder(self) -> TransformerEncoder:
        """A :class:`TransformerEncoder` of these sizes (call it in ``setup``)."""
        return TransformerEncoder(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            inner_size=self.inner_size,
            dropout_rate=self.dropout_rate,
            num_layers=self.num_layers,
        )
