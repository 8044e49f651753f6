"""Scoring with trained SASRec parameters: candidate scores and full-catalog scores.

The network runs on fixed-size batches (the last one padded) so ``jax.jit`` compiles once
per (model, batch size); the dot products with item embeddings are done in numpy.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

from instructrec_jax.evaluation.baselines.sasrec_config import SASRecConfig
from instructrec_jax.evaluation.baselines.sasrec_model import SASRec

Params = Any  # a flax parameter pytree


def build_model(config: SASRecConfig, num_items: int) -> SASRec:
    """The flax module for a resolved ``config`` (``max_length`` set) and catalog size."""
    if config.max_length is None:
        raise ValueError("resolve SASRecConfig.max_length (config.resolved(...)) first")
    return SASRec(
        num_items=num_items,
        max_length=config.max_length,
        hidden_size=config.hidden_size,
        num_blocks=config.num_blocks,
        num_heads=config.num_heads,
        dropout_rate=config.dropout_rate,
    )


def item_table(params: Params) -> jax.Array:
    """The item embedding table [num_items + 1, D] inside ``params`` (row 0 = padding)."""
    return params["item_embedding"]["embedding"]


@functools.partial(jax.jit, static_argnums=0)
def _last_states(model: SASRec, params: Params, histories: jax.Array) -> jax.Array:
    return model.apply({"params": params}, histories)[:, -1]


def final_states(
    model: SASRec, params: Params, histories: np.ndarray, batch_size: int
) -> np.ndarray:
    """Float32 [N, D]: the state after each history's most recent item.

    Args:
      model: the SASRec module.
      params: its parameters.
      histories: int32 [N, L] left-padded item indices.
      batch_size: rows per forward pass; every pass is padded to exactly this many rows
        so one compilation serves inputs of any size.
    """
    out = np.zeros((histories.shape[0], model.hidden_size), dtype=np.float32)
    for start in range(0, histories.shape[0], batch_size):
        rows = histories[start : start + batch_size]
        padded = np.zeros((batch_size, histories.shape[1]), dtype=np.int32)
        padded[: rows.shape[0]] = rows
        out[start : start + rows.shape[0]] = np.asarray(
            _last_states(model, params, padded)[: rows.shape[0]]
        )
    return out


def candidate_scores(
    model: SASRec,
    params: Params,
    histories: np.ndarray,
    candidates: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """Float32 [N, C]: dot products of each history's final state with its candidates.

    Args:
      model: the SASRec module.
      params: its parameters.
      histories: int32 [N, L] left-padded item indices.
      candidates: int32 [N, C] item indices (1..num_items).
      batch_size: rows per forward pass.
    """
    states = final_states(model, params, histories, batch_size)
    table = np.asarray(item_table(params), dtype=np.float32)
    return np.einsum("nd,ncd->nc", states, table[candidates])


def catalog_scores(
    model: SASRec, params: Params, histories: np.ndarray, batch_size: int
) -> np.ndarray:
    """Float32 [N, num_items]: column j scores the item with index j + 1."""
    states = final_states(model, params, histories, batch_size)
    table = np.asarray(item_table(params), dtype=np.float32)
    return states @ table[1:].T
