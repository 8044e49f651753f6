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
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from instructrec_jax.models.t5 import Transformer
from instructrec_jax.partitioning import LogicalRules, make_mesh, standard_logical_axis_rules
from instructrec_jax.training.config import TrainConfig
from instructrec_jax.training.optimizer import learning_rate_schedule
from instructrec_jax.training.state import StateLayout, build_layout
from instructrec_jax.training.step import (
    TrainStepFn,
    jit_train_step,
    make_train_step,
    sharded_train_step_jit,
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
    """Everything the train step is made of; ``pure_step`` is not jitted yet."""

    mesh: Mesh
    rules: LogicalRules
    schedule: optax.Schedule
    layout: StateLayout
    model: Transformer
    batch_sharding: NamedSharding
    pure_step: Any

    def step_fn(self) -> TrainStepFn:
        """The step as training calls it (state donated, run under the mesh and rules)."""
        return jit_train_step(
            self.pure_step, self.layout, self.mesh, self.rules, self.batch_sharding
        )

    def jitted(self) -> Any:
        """The ``jax.jit`` of the step (lower it under :meth:`Partitioner.activate`-style
        mesh and rules contexts)."""
        return sharded_train_step_jit(self.pure_step, self.layout, self.batch_sharding)


def build_train_program(config: TrainConfig, mesh: Mesh) -> TrainProgram:
    """The train step of ``config`` on ``mesh`` (shapes and shardings only; no arrays)."""
    rules = standard_logical_axis_rules(config.fsdp)
    schedule = learning_rate_schedule(
        config.learning_rate, config.learning_rate_schedule, config.warmup_steps
    )
    model_config = config.model
    layout = build_layout(model_config, mesh, rules, schedule, config.optimizer)
    model = Transformer(model_config)
    pure_step = make_train_step(
        model,
        layout,
        z_loss=config.z_loss,
        num_microbatches=config.num_microbatches,
        dropout=model_config.dropout_rate > 0,
        seed=config.seed,
    )
    batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
    return TrainProgram(mesh, rules, schedule, layout, model, batch_sharding, pure_step)


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
