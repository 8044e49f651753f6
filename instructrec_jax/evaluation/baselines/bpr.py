"""BPR-MF (Rendle et al., UAI 2009) as RecBole configures it, in flax.

Matrix factorization: a user and an item embedding of 64 dimensions, scored by their dot
product, trained with the pairwise BPR loss ``-log sigmoid(u.i - u.j)`` on every (user,
item) of the users' training parts ``items[:-2]`` against one uniformly sampled other item
``j`` per positive. The sampled item is any catalog item other than the positive (RecBole
also excludes the user's other training items; on ml-100k a user holds ~6% of the catalog,
so about 6% of the negatives here are items the user did interact with).

A user's state is their embedding, learned from the training part only: the validation
item in a test history is not folded in (no sequence model), as in RecBole's leave-one-out
evaluation. A user the model never saw has no embedding and is an error.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.embedding_scorer import EmbeddingScorer
from instructrec_jax.evaluation.baselines.item_index import PADDING_INDEX
from instructrec_jax.evaluation.baselines.sequence_losses import (
    item_table,
    masked_mean,
    other_items,
)
from instructrec_jax.evaluation.baselines.sequential_scorer import training_parts
from instructrec_jax.evaluation.baselines.train_loop import Batch, LossFn, Params
from instructrec_jax.evaluation.baselines.training_config import TrainingConfig


@dataclasses.dataclass(frozen=True)
class BPRConfig(TrainingConfig):
    """BPR-MF's size and schedule.

    RecBole: embedding 64, Adam at 1e-3, batch 2048, up to 300 epochs with patience 10.
    Here the learning rate is 5e-3 with at most 200 epochs, validated every 5 with
    patience 3 (an epoch of ml-100k is 48 cheap steps).

    Attributes:
      embedding_size: user and item embedding width.
    """

    learning_rate: float = 5e-3
    batch_size: int = 2048
    max_epochs: int = 200
    eval_every: int = 5
    embedding_size: int = 64

    positive_fields = ("embedding_size",)


class BPRMF(nn.Module):
    """User and item embedding tables (row 0 of each is padding).

    Attributes:
      num_users: users (the user table has ``num_users + 1`` rows).
      num_items: catalog size.
      embedding_size: width of both tables.
    """

    num_users: int
    num_items: int
    embedding_size: int

    def setup(self) -> None:
        init = nn.initializers.xavier_normal()
        self.user_embedding = nn.Embed(self.num_users + 1, self.embedding_size, embedding_init=init)
        self.item_embedding = nn.Embed(self.num_items + 1, self.embedding_size, embedding_init=init)

    def __call__(self, users: jax.Array, items: jax.Array) -> jax.Array:
        """Scores [B] of (user, item) index pairs [B], [B]."""
        return jnp.sum(self.user_embedding(users) * self.item_embedding(items), axis=-1)

    def user_states(self, users: jax.Array) -> jax.Array:
        """[B, D]: the users' embeddings."""
        return self.user_embedding(users)


@dataclasses.dataclass(frozen=True)
class BPRLoss:
    """Mean BPR loss of ``(users, items)`` pairs against one sampled item each."""

    model: BPRMF

    def __call__(self, params: Params, batch: Batch, key: jax.Array) -> jax.Array:
        users, items = batch
        negatives = other_items(key, items, self.model.num_items)
        positive = self.model.apply({"params": params}, users, items)
        negative = self.model.apply({"params": params}, users, negatives)
        return masked_mean(jax.nn.softplus(negative - positive), items != PADDING_INDEX)


class BPRScorer(EmbeddingScorer):
    """Scores candidates by the user embedding's dot product with each item embedding.

    ``extras["user_ids"]``: the trained users' raw ids, sorted; user i has row i + 1.
    """

    name = "bpr"
    display_name = "BPR-MF"
    config_class = BPRConfig
    model_class = BPRMF
    config: BPRConfig

    @classmethod
    def make_extras(cls, dataset: ProcessedDataset, config: Any, **options: Any) -> dict[str, Any]:
        """The users' raw ids, sorted (their embedding rows)."""
        super().make_extras(dataset, config, **options)
        return {"user_ids": sorted(dataset.sequences)}

    def model_arguments(self) -> dict[str, Any]:
        return {"num_items": self.index.num_items, "num_users": len(self.extras["user_ids"])}

    @functools.cached_property
    def _user_rows(self) -> dict[str, int]:
        return {user: row + 1 for row, user in enumerate(self.extras["user_ids"])}

    def user_indices(self, user_ids: Sequence[str]) -> np.ndarray:
        """Int32 [len(user_ids)] embedding rows.

        Raises:
          KeyError: a user the model was not trained on, named.
        """
        rows = self._user_rows
        try:
            return np.array([rows[user] for user in user_ids], dtype=np.int32)
        except KeyError as error:
            raise KeyError(
                f"BPR-MF has no embedding for user {error.args[0]!r}: it was not among the "
                f"{len(rows)} users it was trained on"
            ) from None

    def init_inputs(self) -> tuple[np.ndarray, ...]:
        return np.zeros((), np.int32), np.zeros((), np.int32)

    def encode(self, examples: Sequence[EvalExample]) -> tuple[np.ndarray, ...]:
        return (self.user_indices([example.user_id for example in examples]),)

    def item_vectors(self, params: Params) -> np.ndarray:
        return np.asarray(item_table(params), dtype=np.float32)

    def training_arrays(self, dataset: ProcessedDataset) -> tuple[np.ndarray, ...]:
        users, items = [], []
        for user_id, part in zip(dataset.sequences, training_parts(dataset)):
            items.append(self.index.indices(part))
            users.append(self.user_indices([user_id] * len(part)))
        return np.concatenate(users), np.concatenate(items)

    def loss_fn(self) -> LossFn:
        return BPRLoss(self.model)
