"""The SASRec network (Kang & McAuley, 2018) in flax linen.

Item ids are int32 with 0 = padding, left-padded so the most recent item is always at
the last position. Each block applies, pre-norm style as in the authors' code:
``x = LN(x) + CausalSelfAttention(LN(x), x)`` then ``x = x + FFN(LN(x))``, and zeroes
the padding positions. Predictions share the item embedding table (dot product between
the sequence state and item embeddings).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from instructrec_jax.evaluation.baselines.item_index import PADDING_INDEX
from instructrec_jax.evaluation.baselines.transformer import self_attention


class PointWiseFeedForward(nn.Module):
    """Two position-wise dense layers with ReLU, dropout and a residual connection."""

    hidden_size: int
    dropout_rate: float

    @nn.compact
    def __call__(self, inputs: jax.Array, deterministic: bool) -> jax.Array:
        """inputs [B, L, D] -> [B, L, D]."""
        hidden = nn.Dense(self.hidden_size, name="dense_in")(inputs)
        hidden = nn.relu(nn.Dropout(self.dropout_rate)(hidden, deterministic=deterministic))
        hidden = nn.Dense(self.hidden_size, name="dense_out")(hidden)
        hidden = nn.Dropout(self.dropout_rate)(hidden, deterministic=deterministic)
        return inputs + hidden


class SASRecBlock(nn.Module):
    """Causal multi-head self-attention followed by the point-wise feed-forward."""

    hidden_size: int
    num_heads: int
    dropout_rate: float

    @nn.compact
    def __call__(
        self, states: jax.Array, attention_mask: jax.Array, deterministic: bool
    ) -> jax.Array:
        """states [B, L, D], attention_mask bool [B, 1, L, L] -> [B, L, D]."""
        queries = nn.LayerNorm(epsilon=1e-8, name="attention_norm")(states)
        attention = self_attention(
            self.hidden_size, self.num_heads, self.dropout_rate, deterministic
        )
        attended = attention(queries, states, mask=attention_mask)
        states = queries + attended
        states = nn.LayerNorm(epsilon=1e-8, name="ffn_norm")(states)
        return PointWiseFeedForward(self.hidden_size, self.dropout_rate, name="ffn")(
            states, deterministic
        )


class SASRec(nn.Module):
    """Self-attentive sequential recommender.

    Attributes:
      num_items: catalog size; the embedding table has ``num_items + 1`` rows (row 0 is
        padding).
      max_length: input length L (learned positions 0..L-1).
      hidden_size: model width D.
      num_blocks: number of ``SASRecBlock``s.
      num_heads: attention heads.
      dropout_rate: dropout probability.
    """

    num_items: int
    max_length: int
    hidden_size: int
    num_blocks: int
    num_heads: int
    dropout_rate: float

    def setup(self) -> None:
        self.item_embedding = nn.Embed(
            self.num_items + 1,
            self.hidden_size,
            embedding_init=nn.initializers.normal(stddev=self.hidden_size**-0.5),
        )
        self.position_embedding = nn.Embed(
            self.max_length,
            self.hidden_size,
            embedding_init=nn.initializers.normal(stddev=self.hidden_size**-0.5),
        )
        self.input_dropout = nn.Dropout(self.dropout_rate)
        self.blocks = [
            SASRecBlock(self.hidden_size, self.num_heads, self.dropout_rate)
            for _ in range(self.num_blocks)
        ]
        self.final_norm = nn.LayerNorm(epsilon=1e-8)

    def __call__(self, item_ids: jax.Array, deterministic: bool = True) -> jax.Array:
        """Sequence states [B, L, D] for left-padded int32 ``item_ids`` [B, L].

        Position t's state summarizes items 0..t and predicts item t + 1.
        """
        length = item_ids.shape[1]
        if length != self.max_length:
            raise ValueError(f"item_ids length {length} != max_length {self.max_length}")
        is_item = (item_ids != PADDING_INDEX)[..., None]
        states = self.item_embedding(item_ids) * jnp.sqrt(float(self.hidden_size))
        states = states + self.position_embedding(jnp.arange(length))[None]
        states = self.input_dropout(states, deterministic=deterministic) * is_item
        causal = jnp.tril(jnp.ones((length, length), dtype=bool))
        attention_mask = causal[None, None] & (item_ids != PADDING_INDEX)[:, None, None, :]
        for block in self.blocks:
            states = block(states, attention_mask, deterministic) * is_item
        return self.final_norm(states)

    def user_states(self, item_ids: jax.Array) -> jax.Array:
        """[B, D]: the state after each history's most recent item (no dropout)."""
        return self(item_ids)[:, -1]

    def item_embeddings(self) -> jax.Array:
        """The item table [num_items + 1, D] (row 0 = padding), used as output weights."""
        return self.item_embedding.embedding
