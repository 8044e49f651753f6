"""The programs the compile check compiles: the train step and the evaluation scoring step.

Each is a function compiled by a :class:`~instructrec_jax.partitioning.Partitioner` plus
abstract arguments (``jax.ShapeDtypeStruct`` with shardings on
the target's mesh), so it lowers and compiles without an array ever being allocated.
Per-device sizes of the parameters and optimizer state come from those shardings.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import Mesh

from instructrec_jax.aot import MODES
from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.models.t5 import abstract_params
from instructrec_jax.partitioning import (
    LogicalRules,
    PartitionedFunction,
    Partitioner,
    standard_logical_axis_rules,
)
from instructrec_jax.training.config import TrainConfig
from instructrec_jax.training.program import abstract_train_batch, build_train_program


@dataclasses.dataclass(frozen=True)
class Program:
    """A compiled function, its abstract arguments and where they live.

    ``parameter_bytes`` / ``optimizer_state_bytes`` / ``argument_bytes``: bytes one device
    holds of each (the arguments include the batch); ``shape``: the global input shapes,
    for printing.
    """

    name: str
    jitted: PartitionedFunction
    args: tuple[Any, ...]
    mesh: Mesh
    rules: LogicalRules
    parameter_bytes: int
    optimizer_state_bytes: int
    shape: str

    @property
    def argument_bytes(self) -> int:
        """Bytes one device holds of all arguments."""
        return bytes_per_device(self.args)

    def lower(self) -> Any:
        """``jax.stages.Lowered`` of the program (under its mesh and logical rules)."""
        return self.jitted.lower(*self.args)


def bytes_per_device(tree: Any) -> int:
    """Bytes one device holds of a tree of sharded ``ShapeDtypeStruct`` (the largest shard)."""
    total = 0
    for leaf in jax.tree.leaves(tree):
        shard = leaf.sharding.shard_shape(leaf.shape) if leaf.sharding is not None else leaf.shape
        total += math.prod(shard) * np.dtype(leaf.dtype).itemsize
    return int(total)


def train_program(config: TrainConfig, mesh: Mesh, batch_size: int) -> Program:
    """The train step of ``config`` at global batch ``batch_size`` (rows) on ``mesh``."""
    program = build_train_program(config, mesh)
    state = program.layout.abstract_state
    batch = abstract_train_batch(config, batch_size, program.batch_sharding)
    lengths = config.task_feature_lengths
    return Program(
        name="train step",
        jitted=program.step_fn(),
        args=(state, batch),
        mesh=mesh,
        rules=program.rules,
        parameter_bytes=bytes_per_device(state.params),
        optimizer_state_bytes=bytes_per_device(state.opt_state),
        shape=f"{batch_size} x ({lengths['inputs']} + {lengths['targets']})",
    )


def score_program(config: TrainConfig, mesh: Mesh, batch_size: int, num_candidates: int) -> Program:
    """The evaluation scoring step (``EncoderDecoderModel.score_candidates``: encode the
    instructions, project
    the cross-attention keys/values, score every candidate in one teacher-forced pass):
    ``batch_size`` instructions of ``inputs`` tokens, each with ``num_candidates``
    candidates of ``targets`` tokens, parameters sharded by the run's rules."""
    partitioner = Partitioner(mesh, standard_logical_axis_rules(config.fsdp))
    model_config = config.model
    boxed = abstract_params(model_config)
    shardings = partitioner.param_shardings(boxed)
    params = jax.tree.map(
        lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
        nn.unbox(boxed),
        shardings,
    )
    rows = partitioner.data_sharding()
    inputs, targets = (int(config.task_feature_lengths[key]) for key in ("inputs", "targets"))
    instructions = jax.ShapeDtypeStruct((batch_size, inputs), "int32", sharding=rows)
    candidates = jax.ShapeDtypeStruct((batch_size, num_candidates, targets), "int32", sharding=rows)
    return Program(
        name="scoring step",
        jitted=partitioner.partition(EncoderDecoderModel(model_config).score_candidates),
        args=(params, instructions, candidates),
        mesh=mesh,
        rules=partitioner.rules,
        parameter_bytes=bytes_per_device(params),
        optimizer_state_bytes=0,
        shape=f"{batch_size} x {inputs} instruction tokens, {num_candidates} x {targets} "
        "candidate tokens",
    )


def build_program(
    mode: str, config: TrainConfig, mesh: Mesh, batch_size: int, num_candidates: int
) -> Program:
    """:func:`train_program` or :func:`score_program` by ``mode`` (one of :data:`MODES`)."""
    if mode == "train":
        return train_program(config, mesh, batch_size)
    if mode == "score":
        return score_program(config, mesh, batch_size, num_candidates)
    raise ValueError(f"--mode must be one of {MODES}, got {mode!r}")


def batch_granularity(mode: str, config: TrainConfig, mesh: Mesh) -> int:
    """Global batch sizes must be multiples of this: the data axis, times the microbatch
    count in training (every device keeps whole rows of every microbatch)."""
    data = int(mesh.shape["data"])
    return data * config.num_microbatches if mode == "train" else data
