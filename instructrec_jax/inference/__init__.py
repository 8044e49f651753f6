"""Inference drivers around :class:`~instructrec_jax.models.model.EncoderDecoderModel`.

The model gives the pure functions (``score_candidates``: [B, L] instructions, [B, N, T]
candidates -> [B, N] log-likelihoods, encoding each instruction once; ``yes_log_odds``;
``next_token_log_probs``); these classes turn token lists into a few bucketed shapes and
run them compiled by a :class:`~instructrec_jax.partitioning.Partitioner`:

- :class:`engine.ScoringEngine`: token lists in, numpy scores out; shape buckets, candidate
  chunks, batches sharded over the mesh's ``'data'`` axis.
- :class:`pointwise.PointwiseScorer`: T0, log p(Yes) - log p(No) at the first step.
- :class:`generation.ConstrainedGenerator` + :class:`trie.TitleTrie`: greedy / beam search
  that can only produce catalog titles (or, without a trie, any tokens).
"""

from instructrec_jax.inference.buckets import ScoringBuckets
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.inference.generation import ConstrainedGenerator, Generation
from instructrec_jax.inference.pointwise import PointwiseScorer
from instructrec_jax.inference.trie import TitleTrie

__all__ = [
    "ConstrainedGenerator",
    "Generation",
    "PointwiseScorer",
    "ScoringBuckets",
    "ScoringEngine",
    "TitleTrie",
]
