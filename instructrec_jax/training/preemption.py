"""Preemption: on SIGTERM the train loop saves a checkpoint at the current step and stops.

Cloud schedulers (TPU VMs, spot/preemptible GPU nodes, SLURM's ``--signal``) send SIGTERM
some seconds before they kill a job. Without this the run would lose everything since its
last periodic checkpoint; with it the loop finishes the step it is in, saves
``checkpoint_<step>``, waits until it is on disk and raises :class:`PreemptedError`; the
next run resumes from that step exactly (the input position is a function of the step).

* One process: a Python SIGTERM handler sets a flag that the loop reads after each step.
* Several processes (``jax.distributed``): JAX's preemption sync manager receives the
  notice on any host and agrees on one step for all of them
  (``multihost_utils.reached_preemption_sync_point``), so every host saves the same step;
  no Python handler is installed there.
"""

from __future__ import annotations

import signal
import threading
import types
from typing import Any

import jax
from jax.experimental import multihost_utils

# The exit status of a process ended by SIGTERM, which schedulers read as "preempted".
PREEMPTED_EXIT_CODE = 128 + signal.SIGTERM


class PreemptedError(RuntimeError):
    """The run was asked to stop; ``checkpoint_<step>`` holds its state."""

    def __init__(self, step: int, checkpoint: str) -> None:
        super().__init__(f"preempted at step {step}; saved {checkpoint}; rerun to resume")
        self.step = step
        self.checkpoint = checkpoint


class PreemptionWatch:
    """Whether the job has been asked to stop, checked once per step by the train loop.

    Use as a context manager: the single-process SIGTERM handler is installed on entry and
    the previous handler restored on exit. Off the main thread (where Python cannot install
    signal handlers) the single-process watch stays inactive.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> PreemptionWatch:
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)
            self._installed = False

    def _on_sigterm(self, signum: int, frame: types.FrameType | None) -> None:
        del signum, frame
        self.requested = True

    def reached(self, step: int) -> bool:
        """True when the run should save ``step`` and stop (call after every step)."""
        if jax.process_count() == 1:
            return self.requested
        try:
            return bool(multihost_utils.reached_preemption_sync_point(step))
        except RuntimeError:  # JAX's preemption service is turned off
            return False
