"""Plain-argument configuration and result of a training run (no gin here).

``gin`` binds :class:`TrainConfig` at the edge (``instructrec_jax/train.py``,
``gin/runs/finetune.gin``); Python callers build it directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from instructrec_jax.models.config import T5Config
from instructrec_jax.training.optimizer import AdafactorConfig, check_schedule_args

# eval_fn(params, step) -> {metric name: value}; called every ``eval_period`` steps.
EvalFn = Callable[[Any, int], Mapping[str, float]]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a fine-tuning run needs.

    Sizes: ``batch_size`` is the global batch (examples, or packed rows with ``pack``);
    ``task_feature_lengths`` are token lengths ``{"inputs": L, "targets": T}``.
    ``train_steps`` is absolute (a run resumed or started from a step-N checkpoint trains
    until step ``train_steps``). Periods are in steps; 0 disables. ``profile_first_step``
    (None: off) and ``profile_steps`` choose a window of steps to trace
    (:mod:`instructrec_jax.training.profiler`). Mesh: ``mesh_shape`` (data, model) over all
    devices, or ``num_partitions``; on several slices ``dcn_mesh_shape`` says how many
    slices each axis spans (default: data across slices); ``mesh_reshape_fallback`` accepts
    a plain reshape where the devices' physical layout cannot be followed
    (:func:`instructrec_jax.partitioning.make_mesh`). Dropout is the model's
    (``model.dropout_rate``; gin: ``T5Config.dropout_rate``), and on whenever it is above 0.
    """

    model_dir: str
    mixture_or_task_name: str
    task_feature_lengths: Mapping[str, int]
    train_steps: int
    batch_size: int
    model: T5Config
    mixture_or_task_module: str | None = None
    use_cached_tasks: bool = False
    learning_rate: float = 1e-3
    learning_rate_schedule: str = "constant"
    warmup_steps: int = 0
    optimizer: AdafactorConfig = dataclasses.field(default_factory=AdafactorConfig)
    z_loss: float = 1e-4
    num_microbatches: int = 1
    pack: bool = True
    shuffle: bool = True
    seed: int = 0
    initial_checkpoint_path: str | None = None
    num_partitions: int = 1
    mesh_shape: tuple[int, int] | None = None
    dcn_mesh_shape: tuple[int, int] | None = None
    mesh_reshape_fallback: bool = False
    fsdp: bool = False
    checkpoint_period: int = 1000
    keep_checkpoints: int = 3
    async_checkpointing: bool = True
    log_period: int = 100
    eval_period: int = 0
    validation_split: str | None = "validation"
    validation_steps: int = 10
    peak_flops_per_device: float | None = None
    progress_bar: bool = True
    profile_first_step: int | None = None
    profile_steps: int = 3

    def __post_init__(self) -> None:
        """Checks that need no devices (the mesh against the devices: ``preflight``)."""
        for name in (
            "train_steps",
            "batch_size",
            "num_microbatches",
            "num_partitions",
            "keep_checkpoints",
            "profile_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("checkpoint_period", "log_period", "eval_period", "validation_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.batch_size % self.num_microbatches:
            raise ValueError(
                f"TrainConfig.batch_size {self.batch_size} is not divisible by "
                f"num_microbatches {self.num_microbatches}"
            )
        missing = {"inputs", "targets"} - set(self.task_feature_lengths)
        if missing:
            raise ValueError(f"TrainConfig.task_feature_lengths lacks {sorted(missing)}")
        if not self.model_dir:
            raise ValueError("TrainConfig.model_dir is empty")
        if self.profile_first_step is not None and self.profile_first_step < 1:
            raise ValueError(
                f"TrainConfig.profile_first_step must be >= 1 or None, got "
                f"{self.profile_first_step}"
            )
        try:
            check_schedule_args(self.learning_rate, self.learning_rate_schedule, self.warmup_steps)
        except ValueError as error:
            raise ValueError(f"TrainConfig.{error}") from None
        for name in ("mesh_shape", "dcn_mesh_shape"):
            shape = getattr(self, name)
            if shape is not None and (len(shape) != 2 or min(shape) < 1):
                raise ValueError(
                    f"TrainConfig.{name} must be two sizes >= 1 (data, model), got {shape}"
                )


@dataclasses.dataclass
class TrainResult:
    """What :func:`instructrec_jax.training.train` returns.

    ``params``: final parameters (global ``jax.Array`` tree, sharded on the mesh);
    ``history``: every logged record (as in ``metrics.jsonl``); ``final_metrics``: the
    last train record; ``latest_checkpoint``: path of the last saved checkpoint or None.
    """

    step: int
    params: Any
    history: list[dict[str, Any]]
    final_metrics: dict[str, float]
    latest_checkpoint: str | None
    resumed_from_step: int | None
