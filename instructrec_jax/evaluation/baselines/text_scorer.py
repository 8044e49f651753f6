"""``TextScorer``: the query-reading baselines (TEM, DSSM) on top of ``EmbeddingScorer``.

They read the query of each example, written by the instructions' teacher (see
:mod:`queries`), through the project's SentencePiece vocabulary (:mod:`text_tokens`). The
query an evaluation needs depends on the instruction type: :meth:`TextScorer.
for_instruction_type` gives the scorer bound to that type's query (I1, I2 or P2), which is
what the evaluation job does per instruction type; ``score`` alone uses the config's
``query_kind``, and so does ``top_items`` (hard negatives).

Saved models keep the vocabulary's path and the teacher's name; loading needs the dataset
(the catalog the teacher and the item texts come from) and the same teacher.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.embedding_scorer import EmbeddingScorer
from instructrec_jax.evaluation.baselines.queries import (
    annotate,
    check_query_kind,
    query_kind,
    query_text,
)
from instructrec_jax.evaluation.baselines.text_tokens import TextTokens
from instructrec_jax.evaluation.baselines.training_config import TrainingConfig
from instructrec_jax.instructions.teachers import HeuristicTeacher, Teacher
from instructrec_jax.tasks.vocab import PAD_ID


@dataclasses.dataclass(frozen=True)
class QueryConfig(TrainingConfig):
    """The query settings TEM and DSSM share.

    Attributes:
      query_kind: the query ``score`` and ``top_items`` use when no instruction type is
        given: ``"vague"`` (I1), ``"specific"`` (I2) or ``"preference"`` (P2).
      train_query_kinds: the queries trained on, each training example once per kind.
      max_query_tokens: query tokens kept.
      token_embedding_size: width of the SentencePiece token embeddings.
    """

    query_kind: str = "vague"
    train_query_kinds: tuple[str, ...] = ("preference", "vague", "specific")
    max_query_tokens: int = 32
    token_embedding_size: int = 64

    positive_fields = ("max_query_tokens", "token_embedding_size")

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        for kind in (self.query_kind, *self.train_query_kinds):
            check_query_kind(kind, owner)
        if not self.train_query_kinds:
            raise ValueError(f"{owner}.train_query_kinds must name at least one kind")


def pooled_tokens(embedding: nn.Embed, tokens: jax.Array) -> jax.Array:
    """[B, E]: the mean embedding of each row's non-padding tokens [B, T] (0 if none)."""
    is_token = (tokens != PAD_ID)[..., None]
    total = jnp.sum(embedding(tokens) * is_token, axis=1)
    return total / jnp.maximum(jnp.sum(is_token, axis=1), 1)


class TextScorer(EmbeddingScorer):
    """An ``EmbeddingScorer`` whose state reads the example's query.

    Attributes (after ``attach``):
      catalog: item id -> Item (what the teacher and the item texts read).
      teacher: writes the queries (``HeuristicTeacher`` unless given).
      tokens: the SentencePiece encoder of ``extras["vocabulary"]``.
      query_kind: the query this scorer reads (None: none, e.g. for ``p1_i0_t3``).
    """

    fit_options = ("vocabulary", "teacher")
    runtime_options = ("teacher",)
    config: QueryConfig

    @classmethod
    def make_extras(
        cls,
        dataset: ProcessedDataset,
        config: Any,
        vocabulary: str | os.PathLike[str] | None = None,
    ) -> dict[str, Any]:
        """The vocabulary's path and size (``vocabulary`` is required)."""
        del dataset, config
        if vocabulary is None:
            raise ValueError(
                f"{cls.display_name} reads text: pass vocabulary=<SentencePiece model path>"
            )
        tokens = TextTokens(vocabulary)
        return {"vocabulary": tokens.path, "vocab_size": tokens.vocab_size}

    def attach(self, dataset: ProcessedDataset | None, teacher: Teacher | None = None) -> None:
        """Take the catalog, the teacher and the tokenizer.

        Raises:
          ValueError: no dataset, a teacher other than the one the model was trained
            with, or a vocabulary file whose size changed.
        """
        if dataset is None:
            raise ValueError(f"{self.display_name} needs the dataset (its catalog) to score")
        teacher = teacher or HeuristicTeacher()
        trained_with = self.extras.setdefault("teacher", teacher.name)
        if trained_with != teacher.name:
            raise ValueError(
                f"{self.display_name} was trained with queries of teacher {trained_with!r}, "
                f"given teacher {teacher.name!r}"
            )
        self.catalog = dataset.catalog
        self.teacher = teacher
        self.tokens = TextTokens(self.extras["vocabulary"])
        if self.tokens.vocab_size != self.extras["vocab_size"]:
            raise ValueError(
                f"{self.tokens.path}: {self.tokens.vocab_size} ids, the model was trained "
                f"with {self.extras['vocab_size']}"
            )
        self.query_kind: str | None = self.config.query_kind

    def model_arguments(self) -> dict[str, Any]:
        return {"num_items": self.index.num_items, "vocab_size": self.extras["vocab_size"]}

    def for_instruction_type(self, instruction_type: str) -> TextScorer:
        """A copy (sharing parameters) that reads the query of ``instruction_type``."""
        bound = copy.copy(self)
        bound.query_kind = query_kind(instruction_type)
        return bound

    def query_tokens(self, examples: Sequence[EvalExample], kind: str | None = None) -> np.ndarray:
        """Int32 [len(examples), max_query_tokens]: each example's query (``kind``,
        default ``self.query_kind``), written by the teacher and tokenized."""
        kind = self.query_kind if kind is None else kind
        annotations = annotate(examples, self.catalog, self.teacher)
        texts = [query_text(annotation, kind) for annotation in annotations]
        return self.tokens.encode(texts, self.config.max_query_tokens)
