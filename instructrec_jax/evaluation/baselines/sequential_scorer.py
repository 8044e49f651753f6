"""``SequentialScorer``: the history-based baselines (SASRec, GRU4Rec, BERT4Rec).

Their configs have a ``max_length`` window (``None``: the dataset's ``max_history``, the
length of ``EvalExample.history``, so training and evaluation see the same context). The
state of an example comes from its left-padded history; items are scored against the
model's ``item_embedding`` table. By default training is next-item prediction over
non-overlapping windows of every user's ``items[:-2]`` (``NextItemLoss``); BERT4Rec
overrides the data and the loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.embedding_scorer import EmbeddingScorer
from instructrec_jax.evaluation.baselines.sequence_data import encode_histories, training_windows
from instructrec_jax.evaluation.baselines.sequence_losses import NextItemLoss, item_table
from instructrec_jax.evaluation.baselines.train_loop import LossFn, Params


def training_parts(dataset: ProcessedDataset) -> list[tuple[str, ...]]:
    """Every user's training part ``items[:-2]``, in user order."""
    return [sequence.item_ids[:-2] for sequence in dataset.sequences.values()]


class SequentialScorer(EmbeddingScorer):
    """An ``EmbeddingScorer`` whose state comes from the example's history window."""

    @classmethod
    def resolve_config(cls, config: Any, dataset: ProcessedDataset) -> Any:
        """``max_length`` defaults to the dataset's ``max_history``."""
        if config.max_length is not None:
            return config
        return dataclasses.replace(config, max_length=dataset.config.max_history)

    @property
    def max_length(self) -> int:
        """The input window in items (the config is resolved before the model is built)."""
        if self.config.max_length is None:
            raise ValueError(f"{type(self).__name__} needs a resolved config (max_length set)")
        return int(self.config.max_length)

    def init_inputs(self) -> tuple[np.ndarray, ...]:
        return (np.zeros(self.max_length, np.int32),)

    def encode(self, examples: Sequence[EvalExample]) -> tuple[np.ndarray, ...]:
        return (encode_histories(examples, self.index, self.max_length),)

    def item_vectors(self, params: Params) -> np.ndarray:
        return np.asarray(item_table(params), dtype=np.float32)

    def training_arrays(self, dataset: ProcessedDataset) -> tuple[np.ndarray, ...]:
        windows = training_windows(training_parts(dataset), self.index, self.max_length)
        return windows.inputs, windows.targets

    def loss_fn(self) -> LossFn:
        return NextItemLoss(self.model, getattr(self.config, "loss", "ce"))
