"""TEM (Bi, Ai & Croft, SIGIR 2020): a transformer-based embedding model for personalized
product search, in flax.

The query is embedded as ``tanh(W mean(token embeddings) + b)`` (the query encoder TEM
takes from HEM/ZAM, here over the project's SentencePiece tokens); a transformer encoder
reads ``[query, history item embeddings]`` (no positions: TEM treats the purchases as a
set) and its output at the query's position is the user-query representation ``M_uq``,
scored against the item embeddings by dot product. Trained with the full-catalog softmax
on (history, query, target) rows, once per query kind (P2, I1, I2 by default) as written
by the instructions' teacher, under the instructions' rule: every training example for
P2, those whose target is a ``train`` item for the intentions. The original samples
negatives for the softmax; the full softmax is exact and cheap for catalogs of a few
thousand items.
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
from instructrec_jax.evaluation.baselines.queries import (
    annotate,
    query_text,
    query_training_examples,
)
from instructrec_jax.evaluation.baselines.sequence_data import encode_histories
from instructrec_jax.evaluation.baselines.sequence_losses import (
    catalog_cross_entropy,
    item_table,
    masked_mean,
)
from instructrec_jax.evaluation.baselines.sequential_scorer import SequentialScorer
from instructrec_jax.evaluation.baselines.text_scorer import QueryConfig, TextScorer, pooled_tokens
from instructrec_jax.evaluation.baselines.train_loop import Batch, LossFn, Params
from instructrec_jax.evaluation.baselines.training_config import WindowConfig
from instructrec_jax.evaluation.baselines.transformer import TransformerConfig, TransformerModel


@dataclasses.dataclass(frozen=True)
class TEMConfig(QueryConfig, TransformerConfig, WindowConfig):
    """TEM's size and schedule (query settings ``QueryConfig``'s, encoder sizes
    ``TransformerConfig``'s, history window ``WindowConfig``'s).

    Width 64, 1 layer, 2 heads, feed-forward 256, dropout 0.1 (TEM's best settings use
    1-2 layers); Adam at 1e-3, batch 256, up to 30 epochs, patience 3. ``score`` reads the
    vague intention (I1) by default: the paper's TEM row is ``<P1, I1, T3>``.
    """

    batch_size: int = 256
    max_epochs: int = 30
    num_layers: int = 1
    dropout_rate: float = 0.1


class TEM(TransformerModel):
    """Query encoder + item embeddings + transformer over ``[query, history]``.

    Attributes:
      num_items: catalog size (item table ``num_items + 1`` rows, row 0 padding).
      vocab_size: token embedding rows.
      token_embedding_size: token embedding width.
      (and the encoder sizes of ``TransformerModel``)
    """

    num_items: int
    vocab_size: int
    token_embedding_size: int

    def setup(self) -> None:
        self.token_embedding = nn.Embed(self.vocab_size, self.token_embedding_size)
        self.query_projection = nn.Dense(self.hidden_size)
        self.item_embedding = nn.Embed(
            self.num_items + 1,
            self.hidden_size,
            embedding_init=nn.initializers.normal(stddev=self.hidden_size**-0.5),
        )
        self.input_dropout = nn.Dropout(self.dropout_rate)
        self.encoder = self.make_encoder()

    def __call__(
        self, query_tokens: jax.Array, histories: jax.Array, deterministic: bool = True
    ) -> jax.Array:
        """``M_uq`` [B, D] of query tokens [B, T] and left-padded histories [B, L]."""
        query = jnp.tanh(self.query_projection(pooled_tokens(self.token_embedding, query_tokens)))
        states = jnp.concatenate([query[:, None], self.item_embedding(histories)], axis=1)
        states = self.input_dropout(states, deterministic=deterministic)
        is_key = jnp.concatenate(
            [jnp.ones_like(histories[:, :1], bool), histories != PADDING_INDEX], axis=1
        )
        return self.encoder(states, is_key, deterministic)[:, 0]

    def user_states(self, query_tokens: jax.Array, histories: jax.Array) -> jax.Array:
        """``M_uq`` [B, D] without dropout."""
        return self(query_tokens, histories)


@dataclasses.dataclass(frozen=True)
class QueryItemLoss:
    """Mean full-catalog cross-entropy of ``(query_tokens, histories, targets)`` rows."""

    model: TEM

    def __call__(self, params: Params, batch: Batch, key: jax.Array) -> jax.Array:
        query_tokens, histories, targets = batch
        states = self.model.apply(
            {"params": params}, query_tokens, histories, deterministic=False, rngs={"dropout": key}
        )
        logits = states @ item_table(params).T
        return masked_mean(catalog_cross_entropy(logits, targets), targets != PADDING_INDEX)


class TEMScorer(TextScorer, SequentialScorer):
    """Scores candidates by ``M_uq``'s dot product with each item's embedding."""

    name = "tem"
    display_name = "TEM"
    config_class = TEMConfig
    model_class = TEM
    config: TEMConfig

    def init_inputs(self) -> tuple[np.ndarray, ...]:
        return (
            np.zeros(self.config.max_query_tokens, np.int32),
            np.zeros(self.max_length, np.int32),
        )

    def encode(self, examples: Sequence[EvalExample]) -> tuple[np.ndarray, ...]:
        histories = encode_histories(examples, self.index, self.max_length)
        return self.query_tokens(examples), histories

    def training_arrays(self, dataset: ProcessedDataset) -> tuple[np.ndarray, ...]:
        queries, histories, targets = [], [], []
        for kind in self.config.train_query_kinds:
            examples = query_training_examples(dataset, kind)
            annotations = annotate(examples, self.catalog, self.teacher)
            texts = [query_text(annotation, kind) for annotation in annotations]
            queries.append(self.tokens.encode(texts, self.config.max_query_tokens))
            histories.append(encode_histories(examples, self.index, self.max_length))
            targets.append(self.index.indices([example.target for example in examples]))
        if not sum(len(part) for part in targets):
            raise ValueError("TEM: no training query (no training target in the train items)")
        return np.concatenate(queries), np.concatenate(histories), np.concatenate(targets)

    def loss_fn(self) -> LossFn:
        return QueryItemLoss(self.model)
