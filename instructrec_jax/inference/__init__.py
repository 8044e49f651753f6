"""Inference: candidate log-likelihoods, pointwise Yes-vs-No log-odds, constrained generation.

- :func:`scoring.score_candidates` (pure, jit-able): [B, L] instructions, [B, N, T]
  candidates -> [B, N] log-likelihoods, encoding each instruction once;
  :func:`scoring.score_candidates_naive` is the per-pair reference.
- :class:`engine.ScoringEngine`: token lists in, numpy scores out; shape buckets, candidate
  chunks, batches sharded over a mesh's ``'data'`` axis.
- :class:`pointwise.PointwiseScorer`: T0, log p(Yes) - log p(No) at the first step.
- :class:`generation.ConstrainedGenerator` + :class:`trie.TitleTrie`: greedy / beam search
  that can only produce catalog titles.
"""

from instructrec_jax.inference.buckets import ScoringBuckets
from instructrec_jax.inference.engine import ScoringEngine
from instructrec_jax.inference.generation import ConstrainedGenerator, Generation
from instructrec_jax.inference.pointwise import PointwiseScorer, yes_log_odds
from instructrec_jax.inference.scoring import score_candidates, score_candidates_naive
from instructrec_jax.inference.trie import TitleTrie

__all__ = [
    "ConstrainedGenerator",
    "Generation",
    "PointwiseScorer",
    "ScoringBuckets",
    "ScoringEngine",
    "TitleTrie",
    "score_candidates",
    "score_candidates_naive",
    "yes_log_odds",
]
