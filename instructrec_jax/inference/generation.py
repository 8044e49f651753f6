"""Greedy and beam generation constrained to catalog titles (T2 matching, full catalog).

At every step each beam may only extend its prefix with a token that the
:class:`~instructrec_jax.inference.trie.TitleTrie` allows, so every finished answer is a
real title followed by EOS. Beams are the candidate axis of the decoder ([B, K, T]): the
instruction is encoded and its cross keys/values projected once, then each step re-runs the
teacher-forced decoder over the fixed-size prefix buffer and reads the logits at the
current position (causal masking makes later buffer positions irrelevant). Titles are
short (tens of tokens), so this keeps one compiled program per shape without a step cache.
The search itself (trie lookups, top-K) runs on the host.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from instructrec_jax.inference import buckets as buckets_lib
from instructrec_jax.inference import model_fns
from instructrec_jax.inference.trie import TitleTrie


@dataclasses.dataclass(frozen=True)
class Generation:
    """One finished answer.

    Attributes:
      tokens: title token ids followed by EOS.
      item_ids: catalog items with exactly this title.
      score: sum of the tokens' log-probabilities (nats) under the model.
    """

    tokens: tuple[int, ...]
    item_ids: tuple[str, ...]
    score: float


def _step_log_probs(
    module: Any,
    params: model_fns.Params,
    cross_kv: model_fns.CrossKV,
    instructions: jax.Array,
    prefixes: jax.Array,
    position: jax.Array,
) -> jax.Array:
    """log p(next token) [B, K, V] at ``position`` for prefix buffers [B, K, T]."""
    logits = model_fns.decode_with_kv(
        module, params, cross_kv, instructions, model_fns.shift_right(prefixes)
    )
    at_position = jax.lax.dynamic_index_in_dim(logits, position, axis=2, keepdims=False)
    return jax.nn.log_softmax(at_position.astype(jnp.float32), axis=-1)


def _encode_and_project(
    module: Any, params: model_fns.Params, instructions: jax.Array
) -> model_fns.CrossKV:
    return model_fns.cross_attention_kv(
        module, params, model_fns.encode(module, params, instructions)
    )


@dataclasses.dataclass
class _Beam:
    tokens: list[int]
    score: float
    finished: bool


class ConstrainedGenerator:
    """Beam search (``beam_size=1``: greedy) over a title trie.

    Args:
      module: the ``Transformer`` flax module.
      params: its ``'params'`` collection.
      trie: tokenized catalog titles.
      buckets: input-length buckets, target-length buckets and batch size.
    """

    def __init__(
        self,
        module: Any,
        params: model_fns.Params,
        trie: TitleTrie,
        buckets: buckets_lib.ScoringBuckets | None = None,
    ) -> None:
        if trie.num_titles == 0:
            raise ValueError("the title trie is empty")
        self.params = params
        self.trie = trie
        self.buckets = buckets or buckets_lib.ScoringBuckets()
        self._encode = jax.jit(functools.partial(_encode_and_project, module))
        self._step = jax.jit(functools.partial(_step_log_probs, module))

    def generate(
        self, instructions: Sequence[Sequence[int]], beam_size: int = 1
    ) -> list[list[Generation]]:
        """For each instruction, up to ``beam_size`` titles, best score first."""
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        results: list[list[Generation]] = []
        batch_size = self.buckets.batch_size
        for start in range(0, len(instructions), batch_size):
            results.extend(
                self._generate_batch(instructions[start : start + batch_size], beam_size)
            )
        return results

    def _generate_batch(
        self, instructions: Sequence[Sequence[int]], beam_size: int
    ) -> list[list[Generation]]:
        rows = len(instructions)
        batch_size = self.buckets.batch_size
        length = self.buckets.input_length(max(len(t) for t in instructions))
        padded = [*instructions, *([[buckets_lib.EOS_ID]] * (batch_size - rows))]
        encoder_tokens = jnp.asarray(buckets_lib.pad_token_rows(padded, length))
        cross_kv = self._encode(self.params, encoder_tokens)
        max_length = self.buckets.target_length(self.trie.max_length)
        beams = [[_Beam([], 0.0, False)] for _ in range(rows)]
        for position in range(self.trie.max_length):
            if all(beam.finished for row in beams for beam in row):
                break
            prefixes = np.zeros((batch_size, beam_size, max_length), dtype=np.int32)
            for i, row in enumerate(beams):
                for k, beam in enumerate(row):
                    prefixes[i, k, : len(beam.tokens)] = beam.tokens
            log_probs = np.asarray(
                self._step(self.params, cross_kv, encoder_tokens, jnp.asarray(prefixes), position)
            )
            beams = [self._expand(row, log_probs[i], beam_size) for i, row in enumerate(beams)]
        return [
            [
                Generation(tuple(b.tokens), self.trie.items_for(b.tokens), b.score)
                for b in sorted(row, key=lambda b: -b.score)
                if b.finished
            ]
            for row in beams
        ]

    def _expand(self, row: list[_Beam], log_probs: np.ndarray, beam_size: int) -> list[_Beam]:
        """Best ``beam_size`` continuations of one row's beams (finished beams carry over)."""
        options: list[_Beam] = []
        for k, beam in enumerate(row):
            if beam.finished:
                options.append(beam)
                continue
            for token in self.trie.allowed_next(beam.tokens):
                options.append(
                    _Beam(
                        [*beam.tokens, token],
                        beam.score + float(log_probs[k, token]),
                        token == buckets_lib.EOS_ID,
                    )
                )
        options.sort(key=lambda b: -b.score)
        return options[:beam_size]
