"""Host-side driver of candidate scoring: buckets, batches, candidate chunks, mesh.

:class:`ScoringEngine` turns ragged token lists into a few fixed shapes (see
:mod:`instructrec_jax.inference.buckets`), runs two jitted programs per shape (encode +
cross keys/values, then score a chunk of candidates against them) and returns numpy scores.
With a mesh, batch rows (users) are split over the ``'data'`` axis and parameters are
replicated unless explicit parameter shardings are given.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from instructrec_jax.inference import buckets as buckets_lib
from instructrec_jax.inference import model_fns
from instructrec_jax.inference.scoring import score_with_cross_kv

TokenIds = Sequence[int]


def _encode_and_project(
    module: Any, params: model_fns.Params, instructions: jax.Array
) -> model_fns.CrossKV:
    encoded = model_fns.encode(module, params, instructions)
    return model_fns.cross_attention_kv(module, params, encoded)


class ScoringEngine:
    """Scores token-level candidates for token-level instructions.

    Args:
      module: the ``Transformer`` flax module.
      params: its ``'params'`` collection (host or device arrays).
      buckets: allowed shapes; ``buckets.batch_size`` rows per call.
      mesh: optional device mesh with a ``'data'`` axis; rows are sharded over it.
      param_shardings: optional pytree of shardings for ``params`` (default: replicated
        on ``mesh``).
      length_normalize: divide each candidate's log-likelihood by its token count.
    """

    def __init__(
        self,
        module: Any,
        params: model_fns.Params,
        buckets: buckets_lib.ScoringBuckets | None = None,
        mesh: Mesh | None = None,
        param_shardings: Any = None,
        length_normalize: bool = False,
    ) -> None:
        self.module = module
        self.buckets = buckets or buckets_lib.ScoringBuckets()
        self.mesh = mesh
        self.length_normalize = length_normalize
        if mesh is not None:
            data_size = mesh.shape.get("data", 1)
            if self.buckets.batch_size % data_size:
                raise ValueError(
                    f"batch_size {self.buckets.batch_size} is not a multiple of the mesh's "
                    f"data axis ({data_size})"
                )
            if param_shardings is None:
                param_shardings = NamedSharding(mesh, PartitionSpec())
            params = jax.device_put(params, param_shardings)
        self.params = params
        self._encode = jax.jit(functools.partial(_encode_and_project, module))
        self._score = jax.jit(
            functools.partial(score_with_cross_kv, module, length_normalize=length_normalize)
        )

    def compiled_programs(self) -> int:
        """How many programs the two jitted functions have compiled so far."""
        return int(self._encode._cache_size() + self._score._cache_size())

    def _put_rows(self, array: np.ndarray) -> jax.Array:
        if self.mesh is None:
            return jax.numpy.asarray(array)
        spec = PartitionSpec("data", *([None] * (array.ndim - 1)))
        return jax.device_put(array, NamedSharding(self.mesh, spec))

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
        # Padding rows hold a lone EOS so no attention row is fully masked.
        padded_inputs = [*instructions, *([[buckets_lib.EOS_ID]] * (batch_size - rows))]
        encoder_tokens = self._put_rows(buckets_lib.pad_token_rows(padded_inputs, input_length))
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
