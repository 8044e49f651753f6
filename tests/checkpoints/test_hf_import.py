"""HF transformers parity: import tiny random T5 models and compare with torch on CPU."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import torch
from hf_tiny import padded_batch

from instructrec_jax.checkpoints.hf import config_from_hf, load_hf_params
from instructrec_jax.models.losses import sequence_log_likelihood
from instructrec_jax.models.t5 import Transformer

TOLERANCE = 1e-4


def shift_right(targets: np.ndarray) -> np.ndarray:
    """Decoder inputs: targets shifted right with start token 0."""
    inputs = np.zeros_like(targets)
    inputs[:, 1:] = targets[:, :-1]
    return inputs


def torch_outputs(model, encoder_tokens: np.ndarray, targets: np.ndarray):
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor(encoder_tokens, dtype=torch.long),
            attention_mask=torch.tensor(encoder_tokens > 0, dtype=torch.long),
            decoder_input_ids=torch.tensor(shift_right(targets), dtype=torch.long),
        )
    return out.logits.numpy(), out.encoder_last_hidden_state.numpy()


@pytest.mark.parametrize("name", ["dkv", "square"])
def test_imported_model_matches_transformers(tiny_hf_checkpoint, name):
    folder, hf_model = tiny_hf_checkpoint(name)
    config = config_from_hf(folder, dtype="float32")
    params = load_hf_params(folder, config)
    rng = np.random.default_rng(1)
    # Lengths past 16 reach the logarithmic relative-position buckets.
    encoder_tokens = padded_batch(rng, [23, 5, 14], config.vocab_size)
    targets = padded_batch(rng, [7, 19, 3], config.vocab_size)

    # Unoptimized XLA code compiles several times faster for these tiny programs.
    apply = jax.jit(
        Transformer(config).apply,
        static_argnames=("method",),
        compiler_options={"xla_backend_optimization_level": 0},
    )
    variables = {"params": params}
    logits = np.asarray(
        apply(variables, encoder_tokens, shift_right(targets), decoder_target_tokens=targets)
    )
    encoded = np.asarray(apply(variables, encoder_tokens, method=Transformer.encode))
    want_logits, want_encoded = torch_outputs(hf_model, encoder_tokens, targets)

    valid_encoder = encoder_tokens > 0
    valid_decoder = targets > 0
    np.testing.assert_allclose(
        encoded[valid_encoder], want_encoded[valid_encoder], atol=TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(
        logits[valid_decoder], want_logits[valid_decoder], atol=TOLERANCE, rtol=0
    )
    scores = np.asarray(sequence_log_likelihood(logits, targets))
    want_log_probs = torch.log_softmax(torch.tensor(want_logits), dim=-1).numpy()
    picked = np.take_along_axis(want_log_probs, targets[..., None], axis=-1)[..., 0]
    want_scores = np.where(valid_decoder, picked, 0.0).sum(-1)
    np.testing.assert_allclose(scores, want_scores, atol=TOLERANCE, rtol=0)
