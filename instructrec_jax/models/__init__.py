"""Flan-T5 / T5 v1.1 in flax linen with T5X parameter names and logical axis names."""

from instructrec_jax.models.config import PRESETS, REMAT_POLICIES, T5Config
from instructrec_jax.models.losses import sequence_log_likelihood, token_log_likelihoods
from instructrec_jax.models.model import EncoderDecoderModel, shift_right
from instructrec_jax.models.t5 import (
    CrossKV,
    Transformer,
    abstract_params,
    init_decode_cache,
    init_params,
)

__all__ = [
    "PRESETS",
    "REMAT_POLICIES",
    "CrossKV",
    "EncoderDecoderModel",
    "T5Config",
    "Transformer",
    "abstract_params",
    "init_decode_cache",
    "init_params",
    "sequence_log_likelihood",
    "shift_right",
    "token_log_likelihoods",
]
