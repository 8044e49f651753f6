"""The tests' small T5 configurations: one baseline, and each test's differences from it.

Importing this module has no side effects (no SeqIO task, no TensorFlow), so every test
package can use it.
"""

from __future__ import annotations

from instructrec_jax.models.config import T5Config


def tiny_t5_config(**overrides: object) -> T5Config:
    """A float32 T5 with d_model 32, 2 heads x 16, d_ff 64, 1 + 1 layers, vocabulary 64;
    ``overrides`` replace any field."""
    fields: dict[str, object] = dict(
        vocab_size=64,
        d_model=32,
        num_heads=2,
        head_dim=16,
        d_ff=64,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dtype="float32",
    )
    return T5Config(**{**fields, **overrides})
