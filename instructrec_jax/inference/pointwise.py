"""Pointwise (T0) scoring: how much more likely the answer to "is X a fit?" is "Yes".

A T0 instruction asks about one candidate; the model answers "Yes" or "No". The score is
the log-odds log p(Yes) - log p(No) = logit(Yes) - logit(No) at the first decoder step
(decoder input = start token 0). It ranks exactly like p(Yes) over {Yes, No} =
sigmoid(log-odds), but never saturates: in float32 that probability rounds to exactly 1.0
once the gap reaches about 17 (and to 0.0 far below), tying unequal candidates. One
instruction per candidate.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.inference import buckets as buckets_lib
from instructrec_jax.inference import model_fns


def yes_log_odds(
    module: Any,
    params: model_fns.Params,
    instructions: jax.Array,
    yes_id: int,
    no_id: int,
) -> jax.Array:
    """log p(Yes | instruction) - log p(No | instruction) at the first decoder step.

    Args:
      module: the ``Transformer`` flax module.
      params: its ``'params'`` collection.
      instructions: int32 [B, L] encoder tokens, 0-padded.
      yes_id: the first token id of the answer "Yes".
      no_id: the first token id of the answer "No".

    Returns:
      float32 [B] log-odds in nats (any real; p(Yes) over {Yes, No} is their sigmoid).
    """
    encoded = model_fns.encode(module, params, instructions)
    cross_kv = model_fns.cross_attention_kv(module, params, encoded)
    start = jnp.zeros((instructions.shape[0], 1), dtype=jnp.int32)
    logits = model_fns.decode_with_kv(module, params, cross_kv, instructions, start)[:, 0, :]
    return logits[:, yes_id].astype(jnp.float32) - logits[:, no_id].astype(jnp.float32)


class PointwiseScorer:
    """Bucketed, batched :func:`yes_log_odds` over token-id instructions.

    Args:
      module: the ``Transformer`` flax module.
      params: its ``'params'`` collection.
      yes_id: token id of "Yes"; ``no_id``: token id of "No".
      buckets: input-length buckets and batch size (candidate/target buckets unused).
    """

    def __init__(
        self,
        module: Any,
        params: model_fns.Params,
        yes_id: int,
        no_id: int,
        buckets: buckets_lib.ScoringBuckets | None = None,
    ) -> None:
        if yes_id == no_id:
            raise ValueError(f"yes_id and no_id must differ, both are {yes_id}")
        self.params = params
        self.buckets = buckets or buckets_lib.ScoringBuckets()
        self._fn = jax.jit(functools.partial(yes_log_odds, module, yes_id=yes_id, no_id=no_id))

    def score(self, instructions: Sequence[Sequence[int]]) -> np.ndarray:
        """float32 [len(instructions)] Yes-vs-No log-odds of each token-id instruction."""
        out = np.zeros((len(instructions),), dtype=np.float32)
        batch_size = self.buckets.batch_size
        for start in range(0, len(instructions), batch_size):
            part = list(instructions[start : start + batch_size])
            rows = len(part)
            length = self.buckets.input_length(max(len(t) for t in part))
            part += [[buckets_lib.EOS_ID]] * (batch_size - rows)
            tokens = jnp.asarray(buckets_lib.pad_token_rows(part, length))
            out[start : start + rows] = np.asarray(self._fn(self.params, tokens))[:rows]
        return out
