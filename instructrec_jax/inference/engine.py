"""Host-side driver of candidate scoring: buckets, batches, candidate chunks, mesh.

:class:`ScoringEngine` turns ragged token lists into a few fixed shapes (see
:mod:`instructrec_jax.inference.buckets`), runs two jitted programs per shape (encode +
cross keys/values, then score a chunk of candidates against them) and returns numpy scores.
Both are :class:`~instructrec_jax.models.model.EncoderDecoderModel` methods compiled by a
:class:`~instructrec_jax.partitioning.Partitioner`: batch rows (users) are split over its
``'data'`` axis and parameters are replicated unless explicit parameter shardings are given.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from instructrec_jax.inference import buckets as buckets_lib
from instructrec_jax.models.model import EncoderDecoderModel, Params, as_model
from instructrec_jax.models.t5 import Transformer
from instructrec_jax.partitioning import Partitioner

TokenIds = Sequence[int]


class ScoringEngine:
    """Scores token-level candidates for token-level instructions.

    Args:
      model: the :class:`EncoderDecoderModel` (or a bare ``Transformer`` module).
      params: its ``'params'`` collection (host or device arrays).
      buckets: allowed shapes; ``buckets.batch_size`` rows per call.
      partitioner: mesh and logical axis rules the programs compile and run under; rows
        are sharded over its ``'data'`` axis (default: one device).
      param_shardings: optional pytree of shardings for ``params`` (default: replicated
        on the partitioner's mesh).
      length_normalize: divide each candidate's log-likelihood by its token count.
    """

    def __init__(
        self,
        model: EncoderDecoderModel | Transformer,
        params: Params,
        buckets: buckets_lib.ScoringBuckets | None = None,
        partitioner: Partitioner | None = None,
        param_shardings: Any = None,
        length_normalize: bool = False,
    ) -> None:
        self.model = as_model(model)
        self.buckets = buckets or buckets_lib.ScoringBuckets()
        self.partitioner = partitioner or Partitioner.single_device()
        self.length_normalize = length_normalize
        data_size = self.partitioner.mesh.shape["data"]
        if self.buckets.batch_size % data_size:
            raise ValueError(
                f"batch_size {self.buckets.batch_size} is not a multiple of the mesh's "
                f"data axis ({data_size})"
            )
        if param_shardings is None:
            param_shardings = self.partitioner.replicated()
        self.params = jax.device_put(params, param_shardings)
        self._encode = self.partitioner.partition(self.model.encode_and_project)
        self._score = self.partitioner.partition(
            functools.partial(self.model.score_with_cross_kv, length_normalize=length_normalize)
        )

    def compiled_programs(self) -> int:
        """How many programs the two compiled functions have compiled so far."""
        return self._encode.compiled_programs() + self._score.compiled_programs()

    def _put_rows(self, array: np.ndarray) -> jax.Array:
        return jax.device_put(array, self.partitioner.data_sharding())

    def score(
        self, instructions: Sequence[TokenIds], candidates: Sequence[Sequence[TokenIds]]
    ) -> np.ndarray:
        """Log-likelihoods float32 [len(instructions), N].

        Args:
          instructions: per row, encoder token ids (no padding; EOS-terminated as the
            tokenizer produced them).
          candidates: per row, N candidate token id lists, each non-empty and
            EOS-terminated; every row has the same N.

        Raises:
          ValueError: mismatched row counts, rows with different N, an empty candidate
            (named by row and column) or an instruction longer than the largest bucket.
        """
        if len(instructions) != len(candidates):
            raise ValueError(
                f"{len(instructions)} instructions but {len(candidates)} candidate lists"
            )
        if not instructions:
            return np.zeros((0, 0), dtype=np.float32)
        counts = {len(row) for row in candidates}
        if len(counts) != 1:
            raise ValueError(f"every instruction needs the same number of candidates, got {counts}")
        num_candidates = counts.pop()
        for row, row_candidates in enumerate(candidates):
            for column, tokens in enumerate(row_candidates):
                if not len(tokens):  # all padding: it would score 0, the best log-likelihood
                    raise ValueError(f"row {row}, candidate {column} is empty (no token ids)")
        out = np.zeros((len(instructions), num_candidates), dtype=np.float32)
        batch_size = self.buckets.batch_size
        for start in range(0, len(instructions), batch_size):
            stop = min(start + batch_size, len(instructions))
            out[start:stop] = self._score_batch(instructions[start:stop], candidates[start:stop])
        return out

    def _score_batch(
        self, instructions: Sequence[TokenIds], candidates: Sequence[Sequence[TokenIds]]
    ) -> np.ndarray:
        rows = len(instructions)
        batch_size = self.buckets.batch_size
        input_length = self.buckets.input_length(max(len(t) for t in instructions))
        encoder_tokens = self._put_rows(
            buckets_lib.pad_instruction_rows(instructions, input_length, batch_size)
        )
        cross_kv = self._encode(self.params, encoder_tokens)
        num_candidates = len(candidates[0])
        chunk = self.buckets.max_candidates_per_call
        scores = np.zeros((rows, num_candidates), dtype=np.float32)
        for begin in range(0, num_candidates, chunk):
            end = min(begin + chunk, num_candidates)
            part = [row[begin:end] for row in candidates]
            target_length = self.buckets.target_length(max(len(t) for row in part for t in row))
            count = self.buckets.candidate_count(end - begin)
            targets = np.zeros((batch_size, count, target_length), dtype=np.int32)
            for i, row in enumerate(part):
                targets[i, : len(row)] = buckets_lib.pad_token_rows(row, target_length)
            chunk_scores = self._score(
                self.params, cross_kv, encoder_tokens, self._put_rows(targets)
            )
            scores[:, begin:end] = np.asarray(chunk_scores)[:rows, : end - begin]
        return scores
