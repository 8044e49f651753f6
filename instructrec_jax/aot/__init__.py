"""Ahead-of-time compilation for TPU slices and GPU machines that are not attached.

:mod:`~instructrec_jax.aot.topologies` makes the target's devices,
:mod:`~instructrec_jax.aot.programs` the train and scoring steps over them,
:mod:`~instructrec_jax.aot.report` compiles and measures, :mod:`~instructrec_jax.aot.max_batch`
searches the largest batch; :mod:`instructrec_jax.compile_check` is the command line.
This package's ``__init__`` imports nothing heavy (no JAX), so the command line can set
JAX's backends up before JAX starts.
"""

from __future__ import annotations

# What the compile check compiles: the train step, or the evaluation scoring step.
MODES = ("train", "score")
