"""Throughput, MFU and metric averaging for the training log.

``tokens_per_second`` counts every position the step computes (global batch x
(inputs + targets) lengths, padding included); ``target_tokens`` in the metrics counts
real target tokens. ``mfu`` = model FLOP/s (:mod:`flops`) / (peak FLOP/s per device x
devices); the peak is configured, a vendor figure, or a measured f32 matmul on CPU.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import jax
import numpy as np

from instructrec_jax.training.config import TrainConfig
from instructrec_jax.training.flops import peak_flops_per_device, train_step_flops


class NonFiniteError(FloatingPointError):
    """The loss or gradient norm became NaN or Inf; the message names the step."""


def check_finite(step: int, metrics: Mapping[str, jax.Array]) -> None:
    """Raise :class:`NonFiniteError` naming ``step`` when its ``finite`` flag is 0."""
    if float(jax.device_get(metrics["finite"])) < 1.0:
        raise NonFiniteError(
            f"loss or gradient norm became NaN/Inf at step {step} "
            f"(loss={float(metrics['loss'])}, grad_norm={float(metrics['grad_norm'])})"
        )


def average_metrics(window: Sequence[Mapping[str, np.ndarray]]) -> dict[str, float]:
    """Mean of each metric over the steps of a logging window (``target_tokens`` summed)."""
    if not window:
        raise ValueError("no steps in the logging window")
    names = window[0].keys()
    record = {name: float(np.mean([float(step[name]) for step in window])) for name in names}
    if "target_tokens" in record:
        record["target_tokens"] = float(sum(float(step["target_tokens"]) for step in window))
    return record


class ThroughputMeter:
    """Wall-clock throughput between logging steps (excluding the compiling first step)."""

    def __init__(self, config: TrainConfig) -> None:
        lengths = config.task_feature_lengths
        self._tokens_per_step = config.batch_size * (lengths["inputs"] + lengths["targets"])
        self._flops_per_step = train_step_flops(
            config.model, config.batch_size, lengths["inputs"], lengths["targets"]
        )
        peak, self.peak_source = peak_flops_per_device(config.peak_flops_per_device)
        self._peak_total = peak * jax.device_count()
        self._start_time = time.perf_counter()
        self._start_step = 0

    def restart(self, step: int) -> None:
        """Start timing after ``step`` has completed."""
        self._start_time = time.perf_counter()
        self._start_step = step

    def measure(self, step: int) -> dict[str, float]:
        """tokens/s, steps/s and MFU since the last call (``step`` must have completed)."""
        now = time.perf_counter()
        steps = step - self._start_step
        elapsed = now - self._start_time
        self._start_time, self._start_step = now, step
        if steps <= 0 or elapsed <= 0:
            return {}
        return {
            "steps_per_second": steps / elapsed,
            "tokens_per_second": steps * self._tokens_per_step / elapsed,
            "mfu": steps * self._flops_per_step / elapsed / self._peak_total,
        }
