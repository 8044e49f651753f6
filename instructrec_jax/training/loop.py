"""The step loop: batches in, train steps, logs, checkpoints, evaluation hooks.

    for each step: next global batch -> jitted train step
        every log_period:        metrics.jsonl + TensorBoard + progress bar
        every checkpoint_period: asynchronous Orbax save
        every eval_period:       validation loss, then ``eval_fn(params, step)``
        on SIGTERM:              save this step, then raise PreemptedError (preemption.py)

The writer, checkpointer, profiler, preemption watch and ``eval_fn`` are the loop's
:class:`LoopHooks`, given when it is built (as a Levanter trainer takes its hooks); the run's
outputs come back in a :class:`LoopResult`.

Loss/gradient NaN or Inf stops the run with :class:`NonFiniteError` naming the step (the
flag of step s is read while step s+1 runs, so checking costs no pipeline stall, except at
steps that log, save or evaluate), and no checkpoint, log record or evaluation sees a
non-finite state.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, NoReturn

import jax
import numpy as np
from jax.sharding import NamedSharding

from instructrec_jax.training import input_pipeline
from instructrec_jax.training.checkpointing import Checkpointer, checkpoint_dir
from instructrec_jax.training.config import EvalFn, TrainConfig
from instructrec_jax.training.metrics_writer import MetricsWriter
from instructrec_jax.training.monitor import ThroughputMeter, average_metrics, check_finite
from instructrec_jax.training.optimizer import Schedule
from instructrec_jax.training.preemption import PreemptedError, PreemptionWatch
from instructrec_jax.training.profiler import StepProfiler
from instructrec_jax.training.state import TrainState
from instructrec_jax.training.step import EvalStepFn, TrainStepFn
from instructrec_jax.training.validation import validation_metrics


def _due(period: int, step: int, last_step: int) -> bool:
    return period > 0 and (step % period == 0 or step == last_step)


@dataclasses.dataclass(frozen=True)
class LoopHooks:
    """What the loop calls besides the step functions; fixed when the loop is built.

    * ``writer``: the metrics (``metrics.jsonl`` + TensorBoard): train records every
      ``log_period``, validation and ``eval_fn`` records every ``eval_period``.
    * ``checkpointer``: saves every ``checkpoint_period``, and the step a preemption stops at.
    * ``profiler``: told before and after every step (it traces its own window).
    * ``preemption``: asked after every step whether to save and stop (None: never).
    * ``eval_fn``: ``eval_fn(params, step)`` every ``eval_period`` (None: validation only).
    """

    writer: MetricsWriter
    checkpointer: Checkpointer
    profiler: StepProfiler
    preemption: PreemptionWatch | None = None
    eval_fn: EvalFn | None = None


class LoopResult(NamedTuple):
    """The final state, every logged record (as in ``metrics.jsonl``) and the newest
    checkpoint (saved by this run, else the one it resumed from; None if neither)."""

    state: TrainState
    history: list[dict[str, Any]]
    last_checkpoint: str | None


@dataclasses.dataclass(frozen=True)
class TrainLoop:
    """Everything the loop needs besides the state; nothing is set on it after it is built."""

    config: TrainConfig
    train_step: TrainStepFn
    eval_step: EvalStepFn
    shard: input_pipeline.HostShard
    batch_sharding: NamedSharding
    schedule: Schedule
    hooks: LoopHooks

    def run(
        self, state: TrainState, start_step: int, base_step: int, resumed_from: str | None = None
    ) -> LoopResult:
        """Steps ``start_step + 1 .. train_steps``.

        The input pipeline starts at batch ``start_step - base_step``: a run started from a
        step-N checkpoint (T5X semantics: the step carries over) reads its data from the
        start. ``resumed_from`` is the checkpoint ``state`` was restored from, if any.
        """
        config, hooks = self.config, self.hooks
        history: list[dict[str, Any]] = []
        last_checkpoint = resumed_from
        train_data = input_pipeline.DatasetConfig(
            config.mixture_or_task_name,
            config.task_feature_lengths,
            shuffle=config.shuffle,
            seed=config.seed,
            pack=config.pack,
            use_cached=config.use_cached_tasks,
        )
        batches = input_pipeline.train_batches(train_data, self.shard, start_step - base_step)
        validation = self._validation_batches()
        meter = ThroughputMeter(config)
        progress = self._progress_bar(start_step)
        window: list[dict[str, jax.Array]] = []
        previous: tuple[int, dict[str, jax.Array]] | None = None
        last = config.train_steps
        try:
            for step in range(start_step + 1, last + 1):
                hooks.profiler.before_step(step)  # the trace includes the input pipeline
                global_batch = input_pipeline.to_global(
                    next(batches), self.batch_sharding, config.batch_size
                )
                state, metrics = self.train_step(state, global_batch)
                hooks.profiler.after_step(step, metrics)
                if previous is not None:
                    check_finite(*previous)
                else:
                    jax.block_until_ready(metrics)  # first step: exclude compilation from timing
                    meter.restart(step)
                previous = (step, metrics)
                window.append(metrics)
                if progress is not None:
                    progress.update(1)
                log_due = _due(config.log_period, step, last)
                checkpoint_due = _due(config.checkpoint_period, step, last)
                eval_due = _due(config.eval_period, step, last)
                if log_due or checkpoint_due or eval_due:
                    check_finite(step, metrics)  # nothing logs, saves or evaluates NaN
                if log_due:
                    record = self._log(history, step, window, meter)
                    if progress is not None:
                        progress.set_postfix(loss=f"{record['loss']:.4f}")
                    window = []
                if checkpoint_due:
                    hooks.checkpointer.save(step, state.to_checkpoint())
                    last_checkpoint = checkpoint_dir(config.model_dir, step)
                if eval_due:
                    self._evaluate(history, state, step, validation)
                if hooks.preemption is not None and hooks.preemption.reached(step):
                    self._save_and_stop(step, state, metrics, saved=checkpoint_due)
        finally:
            hooks.profiler.stop()
        if previous is not None:
            check_finite(*previous)
        if progress is not None:
            progress.close()
        return LoopResult(state, history, last_checkpoint)

    def _save_and_stop(
        self, step: int, state: TrainState, metrics: dict[str, jax.Array], saved: bool
    ) -> NoReturn:
        """Preempted: make sure ``checkpoint_<step>`` is on disk, then stop the run."""
        check_finite(step, metrics)  # never a checkpoint of a non-finite state
        if not saved:
            self.hooks.checkpointer.save(step, state.to_checkpoint())
        self.hooks.checkpointer.wait()
        raise PreemptedError(step, checkpoint_dir(self.config.model_dir, step))

    def _record(
        self, history: list[dict[str, Any]], step: int, split: str, record: dict[str, float]
    ) -> None:
        self.hooks.writer.write(step, split, record)
        history.append({"step": step, "split": split, **record})

    def _log(
        self,
        history: list[dict[str, Any]],
        step: int,
        window: list[dict[str, jax.Array]],
        meter: ThroughputMeter,
    ) -> dict[str, float]:
        record = average_metrics(jax.device_get(window))
        record.pop("finite", None)
        record.update(meter.measure(step))
        record["learning_rate"] = float(self.schedule(np.int32(step - 1)))
        self._record(history, step, "train", record)
        return record

    def _validation_batches(self) -> list[dict[str, np.ndarray]]:
        config = self.config
        split = config.validation_split
        if not (config.eval_period and split and config.validation_steps):
            return []
        if not input_pipeline.has_split(config.mixture_or_task_name, split):
            return []
        validation_data = input_pipeline.DatasetConfig(
            config.mixture_or_task_name,
            config.task_feature_lengths,
            split=split,
            use_cached=config.use_cached_tasks,
        )
        return input_pipeline.eval_batches(validation_data, self.shard, config.validation_steps)

    def _evaluate(
        self,
        history: list[dict[str, Any]],
        state: TrainState,
        step: int,
        validation: list[dict[str, np.ndarray]],
    ) -> None:
        if validation:
            record = validation_metrics(
                state.params,
                validation,
                self.eval_step,
                self.batch_sharding,
                self.config.batch_size,
            )
            self._record(history, step, "validation", record)
        if self.hooks.eval_fn is not None:
            results = self.hooks.eval_fn(state.params, step)
            values = {name: float(value) for name, value in results.items()}
            self._record(history, step, "eval", values)

    def _progress_bar(self, start_step: int) -> Any:
        if not (self.config.progress_bar and jax.process_index() == 0):
            return None
        from tqdm import tqdm

        return tqdm(total=self.config.train_steps, initial=start_step, desc="train", unit="step")
