"""FLOP counts of the encoder-decoder train step, and the peak they are compared against.

Count (matmul FLOPs, 2 per multiply-add, padding included because it is computed):
forward per example with encoder length L, decoder length T, D = d_model,
A = heads * head_dim, F = d_ff, V = vocab:

* encoder layer:  L * (8 D A + 6 D F) + 4 L^2 A         (q,k,v,o; gated MLP; QK^T and AV)
* decoder layer:  T * (8 D A + 6 D F) + 4 T^2 A          (self-attention, MLP)
                + T * 4 D A + L * 4 D A + 4 T L A        (cross-attention q,o; k,v; scores)
* logits:         2 T D V

A train step is 3x the forward (the backward pass costs two forwards); rematerialization
is not counted (MFU, not hardware FLOPs utilization). This is within a few percent of
``6 * params * tokens`` for long sequences but exact for short ones, where attention and
the separate encoder/decoder token counts matter.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from instructrec_jax.models.config import T5Config

# Dense peak FLOP/s per chip for bf16 matmuls (vendor figures), by prefix of JAX's
# ``device_kind``. First match wins: TPU v5e reports "TPU v5 lite" and v5p reports "TPU v5",
# so the v5e entries must come before v5p's.
KNOWN_PEAK_FLOPS = {
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v5": 459e12,  # v5p
    "TPU v6 lite": 918e12,
    "NVIDIA H100": 989e12,
    "NVIDIA H200": 989e12,
    "NVIDIA A100": 312e12,
}


def forward_flops_per_example(config: T5Config, input_length: int, target_length: int) -> float:
    """Matmul FLOPs of one teacher-forced forward pass of one example."""
    d, a, f, v = config.d_model, config.num_heads * config.head_dim, config.d_ff, config.vocab_size
    big_l, t = input_length, target_length
    encoder_layer = big_l * (8 * d * a + 6 * d * f) + 4 * big_l * big_l * a
    decoder_layer = (
        t * (8 * d * a + 6 * d * f) + 4 * t * t * a + t * 4 * d * a + big_l * 4 * d * a
    ) + 4 * t * big_l * a
    logits = 2 * t * d * v
    return float(
        config.num_encoder_layers * encoder_layer
        + config.num_decoder_layers * decoder_layer
        + logits
    )


def train_step_flops(
    config: T5Config, batch_size: int, input_length: int, target_length: int
) -> float:
    """FLOPs of one train step (forward + backward) on a global batch."""
    return 3.0 * batch_size * forward_flops_per_example(config, input_length, target_length)


def measure_matmul_peak(size: int = 2048, dtype: str = "float32", repeats: int = 5) -> float:
    """Measured FLOP/s of a jitted ``size x size`` matmul on the default device (best run)."""
    key_a, key_b = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(key_a, (size, size), jnp.dtype(dtype))
    b = jax.random.normal(key_b, (size, size), jnp.dtype(dtype))
    matmul = jax.jit(jnp.matmul)
    matmul(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def peak_flops_per_device(configured: float | None = None) -> tuple[float, str]:
    """(FLOP/s of one device, where the number came from).

    ``configured`` wins; then the vendor table for known accelerators; otherwise a
    measured f32 matmul on the default device. On CPU it is divided by the local device
    count, since virtual CPU devices share the same cores; an unknown GPU or TPU measures
    one real device.
    """
    if configured is not None:
        if configured <= 0:
            raise ValueError(f"peak FLOP/s must be positive, got {configured}")
        return float(configured), "configured"
    device = jax.devices()[0]
    kind = device.device_kind
    for name, peak in KNOWN_PEAK_FLOPS.items():
        if kind.startswith(name):
            return peak, f"vendor peak for {kind}"
    measured = measure_matmul_peak(size=1024, repeats=3)
    if device.platform == "cpu":
        measured /= jax.local_device_count()
    return measured, f"measured f32 matmul on {kind}"
