"""Next-item losses of the sequential baselines whose outputs share the item embeddings.

SASRec and GRU4Rec both produce one state per input position ([B, L, D]) and score item
``i`` by the dot product with row ``i`` of their item embedding table (``item_table``); the
target of position t is the item that followed it (0 = no target).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from instructrec_jax.evaluation.baselines.item_index import PADDING_INDEX
from instructrec_jax.evaluation.baselines.train_loop import Batch, Params


def item_table(params: Params) -> jax.Array:
    """The item embedding table [num_items + 1, D] inside ``params`` (row 0 = padding)."""
    return params["item_embedding"]["embedding"]


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of ``values`` where ``mask`` is true (0 when nothing is)."""
    total = jnp.sum(jnp.where(mask, values, 0.0))
    return total / jnp.maximum(jnp.sum(mask), 1)


def other_items(key: jax.Array, targets: jax.Array, num_items: int) -> jax.Array:
    """Uniform item indices in 1..num_items, never equal to ``targets`` (same shape)."""
    offsets = jax.random.randint(key, targets.shape, 1, num_items)
    return 1 + (targets - 1 + offsets) % num_items


def catalog_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Softmax cross-entropy over the catalog columns of ``logits`` [..., num_items + 1]
    (column 0, padding, excluded) per target [...]."""
    logits = logits.at[..., PADDING_INDEX].set(-1e9)
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets)


def next_item_loss(
    model: nn.Module,
    params: Params,
    inputs: jax.Array,
    targets: jax.Array,
    key: jax.Array,
    loss_name: str,
) -> jax.Array:
    """Mean next-item loss over the non-padding positions of a batch.

    Args:
      model: a module whose ``__call__(inputs, deterministic)`` returns states [B, L, D].
      params: its parameters (with an ``item_embedding`` table).
      inputs: int32 [B, L] left-padded item indices.
      targets: int32 [B, L] next items (0 = no target).
      key: PRNG key for dropout (and the sampled negatives of ``"bce"``).
      loss_name: ``"ce"``: softmax cross-entropy over the whole catalog; ``"bce"``:
        binary cross-entropy of the target against one uniformly drawn other item.
    """
    dropout_key, negative_key = jax.random.split(key)
    states = model.apply(
        {"params": params}, inputs, deterministic=False, rngs={"dropout": dropout_key}
    )
    table = item_table(params)
    if loss_name == "ce":
        per_position = catalog_cross_entropy(jnp.einsum("bld,nd->bln", states, table), targets)
    else:
        negatives = other_items(negative_key, targets, table.shape[0] - 1)
        positive_logits = jnp.sum(states * table[targets], axis=-1)
        negative_logits = jnp.sum(states * table[negatives], axis=-1)
        per_position = jax.nn.softplus(-positive_logits) + jax.nn.softplus(negative_logits)
    return masked_mean(per_position, targets != PADDING_INDEX)


@dataclasses.dataclass(frozen=True)
class NextItemLoss:
    """``next_item_loss`` as the train loop's ``(params, (inputs, targets), key)`` loss."""

    model: nn.Module
    loss_name: str

    def __call__(self, params: Params, batch: Batch, key: jax.Array) -> jax.Array:
        inputs, targets = batch
        return next_item_loss(self.model, params, inputs, targets, key, self.loss_name)
