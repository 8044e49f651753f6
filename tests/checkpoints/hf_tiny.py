"""Tiny random HF ``T5ForConditionalGeneration`` models and padded token batches for tests."""

from __future__ import annotations

import numpy as np

TINY_HF_CONFIGS = {
    # head_dim * heads != d_model, unequal encoder/decoder depth.
    "dkv": dict(d_model=32, d_kv=12, num_heads=3, d_ff=48, num_layers=2, num_decoder_layers=3),
    "square": dict(d_model=48, d_kv=16, num_heads=3, d_ff=64, num_layers=1, num_decoder_layers=1),
}


def build_tiny_hf_model(name: str, vocab_size: int = 128, seed: int = 0):
    """A random untied gated-GELU T5 model (float32, eval mode)."""
    import torch
    from transformers import T5Config as HFT5Config
    from transformers import T5ForConditionalGeneration

    torch.manual_seed(seed)
    hf_config = HFT5Config(
        vocab_size=vocab_size,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.0,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        **TINY_HF_CONFIGS[name],
    )
    model = T5ForConditionalGeneration(hf_config).eval()
    with torch.no_grad():
        # transformers 5.x ties lm_head to the embedding regardless of the config: give the
        # head its own weights, as real Flan-T5 checkpoints have. Also make every weight
        # non-trivial (HF initializes the norms to ones).
        model.lm_head.weight = torch.nn.Parameter(torch.randn(vocab_size, hf_config.d_model))
        for name_, parameter in model.named_parameters():
            if "layer_norm" in name_:
                parameter.copy_(1.0 + 0.1 * torch.randn_like(parameter))
    return model


def padded_batch(rng: np.random.Generator, lengths: list[int], vocab_size: int) -> np.ndarray:
    """Token ids [len(lengths), max(lengths)] in [2, vocab), right-padded with 0, EOS=1 last."""
    width = max(lengths)
    tokens = np.zeros((len(lengths), width), np.int32)
    for row, length in enumerate(lengths):
        tokens[row, : length - 1] = rng.integers(2, vocab_size, size=length - 1)
        tokens[row, length - 1] = 1
    return tokens
