"""Scoring with trained SASRec parameters: candidate scores and full-catalog scores.

Every forward pass runs on fixed-size batches (the last one padded) so ``jax.jit``
compiles once per (model, batch size).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
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


@functools.partial(jax.jit, static_argnums=0)
def _candidate_scores(
    model: SASRec, params: Params, histories: jax.Array, candidates: jax.Array
) -> jax.Array:
    states = _last_states(model, params, histories)
    return jnp.einsum("bd,bcd->bc", states, item_table(params)[candidates])


@functools.partial(jax.jit, static_argnums=0)
def _catalog_scores(model: SASRec, params: Params, histories: jax.Array) -> jax.Array:
    states = _last_states(model, params, histories)
    return states @ item_table(params)[1:].T


def _padded_batches(rows: int, batch_size: int) -> list[tuple[int, int]]:
    return [(start, min(start + batch_size, rows)) for start in range(0, rows, batch_size)]


def _pad_rows(array: np.ndarray, batch_size: int) -> np.ndarray:
    if array.shape[0] == batch_size:
        return array
    padding = np.zeros((batch_size - array.shape[0], *array.shape[1:]), dtype=array.dtype)
    return np.concatenate([array, padding])


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
    out = np.zeros(candidates.shape, dtype=np.float32)
    batch_size = min(batch_size, max(1, histories.shape[0]))
    for start, stop in _padded_batches(histories.shape[0], batch_size):
        scores = _candidate_scores(
            model,
            params,
            _pad_rows(histories[start:stop], batch_size),
            _pad_rows(candidates[start:stop], batch_size),
        )
        out[start:stop] = np.asarray(scores)[: stop - start]
    return out


def catalog_scores(
    model: SASRec, params: Params, histories: np.ndarray, batch_size: int
) -> np.ndarray:
    """Float32 [N, num_items]: column j scores the item with index j + 1."""
    out = np.zeros((histories.shape[0], model.num_items), dtype=np.float32)
    batch_size = min(batch_size, max(1, histories.shape[0]))
    for start, stop in _padded_batches(histories.shape[0], batch_size):
        scores = _catalog_scores(model, params, _pad_rows(histories[start:stop], batch_size))
        out[start:stop] = np.asarray(scores)[: stop - start]
    return out
