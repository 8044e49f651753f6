"""``train(config) -> TrainResult``: a fine-tuning run, callable without gin.

Order of work: checks that need no compilation, run once (task module, task name, mesh
against the devices and the batch, TRAIN_STEPS against the initial checkpoint, model dir;
the checked mesh is the run's), then the sharded state (resumed from the newest
``checkpoint_<step>`` in MODEL_DIR, else from ``initial_checkpoint_path``, else freshly
initialized), then :class:`loop.TrainLoop` with its hooks. A
SIGTERM (preemption) makes the loop save the current step and raise :class:`PreemptedError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import jax

from instructrec_jax.training import input_pipeline
from instructrec_jax.training.checkpointing import Checkpointer, checkpoint_dir
from instructrec_jax.training.config import EvalFn, TrainConfig, TrainResult
from instructrec_jax.training.layout_resume import restore_converted, saved_with_stacked_layers
from instructrec_jax.training.loop import LoopHooks, LoopResult, TrainLoop
from instructrec_jax.training.metrics_writer import MetricsWriter
from instructrec_jax.training.monitor import NonFiniteError
from instructrec_jax.training.preemption import PreemptedError, PreemptionWatch
from instructrec_jax.training.preflight import (
    check_before_compile,
    initial_checkpoint_step,
    prepare_model_dir,
    write_model_dir_file,
    write_train_config,
)
from instructrec_jax.training.profiler import train_profiler
from instructrec_jax.training.program import build_train_program
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
        if saved_with_stacked_layers(step_dir) == config.model.scan_layers:
            target = layout.abstract_state.to_checkpoint()
            state = TrainState.from_checkpoint(checkpointer.restore(latest, target))
            logger.info("resuming from %s", step_dir)
        else:
            state = restore_converted(step_dir, layout, config.model)
            logger.info(
                "resuming from %s, converted to scan_layers=%s",
                step_dir,
                config.model.scan_layers,
            )
        return state, latest, int(jax.device_get(state.step - state.opt_state.count))
    if config.initial_checkpoint_path:
        from instructrec_jax.checkpoints import load_params

        base_step = initial_checkpoint_step(config.initial_checkpoint_path)
        # Each process reads only the slices of the parameters its devices hold.
        params = load_params(config.initial_checkpoint_path, config.model, layout.param_shardings)
        return state_from_params(layout, params, step=base_step), None, base_step
    return init_state(layout, config.model, config.seed), None, 0


def train(
    config: TrainConfig, eval_fn: EvalFn | None = None, run_files: Mapping[str, str] | None = None
) -> TrainResult:
    """Train until ``config.train_steps`` and return the final params and metrics.

    ``run_files`` ({name: text}) are written into MODEL_DIR beside ``train_config.json``
    once the checks have passed (``python -m instructrec_jax.train`` writes ``config.gin``).

    Raises :class:`preflight.SetupError` before compiling or writing anything when the
    task, module, mesh, step count or model directory is unusable (the checks run once,
    here), :class:`NonFiniteError` when the loss diverges, and :class:`PreemptedError`
    after saving the current step on SIGTERM.
    """
    mesh = check_before_compile(config)
    is_chief = jax.process_index() == 0
    if is_chief:
        prepare_model_dir(config.model_dir)
        write_train_config(config)
        for name, text in (run_files or {}).items():
            write_model_dir_file(config.model_dir, name, text)

    program = build_train_program(config, mesh)
    layout, batch_sharding = program.layout, program.batch_sharding
    checkpointer = Checkpointer(
        config.model_dir, config.keep_checkpoints, config.async_checkpointing
    )
    writer = MetricsWriter(config.model_dir, enabled=is_chief)
    try:
        with PreemptionWatch() as preemption:
            state, resumed_from, base_step = _initial_state(config, layout, checkpointer)
            loop = TrainLoop(
                config=config,
                train_step=program.step_fn(),
                eval_step=program.eval_step_fn(),
                shard=input_pipeline.host_shard(batch_sharding, config.batch_size),
                batch_sharding=batch_sharding,
                schedule=program.schedule,
                hooks=LoopHooks(
                    writer=writer,
                    checkpointer=checkpointer,
                    profiler=train_profiler(
                        config.model_dir, config.profile_first_step, config.profile_steps
                    ),
                    preemption=preemption,
                    eval_fn=eval_fn,
                ),
            )
            resumed_dir = None
            if resumed_from is not None:
                resumed_dir = checkpoint_dir(config.model_dir, resumed_from)
            start_step = int(jax.device_get(state.step))
            # Steps logged after the checkpoint we start from (a run killed between two
            # checkpoints) are logged again below: drop the old records first.
            writer.drop_after(start_step)
            result = LoopResult(state, [], resumed_dir)
            if start_step < config.train_steps:
                result = loop.run(state, start_step, base_step, resumed_dir)
    finally:
        checkpointer.close()
        writer.close()
    train_records = [record for record in result.history if record["split"] == "train"]
    return TrainResult(
        step=int(jax.device_get(result.state.step)),
        params=result.state.params,
        history=result.history,
        final_metrics=train_records[-1] if train_records else {},
        latest_checkpoint=result.last_checkpoint,
        resumed_from_step=resumed_from,
    )
