"""The correspondence between T5X parameter paths and HF ``transformers`` T5 tensor names.

T5X paths are '/'-joined (``encoder/layers_0/attention/query/kernel``). Kernels are
[in, out] in T5X and [out, in] in PyTorch; the relative position table is [heads, buckets]
in T5X and [buckets, heads] in HF. Every rule here is a transpose or the identity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from instructrec_jax.models.config import T5Config

# HF names that alias ``shared.weight`` (tied input embeddings); ignored on import.
HF_EMBEDDING_ALIASES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")

_ATTENTION_PROJECTIONS = (("query", "q"), ("key", "k"), ("value", "v"), ("out", "o"))
_MLP_PROJECTIONS = ("wi_0", "wi_1", "wo")


@dataclasses.dataclass(frozen=True)
class TensorName:
    """One parameter: its T5X path, HF key, and whether HF stores it transposed."""

    t5x_path: str
    hf_key: str
    transpose: bool


def _attention(t5x_prefix: str, hf_prefix: str) -> Iterator[TensorName]:
    for t5x_name, hf_name in _ATTENTION_PROJECTIONS:
        yield TensorName(f"{t5x_prefix}/{t5x_name}/kernel", f"{hf_prefix}.{hf_name}.weight", True)


def _mlp(t5x_prefix: str, hf_prefix: str) -> Iterator[TensorName]:
    for name in _MLP_PROJECTIONS:
        yield TensorName(f"{t5x_prefix}/{name}/kernel", f"{hf_prefix}.{name}.weight", True)


def _norm(t5x_prefix: str, hf_key: str) -> TensorName:
    return TensorName(f"{t5x_prefix}/scale", hf_key, False)


# Each layer's sublayers in order: (T5X norm, T5X module, HF module). HF numbers them
# ``layer.<position>``; T5X names them.
_ENCODER_SUBLAYERS = (
    ("pre_attention_layer_norm", "attention", "SelfAttention"),
    ("pre_mlp_layer_norm", "mlp", "DenseReluDense"),
)
_DECODER_SUBLAYERS = (
    ("pre_self_attention_layer_norm", "self_attention", "SelfAttention"),
    ("pre_cross_attention_layer_norm", "encoder_decoder_attention", "EncDecAttention"),
    ("pre_mlp_layer_norm", "mlp", "DenseReluDense"),
)


def _layer(
    stack: str, index: int, sublayers: tuple[tuple[str, str, str], ...]
) -> Iterator[TensorName]:
    """The tensors of layer ``index`` of the ``encoder`` or ``decoder`` stack."""
    t5x = f"{stack}/layers_{index}"
    hf = f"{stack}.block.{index}.layer"
    for position, (norm, module, hf_module) in enumerate(sublayers):
        yield _norm(f"{t5x}/{norm}", f"{hf}.{position}.layer_norm.weight")
        expand = _mlp if module == "mlp" else _attention
        yield from expand(f"{t5x}/{module}", f"{hf}.{position}.{hf_module}")


def tensor_names(config: T5Config) -> list[TensorName]:
    """Every parameter of a model with this config, T5X path <-> HF key."""
    relpos = "block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    names = [
        TensorName("token_embedder/embedding", "shared.weight", False),
        TensorName("encoder/relpos_bias/rel_embedding", f"encoder.{relpos}", True),
        TensorName("decoder/relpos_bias/rel_embedding", f"decoder.{relpos}", True),
        _norm("encoder/encoder_norm", "encoder.final_layer_norm.weight"),
        _norm("decoder/decoder_norm", "decoder.final_layer_norm.weight"),
        TensorName("decoder/logits_dense/kernel", "lm_head.weight", True),
    ]
    for index in range(config.num_encoder_layers):
        names.extend(_layer("encoder", index, _ENCODER_SUBLAYERS))
    for index in range(config.num_decoder_layers):
        names.extend(_layer("decoder", index, _DECODER_SUBLAYERS))
    return names
