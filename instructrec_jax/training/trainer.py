"""``train(config) -> TrainResult``: the fine-tuning loop, callable without gin.

Order of work: checks that need no compilation (task module, task name, model dir), then
the mesh and the sharded state (resumed from the newest ``checkpoint_<step>`` in
MODEL_DIR, else from ``initial_checkpoint_path``, else freshly initialized), then the loop:

    for each step: next global batch -> jitted train step
        every log_period:        metrics.jsonl + TensorBoard + progress bar
        every checkpoint_period: asynchronous Orbax save
        every eval_period:       validation loss, then ``eval_fn(params, step)``

Loss/gradient NaN or Inf stops the run with :class:`NonFiniteError` naming the step (the
flag of step s is read while step s+1 runs, so checking costs no pipeline stall), and no
checkpoint is written from a non-finite state.
"""

from __future__ import annotations

import logging
from typing import Any

import jax
import numpy as np

from instructrec_jax.models.t5 import Transformer
from instructrec_jax.partitioning import make_mesh, standard_logical_axis_rules
from instructrec_jax.training import input_pipeline
from instructrec_jax.training.checkpointing import Checkpointer, checkpoint_dir
from instructrec_jax.training.config import EvalFn, TrainConfig, TrainResult
from instructrec_jax.training.metrics_writer import MetricsWriter
from instructrec_jax.training.monitor import (
    NonFiniteError,
    ThroughputMeter,
    average_metrics,
    check_finite,
)
from instructrec_jax.training.optimizer import learning_rate_schedule
from instructrec_jax.training.preflight import (
    check_before_compile,
    initial_checkpoint_step,
    prepare_model_dir,
    write_train_config,
)
from instructrec_jax.training.state import (
    StateLayout,
    TrainState,
    build_layout,
    init_state,
    state_from_params,
)
from instructrec_jax.training.step import jit_train_step, make_eval_step, make_train_step
from instructrec_jax.training.validation import validation_metrics

logger = logging.getLogger(__name__)

__all__ = ["NonFiniteError", "train"]


def _initial_state(
    config: TrainConfig, layout: StateLayout, checkpointer: Checkpointer, base_step: int
) -> tuple[TrainState, int | None]:
    """(state, step resumed from or None)."""
    latest = checkpointer.latest_step()
    if latest is not None:
        target = layout.abstract_state.to_checkpoint()
        restored = checkpointer.restore(latest, target)
        logger.info("resuming from %s", checkpoint_dir(config.model_dir, latest))
        return TrainState.from_checkpoint(restored), latest
    if config.initial_checkpoint_path:
        from instructrec_jax.checkpoints import load_params

        params = load_params(config.initial_checkpoint_path, config.model_config)
        return state_from_params(layout, params, step=base_step), None
    return init_state(layout, config.model_config, config.seed), None


def _should(period: int, step: int, last_step: int) -> bool:
    return period > 0 and (step % period == 0 or step == last_step)


def train(config: TrainConfig, eval_fn: EvalFn | None = None) -> TrainResult:
    """Train until ``config.train_steps`` and return the final params and metrics.

    Raises :class:`preflight.SetupError` before compiling anything when the task, module or
    model directory is unusable, and :class:`NonFiniteError` when the loss diverges.
    """
    check_before_compile(config)
    is_chief = jax.process_index() == 0
    if is_chief:
        prepare_model_dir(config.model_dir)
        write_train_config(config)

    mesh = make_mesh(config.num_partitions, config.mesh_shape)
    rules = standard_logical_axis_rules(config.fsdp)
    schedule = learning_rate_schedule(
        config.learning_rate, config.learning_rate_schedule, config.warmup_steps
    )
    model_config = config.model_config
    layout = build_layout(model_config, mesh, rules, schedule, config.optimizer)
    batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    shard = input_pipeline.host_shard(batch_sharding, config.batch_size)

    checkpointer = Checkpointer(
        config.model_dir, config.keep_checkpoints, config.async_checkpointing
    )
    base_step = initial_checkpoint_step(config.initial_checkpoint_path)
    state, resumed_from = _initial_state(config, layout, checkpointer, base_step)
    start_step = int(jax.device_get(state.step))
    writer = MetricsWriter(config.model_dir, enabled=is_chief)
    model = Transformer(model_config)
    train_step = jit_train_step(
        make_train_step(
            model,
            layout,
            z_loss=config.z_loss,
            num_microbatches=config.num_microbatches,
            dropout=model_config.dropout_rate > 0,
            seed=config.seed,
        ),
        layout,
        mesh,
        rules,
        batch_sharding,
    )
    eval_step = make_eval_step(model, layout, mesh, rules, batch_sharding, config.z_loss)
    history: list[dict[str, Any]] = []
    last_checkpoint = (
        checkpoint_dir(config.model_dir, resumed_from) if resumed_from is not None else None
    )
    try:
        if start_step < config.train_steps:
            state, last_checkpoint = _loop(
                config,
                state,
                start_step,
                base_step,
                train_step,
                eval_step,
                shard,
                batch_sharding,
                schedule,
                checkpointer,
                writer,
                history,
                eval_fn,
                last_checkpoint,
            )
    finally:
        checkpointer.close()
        writer.close()
    train_records = [record for record in history if record["split"] == "train"]
    return TrainResult(
        step=int(jax.device_get(state.step)),
        params=state.params,
        history=history,
        final_metrics=train_records[-1] if train_records else {},
        latest_checkpoint=last_checkpoint,
        resumed_from_step=resumed_from,
    )


def _loop(
    config: TrainConfig,
    state: TrainState,
    start_step: int,
    base_step: int,
    train_step: Any,
    eval_step: Any,
    shard: input_pipeline.HostShard,
    batch_sharding: jax.sharding.NamedSharding,
    schedule: Any,
    checkpointer: Checkpointer,
    writer: MetricsWriter,
    history: list[dict[str, Any]],
    eval_fn: EvalFn | None,
    last_checkpoint: str | None,
) -> tuple[TrainState, str | None]:
    """Steps ``start_step + 1 .. train_steps``; returns the final state and checkpoint.

    The input pipeline starts at batch ``start_step - base_step``: a run started from a
    step-N checkpoint (T5X semantics: the step carries over) reads its data from the start.
    """
    batches = input_pipeline.train_batches(
        config.mixture_or_task_name,
        config.task_feature_lengths,
        shard,
        seed=config.seed,
        start_step=start_step - base_step,
        shuffle=config.shuffle,
        pack=config.pack,
        use_cached=config.use_cached_tasks,
    )
    validation = _validation_batches(config, shard)
    meter = ThroughputMeter(config)
    progress = _progress_bar(config, start_step)
    window: list[dict[str, jax.Array]] = []
    previous: tuple[int, dict[str, jax.Array]] | None = None
    last = config.train_steps
    for step in range(start_step + 1, last + 1):
        host_batch = next(batches)
        state, metrics = train_step(
            state, input_pipeline.to_global(host_batch, batch_sharding, config.batch_size)
        )
        if previous is not None:
            check_finite(*previous)
        else:
            jax.block_until_ready(metrics)  # first step: exclude compilation from timing
            meter.restart(step)
        previous = (step, metrics)
        window.append(metrics)
        if progress is not None:
            progress.update(1)
        if _should(config.log_period, step, last) or _should(config.checkpoint_period, step, last):
            check_finite(step, metrics)
        if _should(config.log_period, step, last):
            record = average_metrics(jax.device_get(window))
            record.update(meter.measure(step))
            record["learning_rate"] = float(schedule(np.int32(step - 1)))
            record.pop("finite", None)
            writer.write(step, "train", record)
            history.append({"step": step, "split": "train", **record})
            if progress is not None:
                progress.set_postfix(loss=f"{record['loss']:.4f}")
            window = []
        if _should(config.checkpoint_period, step, last):
            checkpointer.save(step, state.to_checkpoint())
            last_checkpoint = checkpoint_dir(config.model_dir, step)
        if _should(config.eval_period, step, last):
            _evaluate(
                config, state, step, eval_step, validation, batch_sharding, writer, history, eval_fn
            )
    if previous is not None:
        check_finite(*previous)
    if progress is not None:
        progress.close()
    return state, last_checkpoint


def _validation_batches(
    config: TrainConfig, shard: input_pipeline.HostShard
) -> list[dict[str, np.ndarray]]:
    split = config.validation_split
    if not (config.eval_period and split and config.validation_steps):
        return []
    if not input_pipeline.has_split(config.mixture_or_task_name, split):
        logger.info("%s has no %r split: no validation loss", config.mixture_or_task_name, split)
        return []
    return input_pipeline.eval_batches(
        config.mixture_or_task_name,
        config.task_feature_lengths,
        shard,
        split=split,
        num_batches=config.validation_steps,
        use_cached=config.use_cached_tasks,
    )


def _evaluate(
    config: TrainConfig,
    state: TrainState,
    step: int,
    eval_step: Any,
    validation: list[dict[str, np.ndarray]],
    batch_sharding: jax.sharding.NamedSharding,
    writer: MetricsWriter,
    history: list[dict[str, Any]],
    eval_fn: EvalFn | None,
) -> None:
    if validation:
        record = validation_metrics(
            state.params, validation, eval_step, batch_sharding, config.batch_size
        )
        writer.write(step, "validation", record)
        history.append({"step": step, "split": "validation", **record})
    if eval_fn is not None:
        record = {name: float(value) for name, value in eval_fn(state.params, step).items()}
        writer.write(step, "eval", record)
        history.append({"step": step, "split": "eval", **record})


def _progress_bar(config: TrainConfig, start_step: int) -> Any:
    if not (config.progress_bar and jax.process_index() == 0):
        return None
    from tqdm import tqdm

    return tqdm(total=config.train_steps, initial=start_step, desc="train", unit="step")
