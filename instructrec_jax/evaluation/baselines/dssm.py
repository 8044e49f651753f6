"""DSSM (Huang et al., CIKM 2013): a two-tower query / item text model for product search.

Both towers read SentencePiece tokens (the project's vocabulary, sharing one token
embedding table): mean of the token embeddings -> tanh layers -> a unit vector; a query
scores an item by the cosine of the two vectors. Trained with the in-batch softmax over
``cosine / temperature`` on (query, target item) pairs from the same queries the
instructions use (I1 and I2 of training targets in the ``train`` item split, each distinct
pair once); another row of the batch with the same item is not counted as a negative.

Items are read as text (title, categories and year by default, ``item_fields``), so DSSM
also scores items it never saw in training: the product-search test items are held out of
it. It is early-stopped on the validation examples whose target is a held-out ``valid``
item (the product-search validation set). It also serves as a two-tower retriever of hard
negatives (``top_items`` with the config's ``query_kind``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.embedding_scorer import batched_apply
from instructrec_jax.evaluation.baselines.item_index import PADDING_INDEX
from instructrec_jax.evaluation.baselines.queries import (
    annotate,
    item_text,
    query_text,
    query_training_examples,
)
from instructrec_jax.evaluation.baselines.sequence_losses import masked_mean
from instructrec_jax.evaluation.baselines.text_scorer import QueryConfig, TextScorer, pooled_tokens
from instructrec_jax.evaluation.baselines.train_loop import Batch, LossFn, Params
from instructrec_jax.instructions.teachers import Teacher


@dataclasses.dataclass(frozen=True)
class DSSMConfig(QueryConfig):
    """DSSM's towers and schedule.

    Towers of 128 then 64 tanh units over 64-dimensional token embeddings (the paper's
    300-300-128 over letter-trigram hashes, scaled down to this data). Adam at 1e-3,
    batch 128, up to 200 epochs validated every 5, patience 3 (the distinct query-item
    pairs are few: about 2,700 on ml-100k, where an item has one I1 and one I2).

    Attributes:
      hidden_size: first tanh layer of each tower.
      output_size: the unit vectors' width.
      temperature: softmax temperature on the cosines in training.
      max_item_tokens: item text tokens kept.
      item_fields: what an item's text is made of (``queries.item_text``).
    """

    max_epochs: int = 200
    eval_every: int = 5
    query_kind: str = "specific"
    train_query_kinds: tuple[str, ...] = ("vague", "specific")
    hidden_size: int = 128
    output_size: int = 64
    temperature: float = 0.05
    max_item_tokens: int = 32
    item_fields: tuple[str, ...] = ("title", "categories", "year")

    positive_fields = ("hidden_size", "output_size", "max_item_tokens")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.temperature <= 0:
            raise ValueError(f"DSSMConfig.temperature must be > 0, got {self.temperature}")
        if not self.item_fields:
            raise ValueError("DSSMConfig.item_fields must name at least one field")


class DSSM(nn.Module):
    """Query tower and item tower over a shared token embedding.

    Attributes:
      vocab_size: token embedding rows.
      token_embedding_size: token embedding width.
      hidden_size: first tanh layer width.
      output_size: output vector width.
    """

    vocab_size: int
    token_embedding_size: int
    hidden_size: int
    output_size: int

    def setup(self) -> None:
        self.token_embedding = nn.Embed(self.vocab_size, self.token_embedding_size)
        self.query_layers = [nn.Dense(self.hidden_size), nn.Dense(self.output_size)]
        self.item_layers = [nn.Dense(self.hidden_size), nn.Dense(self.output_size)]

    def _tower(self, layers: Sequence[nn.Dense], tokens: jax.Array) -> jax.Array:
        vectors = pooled_tokens(self.token_embedding, tokens)
        for layer in layers:
            vectors = jnp.tanh(layer(vectors))
        norm = jnp.linalg.norm(vectors, axis=-1, keepdims=True)
        return vectors / jnp.maximum(norm, 1e-6)

    def __call__(self, query_tokens: jax.Array, item_tokens: jax.Array) -> jax.Array:
        """Cosines [B] of the query rows [B, Tq] with the item rows [B, Ti]."""
        return jnp.sum(self.user_states(query_tokens) * self.item_states(item_tokens), axis=-1)

    def user_states(self, query_tokens: jax.Array) -> jax.Array:
        """[B, D] unit vectors of the queries."""
        return self._tower(self.query_layers, query_tokens)

    def item_states(self, item_tokens: jax.Array) -> jax.Array:
        """[B, D] unit vectors of the item texts."""
        return self._tower(self.item_layers, item_tokens)


@dataclasses.dataclass(frozen=True)
class InBatchSoftmaxLoss:
    """Mean in-batch softmax loss of ``(query_tokens, item_tokens, items)`` rows."""

    model: DSSM
    temperature: float

    def __call__(self, params: Params, batch: Batch, key: jax.Array) -> jax.Array:
        del key  # no dropout, no sampling
        query_tokens, item_tokens, items = batch
        variables = {"params": params}
        queries = self.model.apply(variables, query_tokens, method="user_states")
        candidates = self.model.apply(variables, item_tokens, method="item_states")
        logits = queries @ candidates.T / self.temperature
        is_row = items != PADDING_INDEX
        same_item = (items[:, None] == items[None, :]) & ~jnp.eye(items.shape[0], dtype=bool)
        logits = jnp.where(same_item | ~is_row[None, :], -1e9, logits)
        per_row = optax.softmax_cross_entropy_with_integer_labels(
            logits, jnp.arange(items.shape[0])
        )
        return masked_mean(per_row, is_row)


class DSSMScorer(TextScorer):
    """Scores candidates by the cosine of the query vector and each item's text vector."""

    name = "dssm"
    display_name = "DSSM"
    config_class = DSSMConfig
    model_class = DSSM
    config: DSSMConfig

    def model_arguments(self) -> dict[str, Any]:
        return {"vocab_size": self.extras["vocab_size"]}

    def attach(self, dataset: ProcessedDataset | None, teacher: Teacher | None = None) -> None:
        """``TextScorer.attach``, then the item texts' tokens in index order (row 0 empty)."""
        super().attach(dataset, teacher)
        texts = [""] + [
            item_text(self.catalog[item_id], self.config.item_fields)
            for item_id in self.index.item_ids
        ]
        self.item_tokens = self.tokens.encode(texts, self.config.max_item_tokens)

    def init_inputs(self) -> tuple[np.ndarray, ...]:
        return (
            np.zeros(self.config.max_query_tokens, np.int32),
            np.zeros(self.config.max_item_tokens, np.int32),
        )

    def encode(self, examples: Sequence[EvalExample]) -> tuple[np.ndarray, ...]:
        return (self.query_tokens(examples),)

    def states(self, params: Params, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Query unit vectors divided by the temperature: scores are the training logits
        ``cosine / temperature`` (the ranking is the cosines')."""
        return super().states(params, inputs) / self.config.temperature

    def item_vectors(self, params: Params) -> np.ndarray:
        return batched_apply(
            self.model, "item_states", params, (self.item_tokens,), self.config.eval_batch_size
        )

    def validation_examples(self, dataset: ProcessedDataset) -> list[EvalExample]:
        """The product-search validation set (targets held out as ``valid`` items), or
        every validation example when it is empty."""
        unseen = [e for e in dataset.valid if dataset.item_split.get(e.target) == "valid"]
        return unseen or list(dataset.valid)

    def training_arrays(self, dataset: ProcessedDataset) -> tuple[np.ndarray, ...]:
        found: set[tuple[str, str]] = set()
        for kind in self.config.train_query_kinds:
            examples = query_training_examples(dataset, kind)
            annotations = annotate(examples, self.catalog, self.teacher)
            found.update(
                (query_text(annotation, kind), example.target)
                for example, annotation in zip(examples, annotations)
            )
        pairs = sorted(found)
        if not pairs:
            raise ValueError("DSSM: no training query (no training target in the train items)")
        queries = self.tokens.encode([query for query, _ in pairs], self.config.max_query_tokens)
        items = self.index.indices([item for _, item in pairs])
        return queries, self.item_tokens[items], items

    def loss_fn(self) -> LossFn:
        return InBatchSoftmaxLoss(self.model, self.config.temperature)
