"""BERT4Rec (Sun et al., CIKM 2019) as RecBole configures it, in flax.

A bidirectional transformer over item windows trained with the Cloze objective: a
``mask_ratio`` share of each window's items is replaced by a ``[mask]`` item (index
``num_items + 1``) and predicted from both sides with the full-catalog cross-entropy. To
score, the ``[mask]`` is appended after the history (its last ``max_length - 1`` items)
and its output is compared with every item (RecBole's ``output_ffn -> GELU -> LayerNorm``
head, the item embeddings as output weights, plus a per-item output bias).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.item_index import PADDING_INDEX
from instructrec_jax.evaluation.baselines.sequence_data import encode_histories, item_windows
from instructrec_jax.evaluation.baselines.sequence_losses import (
    catalog_cross_entropy,
    item_table,
    masked_mean,
)
from instructrec_jax.evaluation.baselines.sequential_scorer import (
    SequentialScorer,
    training_parts,
)
from instructrec_jax.evaluation.baselines.train_loop import Batch, LossFn, Params
from instructrec_jax.evaluation.baselines.transformer import TransformerConfig, TransformerModel


@dataclasses.dataclass(frozen=True)
class BERT4RecConfig(TransformerConfig):
    """BERT4Rec's size and schedule; the model defaults are RecBole's.

    RecBole: 2 layers, 2 heads, hidden 64, inner 256, dropout 0.2 (hidden and attention),
    GELU, mask ratio 0.2, window 50, CE loss, Adam at 1e-3 (the encoder sizes are
    ``TransformerConfig``'s). A window of 50 exceeds the evaluation histories
    (``EvalExample.history`` keeps ``max_history`` items, 20 by default): training windows
    hold up to 50 items, scoring sees at most 20 + the mask. The Cloze objective predicts
    only a fifth of the items per pass, so it needs many more epochs than SASRec: up to
    200 here, validated every 5, patience 3.

    Attributes:
      mask_ratio: share of window items replaced by ``[mask]`` in training.
      max_length: window in items (the mask included when scoring).
    """

    max_epochs: int = 200
    eval_every: int = 5
    mask_ratio: float = 0.2
    max_length: int | None = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_length is not None and self.max_length < 2:
            raise ValueError(f"BERT4RecConfig.max_length must be >= 2, got {self.max_length}")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"BERT4RecConfig.mask_ratio must be in (0, 1), got {self.mask_ratio}")


class BERT4Rec(TransformerModel):
    """Item + position embeddings -> bidirectional encoder -> output head.

    Attributes:
      num_items: catalog size; the embedding table has ``num_items + 2`` rows (0 padding,
        ``num_items + 1`` the mask).
      max_length: window L (learned positions 0..L-1).
      (and the encoder sizes of ``TransformerModel``)
    """

    num_items: int
    max_length: int

    def setup(self) -> None:
        init = nn.initializers.normal(stddev=0.02)  # RecBole's initializer_range
        self.item_embedding = nn.Embed(self.num_items + 2, self.hidden_size, embedding_init=init)
        self.position_embedding = nn.Embed(self.max_length, self.hidden_size, embedding_init=init)
        self.input_norm = nn.LayerNorm(epsilon=1e-12)
        self.input_dropout = nn.Dropout(self.dropout_rate)
        self.encoder = self.make_encoder()
        self.output_dense = nn.Dense(self.hidden_size)
        self.output_norm = nn.LayerNorm(epsilon=1e-12)
        self.output_bias = self.param("output_bias", nn.initializers.zeros, (self.num_items + 1,))

    @property
    def mask_index(self) -> int:
        """The ``[mask]`` item's index."""
        return self.num_items + 1

    def __call__(self, item_ids: jax.Array, deterministic: bool = True) -> jax.Array:
        """Head outputs [B, L, D] of left-padded windows [B, L] (items, masks, padding)."""
        is_item = item_ids != PADDING_INDEX
        states = self.item_embedding(item_ids) + self.position_embedding(
            jnp.arange(item_ids.shape[1])
        )
        states = self.input_dropout(self.input_norm(states), deterministic=deterministic)
        states = self.encoder(states, is_item, deterministic)
        return self.output_norm(nn.gelu(self.output_dense(states), approximate=False))

    def logits(self, outputs: jax.Array) -> jax.Array:
        """[..., num_items + 1] scores of head outputs [..., D] (column 0 is padding)."""
        table = self.item_embedding.embedding[: self.num_items + 1]
        return outputs @ table.T + self.output_bias

    def user_states(self, item_ids: jax.Array) -> jax.Array:
        """[B, D + 1]: the last position's output and a 1 (pairs with the output bias)."""
        outputs = self(item_ids)[:, -1]
        return jnp.concatenate([outputs, jnp.ones_like(outputs[:, :1])], axis=-1)


@dataclasses.dataclass(frozen=True)
class ClozeLoss:
    """Mean cross-entropy of the masked items of a batch of windows ``(windows,)``."""

    model: BERT4Rec
    mask_ratio: float

    def __call__(self, params: Params, batch: Batch, key: jax.Array) -> jax.Array:
        (windows,) = batch
        mask_key, dropout_key = jax.random.split(key)
        masked = jax.random.bernoulli(mask_key, self.mask_ratio, windows.shape)
        masked &= windows != PADDING_INDEX
        inputs = jnp.where(masked, self.model.mask_index, windows)
        outputs = self.model.apply(
            {"params": params}, inputs, deterministic=False, rngs={"dropout": dropout_key}
        )
        logits = self.model.apply({"params": params}, outputs, method="logits")
        return masked_mean(catalog_cross_entropy(logits, windows), masked)


class BERT4RecScorer(SequentialScorer):
    """Scores candidates by the appended mask's output against each item's embedding."""

    name = "bert4rec"
    display_name = "BERT4Rec"
    config_class = BERT4RecConfig
    model_class = BERT4Rec
    config: BERT4RecConfig

    def encode(self, examples: Sequence[EvalExample]) -> tuple[np.ndarray, ...]:
        histories = encode_histories(examples, self.index, self.max_length - 1)
        masks = np.full((len(examples), 1), self.model.mask_index, dtype=np.int32)
        return (np.concatenate([histories, masks], axis=1),)

    def item_vectors(self, params: Params) -> np.ndarray:
        table = np.asarray(item_table(params), dtype=np.float32)[: self.index.num_items + 1]
        bias = np.asarray(params["output_bias"], dtype=np.float32)
        return np.concatenate([table, bias[:, None]], axis=1)

    def training_arrays(self, dataset: ProcessedDataset) -> tuple[np.ndarray, ...]:
        return (item_windows(training_parts(dataset), self.index, self.max_length),)

    def loss_fn(self) -> LossFn:
        return ClozeLoss(self.model, self.config.mask_ratio)
