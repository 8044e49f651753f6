"""Greedy and beam generation, constrained to catalog titles (T2 matching, full catalog) or free.

At every step each beam may only extend its prefix with a token that the
:class:`~instructrec_jax.inference.trie.TitleTrie` allows, so every finished answer is a
real title followed by EOS; without a trie the ``beam_size`` likeliest tokens are tried.
Beams are the candidate axis of the decoder ([B, K, T]): the
instruction is encoded and its cross keys/values projected once, then each step re-runs the
teacher-forced decoder over the fixed-size prefix buffer and reads the logits at the
current position (causal masking makes later buffer positions irrelevant). Titles are
short (tens of tokens), so this keeps one compiled program per shape without a step cache.
The search itself (trie lookups, top-K) runs on the host.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import numpy as np

from instructrec_jax.inference import buckets as buckets_lib
from instructrec_jax.inference.trie import TitleTrie
from instructrec_jax.models.model import EncoderDecoderModel, Params, as_model
from instructrec_jax.models.t5 import Transformer
from instructrec_jax.partitioning import Partitioner


@dataclasses.dataclass(frozen=True)
class Generation:
    """One answer.

    Attributes:
      tokens: token ids, ending with EOS (a free search cut at its length limit may not).
      item_ids: catalog items with exactly this title (none without a trie).
      score: sum of the tokens' log-probabilities (nats) under the model.
    """

    tokens: tuple[int, ...]
    item_ids: tuple[str, ...]
    score: float


@dataclasses.dataclass
class _Beam:
    tokens: list[int]
    score: float
    finished: bool


class ConstrainedGenerator:
    """Beam search (``beam_size=1``: greedy) over a title trie, or over any tokens.

    Args:
      model: the :class:`EncoderDecoderModel` (or a bare ``Transformer`` module).
      params: its ``'params'`` collection.
      trie: tokenized catalog titles; None searches freely.
      buckets: input-length buckets, target-length buckets and batch size.
      partitioner: where it compiles and runs (default: one device); rows go over its
        ``'data'`` axis.
      max_decode_length: answer tokens at most (EOS included); required without a trie,
        default with one: its longest title.
    """

    def __init__(
        self,
        model: EncoderDecoderModel | Transformer,
        params: Params,
        trie: TitleTrie | None,
        buckets: buckets_lib.ScoringBuckets | None = None,
        partitioner: Partitioner | None = None,
        *,
        max_decode_length: int | None = None,
    ) -> None:
        if trie is not None and trie.num_titles == 0:
            raise ValueError("the title trie is empty")
        if trie is None and (max_decode_length is None or max_decode_length < 1):
            raise ValueError("generation without a trie needs max_decode_length >= 1")
        self.params = params
        self.trie = trie
        self.max_length = int(max_decode_length or trie.max_length)  # type: ignore[union-attr]
        self.buckets = buckets or buckets_lib.ScoringBuckets()
        self.partitioner = partitioner or Partitioner.single_device()
        model = as_model(model)
        self._encode = self.partitioner.partition(model.encode_and_project)
        self._step = self.partitioner.partition(model.next_token_log_probs)

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
        rows_sharding = self.partitioner.data_sharding()
        encoder_tokens = jax.device_put(
            buckets_lib.pad_instruction_rows(instructions, length, batch_size), rows_sharding
        )
        cross_kv = self._encode(self.params, encoder_tokens)
        max_length = self.buckets.target_length(self.max_length)
        beams = [[_Beam([], 0.0, False)] for _ in range(rows)]
        for position in range(self.max_length):
            if all(beam.finished for row in beams for beam in row):
                break
            prefixes = np.zeros((batch_size, beam_size, max_length), dtype=np.int32)
            for i, row in enumerate(beams):
                for k, beam in enumerate(row):
                    prefixes[i, k, : len(beam.tokens)] = beam.tokens
            log_probs = np.asarray(
                self._step(
                    self.params,
                    cross_kv,
                    encoder_tokens,
                    jax.device_put(prefixes, rows_sharding),
                    position,
                )
            )
            beams = [self._expand(row, log_probs[i], beam_size) for i, row in enumerate(beams)]
        return [
            [
                Generation(tuple(b.tokens), self._items_for(b.tokens), b.score)
                for b in sorted(row, key=lambda b: -b.score)
                if b.finished or self.trie is None
            ]
            for row in beams
        ]

    def _items_for(self, tokens: list[int]) -> tuple[str, ...]:
        return () if self.trie is None else self.trie.items_for(tokens)

    def _allowed_next(self, tokens: list[int], log_probs: np.ndarray, beam_size: int) -> list[int]:
        """The trie's continuations, or without a trie the ``beam_size`` likeliest tokens
        (never padding)."""
        if self.trie is not None:
            return list(self.trie.allowed_next(tokens))
        likeliest = np.argsort(-log_probs, kind="stable")[: beam_size + 1]
        return [int(t) for t in likeliest if t != buckets_lib.PAD_ID][:beam_size]

    def _expand(self, row: list[_Beam], log_probs: np.ndarray, beam_size: int) -> list[_Beam]:
        """Best ``beam_size`` continuations of one row's beams (finished beams carry over)."""
        options: list[_Beam] = []
        for k, beam in enumerate(row):
            if beam.finished:
                options.append(beam)
                continue
            for token in self._allowed_next(beam.tokens, log_probs[k], beam_size):
                options.append(
                    _Beam(
                        [*beam.tokens, token],
                        beam.score + float(log_probs[k, token]),
                        token == buckets_lib.EOS_ID,
                    )
                )
        options.sort(key=lambda b: -b.score)
        return options[:beam_size]
