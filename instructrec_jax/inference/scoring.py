"""Candidate log-likelihoods: encode each instruction once, decode all its candidates at once.

Semantics are T5X's ``score_batch``: a candidate's score is the sum over its target tokens
of log p(token | instruction, previous tokens), EOS included, padding (id 0) excluded, no
label smoothing, no z-loss; decoder inputs are the targets shifted right with start token 0.
Optionally the sum is divided by the number of target tokens (length normalization).

The fast path encodes an instruction once, projects every decoder layer's cross-attention
keys/values once, and decodes its N candidates in one teacher-forced pass over a candidate
axis ([B, N, T]) that reads those keys/values without copying them. The naive path
(:func:`score_candidates_naive`) repeats the instruction for every candidate and runs the
full model, which is what T5X's rank classification and most peers do; both give the same
numbers to float tolerance.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from instructrec_jax.inference import model_fns
from instructrec_jax.models.scoring import sequence_log_likelihood


def _normalize(scores: jax.Array, targets: jax.Array, length_normalize: bool) -> jax.Array:
    if not length_normalize:
        return scores
    lengths = jnp.sum(targets != 0, axis=-1).astype(scores.dtype)
    return scores / jnp.maximum(lengths, 1.0)


def score_with_cross_kv(
    module: Any,
    params: model_fns.Params,
    cross_kv: model_fns.CrossKV,
    instructions: jax.Array,
    candidates: jax.Array,
    length_normalize: bool = False,
) -> jax.Array:
    """Scores [B, N] of candidates [B, N, T] given precomputed cross keys/values.

    Args:
      module: the ``Transformer`` flax module.
      params: its ``'params'`` collection.
      cross_kv: :func:`model_fns.cross_attention_kv` of the encoded ``instructions``.
      instructions: int32 [B, L] encoder tokens (their padding masks cross-attention).
      candidates: int32 [B, N, T] target tokens, EOS-terminated, 0-padded; an all-padding
        candidate scores 0.
      length_normalize: divide each sum by the candidate's token count.

    Returns:
      float32 [B, N] log-likelihoods (nats).
    """
    decoder_inputs = model_fns.shift_right(candidates)
    logits = model_fns.decode_with_kv(module, params, cross_kv, instructions, decoder_inputs)
    scores = sequence_log_likelihood(logits, candidates)
    return _normalize(scores, candidates, length_normalize)


def score_candidates(
    module: Any,
    params: model_fns.Params,
    instructions: jax.Array,
    candidates: jax.Array,
    length_normalize: bool = False,
) -> jax.Array:
    """Log-likelihood [B, N] of each candidate [B, N, T] given its instruction [B, L].

    Encodes each instruction once and computes each decoder layer's cross-attention
    keys/values once, then scores all N candidates in one batched teacher-forced pass.
    Pure and jit-able; :class:`instructrec_jax.inference.engine.ScoringEngine` adds shape
    buckets, candidate chunking and sharding on top.
    """
    encoded = model_fns.encode(module, params, instructions)
    cross_kv = model_fns.cross_attention_kv(module, params, encoded)
    return score_with_cross_kv(module, params, cross_kv, instructions, candidates, length_normalize)


def score_candidates_naive(
    module: Any,
    params: model_fns.Params,
    instructions: jax.Array,
    candidates: jax.Array,
    length_normalize: bool = False,
) -> jax.Array:
    """Reference: repeat each instruction N times and run the full model on every pair.

    Same arguments and result as :func:`score_candidates`; N times the encoder work.
    """
    batch, num_candidates, target_length = candidates.shape
    repeated = jnp.repeat(instructions, num_candidates, axis=0)  # [B*N, L]
    flat_targets = candidates.reshape(batch * num_candidates, target_length)
    logits = model_fns.full_forward(
        module, params, repeated, model_fns.shift_right(flat_targets), flat_targets
    )
    scores = sequence_log_likelihood(logits, flat_targets).reshape(batch, num_candidates)
    return _normalize(scores, candidates, length_normalize)
