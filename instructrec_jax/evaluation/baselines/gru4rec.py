"""GRU4Rec (Hidasi et al., ICLR 2016) as RecBole configures it, in flax.

Item embeddings (dropout) -> a GRU over the left-padded history -> a dense projection back
to the embedding width; the state after the most recent item is scored against the item
embedding table (tied output weights), trained with the full-catalog cross-entropy at every
position of the training windows (RecBole's ``loss_type = CE``; each position is one of
RecBole's prefix-augmented training sequences). Padding positions leave the GRU state
untouched, so left padding does not change a history's state.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from instructrec_jax.evaluation.baselines.item_index import PADDING_INDEX
from instructrec_jax.evaluation.baselines.sequential_scorer import SequentialScorer
from instructrec_jax.evaluation.baselines.training_config import (
    WindowConfig,
)


@dataclasses.dataclass(frozen=True)
class GRU4RecConfig(WindowConfig):
    """GRU4Rec's size and schedule; the model defaults are RecBole's.

    RecBole: embedding 64, hidden 128, 1 layer, dropout 0.3 on the item embeddings, CE
    loss, Adam at 1e-3. Here the learning rate is 3e-3 with at most 40 epochs and patience
    3, the same CPU-budget trade as SASRec's (RecBole trains up to 300 epochs with
    patience 10). ``max_length`` is ``WindowConfig``'s.

    Attributes:
      embedding_size: item embedding width (also the output state width).
      hidden_size: GRU state width.
      num_layers: stacked GRU layers.
      dropout_rate: dropout on the item embeddings.
    """

    learning_rate: float = 3e-3
    max_epochs: int = 40
    embedding_size: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout_rate: float = 0.3

    positive_fields = ("embedding_size", "hidden_size", "num_layers")
    fraction_fields = ("dropout_rate",)


class _MaskedGRUStep(nn.Module):
    """One GRU step that keeps the previous state at padding positions."""

    hidden_size: int

    @nn.compact
    def __call__(
        self, carry: jax.Array, step: tuple[jax.Array, jax.Array]
    ) -> tuple[jax.Array, jax.Array]:
        """carry [B, H], step = (inputs [B, E], is_item bool [B]) -> (carry, output [B, H])."""
        inputs, is_item = step
        updated, _ = nn.GRUCell(features=self.hidden_size, name="cell")(carry, inputs)
        carry = jnp.where(is_item[:, None], updated, carry)
        return carry, carry


_ScannedGRU = nn.scan(
    _MaskedGRUStep,
    variable_broadcast="params",
    split_rngs={"params": False},
    in_axes=1,
    out_axes=1,
)


class GRU4Rec(nn.Module):
    """Embeddings -> GRU layers -> dense; states [B, L, embedding_size] per position.

    Attributes:
      num_items: catalog size (the embedding table has ``num_items + 1`` rows, row 0 is
        padding).
      embedding_size: item embedding width.
      hidden_size: GRU width.
      num_layers: GRU layers.
      dropout_rate: embedding dropout.
    """

    num_items: int
    embedding_size: int
    hidden_size: int
    num_layers: int
    dropout_rate: float

    def setup(self) -> None:
        self.item_embedding = nn.Embed(
            self.num_items + 1,
            self.embedding_size,
            embedding_init=nn.initializers.xavier_uniform(),
        )
        self.embedding_dropout = nn.Dropout(self.dropout_rate)
        self.layers = [_ScannedGRU(self.hidden_size) for _ in range(self.num_layers)]
        self.projection = nn.Dense(self.embedding_size)

    def __call__(self, item_ids: jax.Array, deterministic: bool = True) -> jax.Array:
        """Position t's state [B, L, E] summarizes items 0..t and predicts item t + 1."""
        is_item = item_ids != PADDING_INDEX
        states = self.embedding_dropout(self.item_embedding(item_ids), deterministic)
        for layer in self.layers:
            carry = jnp.zeros((item_ids.shape[0], self.hidden_size), states.dtype)
            _, states = layer(carry, (states, is_item))
        return self.projection(states)

    def user_states(self, item_ids: jax.Array) -> jax.Array:
        """[B, E]: the state after each history's most recent item (no dropout)."""
        return self(item_ids)[:, -1]


class GRU4RecScorer(SequentialScorer):
    """Scores candidates by the GRU state's dot product with each item's embedding."""

    name = "gru4rec"
    display_name = "GRU4Rec"
    config_class = GRU4RecConfig
    model_class = GRU4Rec
    config: GRU4RecConfig
