"""Hyperparameters of a T5 v1.1 / Flan-T5 encoder-decoder, and the published sizes.

The config is a plain frozen dataclass: the library never reads gin. The gin files in
``gin/models/`` bind it through :mod:`instructrec_jax.models.gin_configurables`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

REMAT_POLICIES = (
    "none",
    "full",
    "dots_saveable",
    "dots_with_no_batch_dims_saveable",
    "everything_saveable",
)

DEFAULT_VOCAB_SIZE = 32128


@dataclasses.dataclass(frozen=True)
class T5Config:
    """Shape and numerics of the network.

    ``head_dim`` is independent of ``d_model / num_heads`` (HF calls it ``d_kv``).
    ``dtype`` is the activation/compute dtype, ``param_dtype`` the storage dtype of
    parameters. ``remat_policy`` is one of :data:`REMAT_POLICIES` and applies per layer.
    """

    vocab_size: int
    d_model: int
    num_heads: int
    head_dim: int
    d_ff: int
    num_encoder_layers: int
    num_decoder_layers: int
    dropout_rate: float = 0.0
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dtype: str = "bfloat16"
    param_dtype: str = "float32"
    remat_policy: str = "none"
    layer_norm_epsilon: float = 1e-6

    def __post_init__(self) -> None:
        positive = (
            "vocab_size",
            "d_model",
            "num_heads",
            "head_dim",
            "d_ff",
            "num_encoder_layers",
            "num_decoder_layers",
            "relative_attention_num_buckets",
            "relative_attention_max_distance",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"T5Config.{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"T5Config.dropout_rate must be in [0, 1), got {self.dropout_rate}")
        if self.remat_policy not in REMAT_POLICIES:
            raise ValueError(
                f"T5Config.remat_policy must be one of {REMAT_POLICIES}, got {self.remat_policy!r}"
            )
        for name in ("dtype", "param_dtype"):
            try:
                jnp.dtype(getattr(self, name))
            except TypeError as error:
                message = f"T5Config.{name} is not a dtype: {getattr(self, name)!r}"
                raise ValueError(message) from error

    @property
    def activation_dtype(self) -> jnp.dtype:
        """The compute dtype as a numpy dtype object."""
        return jnp.dtype(self.dtype)

    @property
    def parameter_dtype(self) -> jnp.dtype:
        """The parameter storage dtype as a numpy dtype object."""
        return jnp.dtype(self.param_dtype)

    def replace(self, **changes: Any) -> T5Config:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> T5Config:
        """A published Flan-T5 size (``tiny`` is a small test/demo size), with overrides."""
        if name not in PRESETS:
            raise ValueError(f"unknown T5 preset {name!r}; known: {sorted(PRESETS)}")
        return dataclasses.replace(PRESETS[name], **overrides)

    def num_params(self) -> int:
        """Number of parameters, from ``jax.eval_shape`` of the initializer (no allocation)."""
        from instructrec_jax.models.t5 import abstract_params

        leaves = jax.tree_util.tree_leaves(abstract_params(self))
        return int(sum(int(np.prod(leaf.shape)) for leaf in leaves))


# Large models save only weight-matmul outputs in the backward pass.
_LARGE_REMAT = "dots_with_no_batch_dims_saveable"


def _flan(d_model: int, heads: int, d_ff: int, layers: int, remat_policy: str) -> T5Config:
    return T5Config(
        remat_policy=remat_policy,
        vocab_size=DEFAULT_VOCAB_SIZE,
        d_model=d_model,
        num_heads=heads,
        head_dim=64,
        d_ff=d_ff,
        num_encoder_layers=layers,
        num_decoder_layers=layers,
    )


PRESETS: dict[str, T5Config] = {
    "tiny": T5Config(
        vocab_size=DEFAULT_VOCAB_SIZE,
        d_model=128,
        num_heads=4,
        head_dim=32,
        d_ff=512,
        num_encoder_layers=2,
        num_decoder_layers=2,
    ),
    "small": _flan(512, 6, 1024, 8, "none"),
    "base": _flan(768, 12, 2048, 12, "none"),
    "large": _flan(1024, 16, 2816, 24, _LARGE_REMAT),
    "xl": _flan(2048, 32, 5120, 24, _LARGE_REMAT),
    "xxl": _flan(4096, 64, 10240, 24, _LARGE_REMAT),
}
