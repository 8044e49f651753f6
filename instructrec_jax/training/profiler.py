"""A profiler window over the train loop: a device and host trace of a few chosen steps.

``TrainConfig.profile_first_step = S`` and ``profile_steps = N`` trace steps S .. S+N-1
with ``jax.profiler`` into ``MODEL_DIR/train/plugins/profile/<run>/`` (an ``.xplane.pb``
for TensorBoard's profile plugin or XProf, and a Perfetto trace). Start at step 2 or later
to leave the first step's compilation out. Only process 0 traces (its own host's devices),
as MaxText does by default; a window that the run's last step cuts short is still written.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax


@dataclasses.dataclass
class StepProfiler:
    """Start before step ``first_step``, stop after step ``first_step + num_steps - 1``.

    ``first_step=None`` turns it off. Call :meth:`before_step` and :meth:`after_step`
    around each step, and :meth:`stop` when the loop ends (it is a no-op when idle).
    """

    log_dir: str
    first_step: int | None
    num_steps: int
    active: bool = False
    traced_until: int | None = None  # the last step traced so far

    def __post_init__(self) -> None:
        if self.first_step is not None and self.first_step < 1:
            raise ValueError(f"profile first step must be >= 1, got {self.first_step}")
        if self.num_steps < 1:
            raise ValueError(f"profile steps must be >= 1, got {self.num_steps}")

    @property
    def last_step(self) -> int | None:
        """The last step inside the window (None when off)."""
        return None if self.first_step is None else self.first_step + self.num_steps - 1

    def before_step(self, step: int) -> None:
        """Start tracing when ``step`` opens the window."""
        if step == self.first_step and not self.active:
            if "://" not in self.log_dir:  # remote folders (gs://) are the profiler's to make
                os.makedirs(self.log_dir, exist_ok=True)
            jax.profiler.start_trace(self.log_dir, create_perfetto_trace=True)
            self.active = True

    def after_step(self, step: int, outputs: Any) -> None:
        """Stop once ``step`` is the window's last, after ``outputs`` are computed."""
        if not self.active:
            return
        self.traced_until = step
        if self.last_step is not None and step >= self.last_step:
            self.stop(outputs)

    def stop(self, outputs: Any = None) -> None:
        """End the trace (waiting for ``outputs``) and write it; no-op when not tracing."""
        if not self.active:
            return
        if outputs is not None:
            jax.block_until_ready(outputs)
        jax.profiler.stop_trace()
        self.active = False
        if self.traced_until is not None:  # else the first traced step did not complete
            print(f"profile of steps {self.first_step}-{self.traced_until} in {self.log_dir}")


def train_profiler(model_dir: str, first_step: int | None, num_steps: int) -> StepProfiler:
    """The loop's profiler: on process 0 only, writing under ``model_dir/train``."""
    enabled = first_step is not None and jax.process_index() == 0
    return StepProfiler(
        os.path.join(model_dir, "train"), first_step if enabled else None, num_steps
    )
