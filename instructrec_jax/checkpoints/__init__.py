"""Checkpoint import (HF safetensors, T5X legacy and Orbax, our trainer) and HF export."""

from instructrec_jax.checkpoints.hf import config_from_hf, export_hf, load_hf_params
from instructrec_jax.checkpoints.loader import (
    CheckpointFormat,
    latest_step_dir,
    load_params,
    resolve_checkpoint,
)
from instructrec_jax.checkpoints.tree import CheckpointMismatchError

__all__ = [
    "CheckpointFormat",
    "CheckpointMismatchError",
    "config_from_hf",
    "export_hf",
    "latest_step_dir",
    "load_hf_params",
    "load_params",
    "resolve_checkpoint",
]
