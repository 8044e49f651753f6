"""How a :class:`TrainConfig` becomes a mesh, a sharded state layout and a train step.

One place for it, so that training (:func:`instructrec_jax.training.train`), the preflight
mesh check and the ahead-of-time compile check (:mod:`instructrec_jax.compile_check`) build
exactly the same program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import optax
from jax.sharding import Mesh, NamedSharding

from instructrec_jax.models.model import EncoderDecoderModel
from instructrec_jax.partitioning import (
    LogicalRules,
    PartitionedFunction,
    Partitioner,
    make_mesh,
    standard_logical_axis_rules,
)
from instructrec_jax.training.config import TrainConfig
from instructrec_jax.training.optimizer import learning_rate_schedule
from instructrec_jax.training.state import StateLayout, build_layout
from instructrec_jax.training.step import (
    EvalStepFn,
    jit_train_step,
    make_eval_step,
    make_train_step,
)


def train_mesh(
    config: TrainConfig,
    devices: Sequence[Any] | None = None,
    dcn_mesh_shape: tuple[int, int] | None = None,
) -> Mesh:
    """The run's mesh over ``devices`` (default: all); ``dcn_mesh_shape`` applies when the
    config leaves it unset (the compile check's multi-host GPU targets)."""
    return make_mesh(
        config.num_partitions,
        config.mesh_shape,
        devices,
        dcn_mesh_shape=config.dcn_mesh_shape or dcn_mesh_shape,
        reshape_fallback=config.mesh_reshape_fallback,
    )


@dataclasses.dataclass(frozen=True)
class TrainProgram:
    """Everything the train step is made of; ``pure_step`` is not compiled yet. Every
    program of the run is compiled by ``layout.partitioner``."""

    schedule: optax.Schedule
    layout: StateLayout
    model: EncoderDecoderModel
    batch_sharding: NamedSharding
    pure_step: Any

    @property
    def mesh(self) -> Mesh:
        """The run's device mesh."""
        return self.layout.partitioner.mesh

    @property
    def rules(self) -> LogicalRules:
        """The run's logical axis rules."""
        return self.layout.partitioner.rules

    def step_fn(self) -> PartitionedFunction:
        """The compiled step (state donated; runs, traces and lowers under the mesh and
        rules)."""
        return jit_train_step(self.pure_step, self.layout, self.batch_sharding)

    def eval_step_fn(self) -> EvalStepFn:
        """The compiled validation step (no dropout)."""
        return make_eval_step(self.model, self.layout, self.batch_sharding)


def build_train_program(config: TrainConfig, mesh: Mesh) -> TrainProgram:
    """The train step of ``config`` on ``mesh`` (shapes and shardings only; no arrays)."""
    partitioner = Partitioner(mesh, standard_logical_axis_rules(config.fsdp))
    schedule = learning_rate_schedule(
        config.learning_rate, config.learning_rate_schedule, config.warmup_steps
    )
    model_config = config.model
    layout = build_layout(model_config, partitioner, schedule, config.optimizer)
    model = EncoderDecoderModel(model_config, z_loss=config.z_loss)
    pure_step = make_train_step(
        model,
        layout,
        num_microbatches=config.num_microbatches,
        dropout=model_config.dropout_rate > 0,
        seed=config.seed,
    )
    return TrainProgram(schedule, layout, model, partitioner.data_sharding(), pure_step)


def train_batch_features(pack: bool) -> tuple[tuple[str, str], ...]:
    """(feature, 'inputs' or 'targets') of a train batch; packing adds segment ids and
    positions (SeqIO's encoder-decoder feature converter)."""
    features = [
        ("encoder_input_tokens", "inputs"),
        ("decoder_input_tokens", "targets"),
        ("decoder_target_tokens", "targets"),
        ("decoder_loss_weights", "targets"),
    ]
    if pack:
        features += [
            ("encoder_segment_ids", "inputs"),
            ("encoder_positions", "inputs"),
            ("decoder_segment_ids", "targets"),
            ("decoder_positions", "targets"),
        ]
    return tuple(features)


def abstract_train_batch(
    config: TrainConfig, batch_size: int, sharding: NamedSharding
) -> dict[str, jax.ShapeDtypeStruct]:
    """int32 ``[batch_size, length]`` shapes of every feature of a train batch."""
    lengths = config.task_feature_lengths
    return {
        name: jax.ShapeDtypeStruct((batch_size, int(lengths[kind])), "int32", sharding=sharding)
        for name, kind in train_batch_features(config.pack)
    }
