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

# Documented in instructrec_jax.models.layer_stack.
REMAT_POLICIES = (
    "none",
    "full",
    "minimal",
    "dots_saveable",
    "dots_with_no_batch_dims_saveable",
    "everything_saveable",
    "offload",
)

# How the XLA:CPU rewrites of instructrec_jax.models.xla_cpu are chosen.
CPU_REWRITES = ("auto", "plain", "cpu")

DEFAULT_VOCAB_SIZE = 32128

# The integer fields that fix the parameters' shapes (each a positive int).
PARAMETER_SHAPE_FIELDS = (
    "vocab_size",
    "d_model",
    "num_heads",
    "head_dim",
    "d_ff",
    "num_encoder_layers",
    "num_decoder_layers",
    "relative_attention_num_buckets",
)


@dataclasses.dataclass(frozen=True)
class T5Config:
    """Shape and numerics of the network.

    ``head_dim`` is independent of ``d_model / num_heads`` (HF calls it ``d_kv``).
    ``dtype`` is the activation/compute dtype, ``param_dtype`` the storage dtype of
    parameters. ``remat_policy`` is one of :data:`REMAT_POLICIES` and applies per layer
    (see :mod:`instructrec_jax.models.layer_stack`).

    ``scan_layers`` runs each stack as one ``nn.scan`` over its layers: parameters are
    stacked [num_layers, ...] under ``encoder/layers`` and ``decoder/layers`` (logical axis
    ``layers``) instead of ``layers_0``..``layers_{n-1}``; same values, and compile time
    that does not grow with depth. Checkpoints convert both ways on import and export
    (:mod:`instructrec_jax.checkpoints.layer_stacking`).

    ``cpu_rewrites`` picks the forms of :mod:`instructrec_jax.models.xla_cpu`: ``cpu``
    (the rewrites XLA:CPU runs fast), ``plain`` (what TPU/GPU run natively) or ``auto``
    (``cpu`` when the mesh the computation is traced under is CPU; without a mesh, when the
    default backend is). Values are the same either way.
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
    scan_layers: bool = False
    cpu_rewrites: str = "auto"

    def __post_init__(self) -> None:
        for name in (*PARAMETER_SHAPE_FIELDS, "relative_attention_max_distance"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"T5Config.{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"T5Config.dropout_rate must be in [0, 1), got {self.dropout_rate}")
        if self.remat_policy not in REMAT_POLICIES:
            raise ValueError(
                f"T5Config.remat_policy must be one of {REMAT_POLICIES}, got {self.remat_policy!r}"
            )
        if self.cpu_rewrites not in CPU_REWRITES:
            raise ValueError(
                f"T5Config.cpu_rewrites must be one of {CPU_REWRITES}, got {self.cpu_rewrites!r}"
            )
        if not isinstance(self.scan_layers, (bool, np.bool_)):
            raise ValueError(f"T5Config.scan_layers must be a bool, got {self.scan_layers!r}")
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

    @classmethod
    def from_fields(cls, preset: str | None = None, **fields: Any) -> T5Config:
        """``preset`` with ``fields`` replaced, or, without a preset, ``fields`` alone (then
        every field without a default must be among them). What a gin file's ``T5Config``
        bindings (``T5Config.preset`` and/or ``T5Config.<field>``) describe."""
        unknown = sorted(set(fields) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"T5Config has no field {', '.join(unknown)}")
        if preset is not None:
            return cls.preset(preset, **fields)
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        if missing:
            raise ValueError(
                f"T5Config needs a preset ({', '.join(PRESETS)}) or every size field; "
                f"missing {', '.join(missing)}"
            )
        return cls(**fields)

    def num_params(self) -> int:
        """Number of parameters, from ``jax.eval_shape`` of the initializer (no allocation)."""
        from instructrec_jax.models.t5 import abstract_params

        leaves = jax.tree_util.tree_leaves(abstract_params(self))
        return int(sum(int(np.prod(leaf.shape)) for leaf in leaves))


# The fields without a default: the sizes a config needs when it names no preset.
REQUIRED_FIELDS = tuple(
    field.name for field in dataclasses.fields(T5Config) if field.default is dataclasses.MISSING
)

# Large models save only weight-matmul outputs in the backward pass.
_LARGE_REMAT = "dots_with_no_batch_dims_saveable"


def _flan(
    d_model: int, heads: int, d_ff: int, layers: int, remat_policy: str, scan_layers: bool
) -> T5Config:
    return T5Config(
        remat_policy=remat_policy,
        scan_layers=scan_layers,
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
    # tiny and small stay unrolled: at 2-8 layers the unrolled program already compiles in
    # seconds, their steps need no per-layer slicing of stacked parameters, and their trees
    # keep the per-layer names of HF/T5X checkpoints (no conversion on load or export).
    "small": _flan(512, 6, 1024, 8, "none", scan_layers=False),
    "base": _flan(768, 12, 2048, 12, "none", scan_layers=True),
    "large": _flan(1024, 16, 2816, 24, _LARGE_REMAT, scan_layers=True),
    "xl": _flan(2048, 32, 5120, 24, _LARGE_REMAT, scan_layers=True),
    "xxl": _flan(4096, 64, 10240, 24, _LARGE_REMAT, scan_layers=True),
}
