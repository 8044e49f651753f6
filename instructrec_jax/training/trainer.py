"""``train(config) -> TrainResult``: a fine-tuning run, callable without gin.

Order of work: checks that need no compilation (task module, task name, mesh against the
devices and the batch, TRAIN_STEPS against the initial checkpoint, model dir), then the mesh
and the sharded state (resumed from the newest ``checkpoint_<step>`` in MODEL_DIR, else from
``initial_checkpoint_path``, else freshly initialized), then :class:`loop.TrainLoop`. A
SIGTERM (preemption) makes the loop save the current step and raise :class:`PreemptedError`.
"""

from __future__ import annotations

import logging

import jax

from instructrec_jax.training import input_pipeline
from instructrec_jax.training.checkpointing import Checkpointer, checkpoint_dir
from instructrec_jax.training.config import EvalFn, TrainConfig, TrainResult
from instructrec_jax.training.layout_resume import restore_converted, saved_with_stacked_layers
from instructrec_jax.training.loop import TrainLoop
from instructrec_jax.training.metrics_writer import MetricsWriter
from instructrec_jax.training.monitor import NonFiniteError
from instructrec_jax.training.preemption import PreemptedError, PreemptionWatch
from instructrec_jax.training.preflight import (
    check_before_compile,
    initial_checkpoint_step,
    prepare_model_dir,
    write_train_config,
)
from instructrec_jax.training.program import build_train_program, train_mesh
from instructrec_jax.training.state import (
    StateLayout,
    TrainState,
    init_state,
    state_from_params,
)

logger = logging.getLogger(__name__)

__all__ = ["NonFiniteError", "PreemptedError", "train"]


def _initial_state(
    config: TrainConfig, layout: StateLayout, checkpointer: Checkpointer
) -> tuple[TrainState, int | None, int]:
    """(state, step resumed from or None, base step: the global step this training began at).

    The optimizer state starts fresh at the base step, so a resumed state's base step is
    its step minus its optimizer's update count: resuming never reads the initial checkpoint.
    """
    latest = checkpointer.latest_step()
    if latest is not None:
        step_dir = checkpoint_dir(config.model_dir, latest)
        if saved_with_stacked_layers(step_dir) == config.model_config.scan_layers:
            target = layout.abstract_state.to_checkpoint()
            state = TrainState.from_checkpoint(checkpointer.restore(latest, target))
            logger.info("resuming from %s", step_dir)
        else:
            state = restore_converted(step_dir, layout, config.model_config)
            logger.info(
                "resuming from %s, converted to scan_layers=%s",
                step_dir,
                config.model_config.scan_layers,
            )
        return state, latest, int(jax.device_get(state.step - state.opt_state.count))
    if config.initial_checkpoint_path:
        from instructrec_jax.checkpoints import load_params

        base_step = initial_checkpoint_step(config.initial_checkpoint_path)
        params = load_params(config.initial_checkpoint_path, config.model_config)
        return state_from_params(layout, params, step=base_step), None, base_step
    return init_state(layout, config.model_config, config.seed), None, 0


def train(config: TrainConfig, eval_fn: EvalFn | None = None) -> TrainResult:
    """Train until ``config.train_steps`` and return the final params and metrics.

    Raises :class:`preflight.SetupError` before compiling anything when the task, module,
    step count or model directory is unusable, :class:`NonFiniteError` when the loss
    diverges, and :class:`PreemptedError` after saving the current step on SIGTERM.
    """
    check_before_compile(config)
    is_chief = jax.process_index() == 0
    if is_chief:
        prepare_model_dir(config.model_dir)
        write_train_config(config)

    program = build_train_program(config, train_mesh(config))
    layout, batch_sharding, schedule = program.layout, program.batch_sharding, program.schedule
    checkpointer = Checkpointer(
        config.model_dir, config.keep_checkpoints, config.async_checkpointing
    )
    loop = TrainLoop(
        config=config,
        train_step=program.step_fn(),
        eval_step=program.eval_step_fn(),
        shard=input_pipeline.host_shard(batch_sharding, config.batch_size),
        batch_sharding=batch_sharding,
        schedule=schedule,
        checkpointer=checkpointer,
        writer=MetricsWriter(config.model_dir, enabled=is_chief),
        eval_fn=eval_fn,
    )
    try:
        with PreemptionWatch() as loop.preemption:
            state, resumed_from, base_step = _initial_state(config, layout, checkpointer)
            if resumed_from is not None:
                loop.last_checkpoint = checkpoint_dir(config.model_dir, resumed_from)
            start_step = int(jax.device_get(state.step))
            # Steps logged after the checkpoint we start from (a run killed between two
            # checkpoints) are logged again below: drop the old records first.
            loop.writer.drop_after(start_step)
            if start_step < config.train_steps:
                state = loop.run(state, start_step, base_step)
    finally:
        checkpointer.close()
        loop.writer.close()
    train_records = [record for record in loop.history if record["split"] == "train"]
    return TrainResult(
        step=int(jax.device_get(state.step)),
        params=state.params,
        history=loop.history,
        final_metrics=train_records[-1] if train_records else {},
        latest_checkpoint=loop.last_checkpoint,
        resumed_from_step=resumed_from,
    )
