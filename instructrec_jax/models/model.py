"""The encoder-decoder model: the one object training, scoring and generation call.

In the spirit of T5X's ``EncoderDecoderModel``: it owns the flax module
(:class:`~instructrec_jax.models.t5.Transformer`) and its config, and gives

- :meth:`EncoderDecoderModel.loss_fn`: the train loss (token cross-entropy + z-loss) of a
  feature batch, as sums (:class:`~instructrec_jax.models.losses.LossSums`);
- :meth:`EncoderDecoderModel.score_batch`: T5X ``score_batch`` semantics, the summed
  log-likelihood of each sequence's target tokens;
- :meth:`EncoderDecoderModel.score_candidates`: N candidates per instruction, the
  instruction encoded (and its cross keys/values projected) once;
- :meth:`EncoderDecoderModel.predict_batch`: greedy or beam search, constrained to a title
  trie or free (:mod:`instructrec_jax.inference.generation`).

Every method is pure and takes ``params`` (the ``'params'`` collection, what
``checkpoints.load_params`` returns); compile them with
:meth:`instructrec_jax.partitioning.Partitioner.partition`. Token conventions are T5's:
id 0 is padding and the decoder's start token, targets end with EOS (id 1), and decoder
inputs are the targets shifted right (:func:`shift_right`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from instructrec_jax.models.config import T5Config
from instructrec_jax.models.losses import LossSums, sequence_log_likelihood, token_loss_sums
from instructrec_jax.models.t5 import CrossKV, Transformer
from instructrec_jax.tasks.vocab import PAD_ID

if TYPE_CHECKING:
    from instructrec_jax.inference.buckets import ScoringBuckets
    from instructrec_jax.inference.generation import Generation
    from instructrec_jax.inference.trie import TitleTrie
    from instructrec_jax.partitioning import Partitioner

Params = Any
Batch = Mapping[str, jax.Array]

DECODER_START_ID = PAD_ID
"""The decoder's first input token (T5: the padding id)."""

MODEL_FEATURES = (
    "encoder_input_tokens",
    "decoder_input_tokens",
    "decoder_target_tokens",
    "encoder_segment_ids",
    "decoder_segment_ids",
    "encoder_positions",
    "decoder_positions",
)
"""The batch features the module reads (a train batch also has ``decoder_loss_weights``)."""


def shift_right(targets: jax.Array, start_id: int = DECODER_START_ID) -> jax.Array:
    """Decoder inputs from targets along the last axis: [t0, t1, ...] -> [start, t0, ...]."""
    start = jnp.full((*targets.shape[:-1], 1), start_id, dtype=targets.dtype)
    return jnp.concatenate([start, targets[..., :-1]], axis=-1)


def length_normalized(scores: jax.Array, targets: jax.Array) -> jax.Array:
    """``scores`` [...] divided by the count of non-padding tokens of ``targets`` [..., T]."""
    lengths = jnp.sum(targets != PAD_ID, axis=-1).astype(scores.dtype)
    return scores / jnp.maximum(lengths, 1.0)


class EncoderDecoderModel:
    """A T5 encoder-decoder: the module, its config and the functions jobs call.

    Args:
      config: the model's :class:`T5Config`.
      z_loss: the z-loss coefficient of :meth:`loss_fn` (T5X: 1e-4).
    """

    def __init__(self, config: T5Config, z_loss: float = 1e-4) -> None:
        self.config = config
        self.module = Transformer(config)
        self.z_loss = float(z_loss)

    def __repr__(self) -> str:
        return f"EncoderDecoderModel({self.config!r}, z_loss={self.z_loss})"

    # The module's calls.

    def initial_params(self, rng: jax.Array) -> Params:
        """Freshly initialized parameters from ``rng`` (unboxed; T5X's
        ``get_initial_variables``, params only)."""
        tokens = jnp.ones((1, 1), jnp.int32)
        return nn.unbox(self.module.init(rng, tokens, tokens)["params"])

    def encode(self, params: Params, encoder_tokens: jax.Array) -> jax.Array:
        """encoder_tokens int32 [B, L] -> encoded [B, L, D]."""
        return self.module.apply({"params": params}, encoder_tokens, method="encode")

    def encode_and_project(self, params: Params, encoder_tokens: jax.Array) -> CrossKV:
        """Encode [B, L] tokens and project every decoder layer's cross-attention keys/values
        ([B, L, H, Dh] each) once, for :meth:`decode_with_kv`."""
        encoded = self.encode(params, encoder_tokens)
        return self.module.apply({"params": params}, encoded, method="cross_attention_kv")

    def decode_with_kv(
        self,
        params: Params,
        cross_kv: CrossKV,
        encoder_tokens: jax.Array,
        decoder_inputs: jax.Array,
    ) -> jax.Array:
        """Teacher-forced decoder logits reading precomputed cross keys/values.

        Args:
          cross_kv: :meth:`encode_and_project` of ``encoder_tokens``.
          encoder_tokens: int32 [B, L] (its padding masks the cross-attention).
          decoder_inputs: int32 [B, T] or [B, N, T]; with the N axis every candidate of a
            row attends to that row's keys/values without copying them.

        Returns:
          float32 logits [B, (N,) T, V].
        """
        return self.module.apply(
            {"params": params},
            None,
            encoder_tokens,
            decoder_inputs,
            cross_kv=cross_kv,
            method="decode",
        )

    def logits(
        self, params: Params, batch: Batch, dropout_rng: jax.Array | None = None
    ) -> jax.Array:
        """The full forward pass over a feature batch (:data:`MODEL_FEATURES`; decoder inputs
        default to the shifted targets): logits [B, T, V]. Dropout is on when
        ``dropout_rng`` is given."""
        features = {name: batch[name] for name in MODEL_FEATURES if name in batch}
        if "decoder_input_tokens" not in features:
            features["decoder_input_tokens"] = shift_right(batch["decoder_target_tokens"])
        return self.module.apply(
            {"params": params},
            **features,
            enable_dropout=dropout_rng is not None,
            rngs={"dropout": dropout_rng} if dropout_rng is not None else None,
        )

    # Training.

    def loss_fn(
        self, params: Params, batch: Batch, dropout_rng: jax.Array | None = None
    ) -> tuple[jax.Array, LossSums]:
        """(summed loss, its :class:`LossSums`) of a train batch.

        The loss is the ``decoder_loss_weights``-weighted sum of token cross-entropy plus
        z-loss (nats, not yet divided by the token count, so microbatches add up); the
        train step divides by the accumulated ``LossSums.weight``.
        """
        sums = token_loss_sums(
            self.logits(params, batch, dropout_rng),
            batch["decoder_target_tokens"],
            batch["decoder_loss_weights"],
            self.z_loss,
        )
        return sums.cross_entropy + sums.z_loss, sums

    # Scoring.

    def score_batch(self, params: Params, batch: Batch) -> jax.Array:
        """T5X ``score_batch``: float32 [B] sums of log p(target token) (nats), EOS included,
        padding (id 0) excluded, no label smoothing, no z-loss.

        ``batch``: ``encoder_input_tokens`` int32 [B, L], ``decoder_target_tokens`` [B, T]
        (0-padded) and optionally ``decoder_input_tokens`` (default: shifted targets).
        """
        return sequence_log_likelihood(self.logits(params, batch), batch["decoder_target_tokens"])

    def score_with_cross_kv(
        self,
        params: Params,
        cross_kv: CrossKV,
        instructions: jax.Array,
        candidates: jax.Array,
        length_normalize: bool = False,
    ) -> jax.Array:
        """Scores [B, N] of candidates [B, N, T] given :meth:`encode_and_project` of the
        instructions [B, L]; :meth:`score_candidates` without the encoder."""
        logits = self.decode_with_kv(params, cross_kv, instructions, shift_right(candidates))
        scores = sequence_log_likelihood(logits, candidates)
        return length_normalized(scores, candidates) if length_normalize else scores

    def score_candidates(
        self,
        params: Params,
        instructions: jax.Array,
        candidates: jax.Array,
        length_normalize: bool = False,
    ) -> jax.Array:
        """Log-likelihood [B, N] of each candidate [B, N, T] given its instruction [B, L].

        :meth:`score_batch` of every (instruction, candidate) pair, but each instruction is
        encoded and its cross keys/values projected once, and all N candidates decode in one
        pass over a candidate axis. Candidates are EOS-terminated and 0-padded (an
        all-padding candidate scores 0); ``length_normalize`` divides each sum by the
        candidate's token count.
        """
        cross_kv = self.encode_and_project(params, instructions)
        return self.score_with_cross_kv(
            params, cross_kv, instructions, candidates, length_normalize
        )

    def yes_log_odds(
        self, params: Params, instructions: jax.Array, yes_id: int, no_id: int
    ) -> jax.Array:
        """log p(Yes | instruction) - log p(No | instruction) at the first decoder step:
        float32 [B] (nats) for instructions int32 [B, L]."""
        cross_kv = self.encode_and_project(params, instructions)
        start = jnp.full((instructions.shape[0], 1), DECODER_START_ID, jnp.int32)
        logits = self.decode_with_kv(params, cross_kv, instructions, start)[:, 0, :]
        return logits[:, yes_id].astype(jnp.float32) - logits[:, no_id].astype(jnp.float32)

    # Generation.

    def next_token_log_probs(
        self,
        params: Params,
        cross_kv: CrossKV,
        instructions: jax.Array,
        prefixes: jax.Array,
        position: jax.Array,
    ) -> jax.Array:
        """log p(next token) float32 [B, K, V] after ``position`` tokens of the prefix buffers
        [B, K, T] (teacher-forced; causal masking makes later buffer positions irrelevant)."""
        logits = self.decode_with_kv(params, cross_kv, instructions, shift_right(prefixes))
        at_position = jax.lax.dynamic_index_in_dim(logits, position, axis=2, keepdims=False)
        return jax.nn.log_softmax(at_position.astype(jnp.float32), axis=-1)

    def predict_batch(
        self,
        params: Params,
        instructions: Sequence[Sequence[int]],
        *,
        beam_size: int = 1,
        trie: TitleTrie | None = None,
        max_decode_length: int | None = None,
        buckets: ScoringBuckets | None = None,
        partitioner: Partitioner | None = None,
    ) -> list[list[Generation]]:
        """Greedy (``beam_size=1``) or beam search for each token-id instruction.

        With a ``trie`` every answer is one of its titles followed by EOS; without one any
        token may follow and ``max_decode_length`` bounds the answer. Returns, per
        instruction, up to ``beam_size`` finished answers, best first. Builds (and compiles)
        a :class:`~instructrec_jax.inference.generation.ConstrainedGenerator`; hold one of
        those to generate repeatedly.
        """
        from instructrec_jax.inference.generation import ConstrainedGenerator

        generator = ConstrainedGenerator(
            self, params, trie, buckets, partitioner, max_decode_length=max_decode_length
        )
        return generator.generate(instructions, beam_size)


def as_model(model: EncoderDecoderModel | Transformer) -> EncoderDecoderModel:
    """``model`` itself, or an :class:`EncoderDecoderModel` around a bare ``Transformer``."""
    if isinstance(model, EncoderDecoderModel):
        return model
    if isinstance(model, Transformer):
        return EncoderDecoderModel(model.config)
    raise TypeError(f"expected an EncoderDecoderModel or a Transformer, got {type(model).__name__}")


def score_candidates_by_pairs(
    model: EncoderDecoderModel,
    params: Params,
    instructions: jax.Array,
    candidates: jax.Array,
    length_normalize: bool = False,
) -> jax.Array:
    """Reference for :meth:`EncoderDecoderModel.score_candidates`: scores [B, N] with each
    instruction [B, L] repeated N times and :meth:`~EncoderDecoderModel.score_batch` on
    every (instruction, candidate [B, N, T]) pair, T5X's rank classification; N times the
    encoder work, the same numbers to float tolerance."""
    batch, num_candidates, target_length = candidates.shape
    flat_targets = candidates.reshape(batch * num_candidates, target_length)
    pairs = {
        "encoder_input_tokens": jnp.repeat(instructions, num_candidates, axis=0),
        "decoder_target_tokens": flat_targets,
    }
    scores = model.score_batch(params, pairs).reshape(batch, num_candidates)
    return length_normalized(scores, candidates) if length_normalize else scores
