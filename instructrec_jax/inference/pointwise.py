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

import jax
import numpy as np

from instructrec_jax.inference import buckets as buckets_lib
from instructrec_jax.models.model import EncoderDecoderModel, Params, as_model
from instructrec_jax.models.t5 import Transformer
from instructrec_jax.partitioning import Partitioner


class PointwiseScorer:
    """Bucketed, batched :meth:`EncoderDecoderModel.yes_log_odds` over token-id instructions.

    Args:
      model: the :class:`EncoderDecoderModel` (or a bare ``Transformer`` module).
      params: its ``'params'`` collection.
      yes_id: token id of "Yes"; ``no_id``: token id of "No".
      buckets: input-length buckets and batch size (candidate/target buckets unused).
      partitioner: where it compiles and runs (default: one device); rows go over its
        ``'data'`` axis, so ``buckets.batch_size`` must be a multiple of that axis.
    """

    def __init__(
        self,
        model: EncoderDecoderModel | Transformer,
        params: Params,
        yes_id: int,
        no_id: int,
        buckets: buckets_lib.ScoringBuckets | None = None,
        partitioner: Partitioner | None = None,
    ) -> None:
        if yes_id == no_id:
            raise ValueError(f"yes_id and no_id must differ, both are {yes_id}")
        self.params = params
        self.buckets = buckets or buckets_lib.ScoringBuckets()
        self.partitioner = partitioner or Partitioner.single_device()
        log_odds = functools.partial(as_model(model).yes_log_odds, yes_id=yes_id, no_id=no_id)
        self._fn = self.partitioner.partition(log_odds)

    def score(self, instructions: Sequence[Sequence[int]]) -> np.ndarray:
        """float32 [len(instructions)] Yes-vs-No log-odds of each token-id instruction."""
        out = np.zeros((len(instructions),), dtype=np.float32)
        batch_size = self.buckets.batch_size
        for start in range(0, len(instructions), batch_size):
            part = instructions[start : start + batch_size]
            rows = len(part)
            length = self.buckets.input_length(max(len(t) for t in part))
            tokens = jax.device_put(
                buckets_lib.pad_instruction_rows(part, length, batch_size),
                self.partitioner.data_sharding(),
            )
            out[start : start + rows] = np.asarray(self._fn(self.params, tokens))[:rows]
        return out
