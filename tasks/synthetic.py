"""SeqIO tasks and mixtures of the synthetic dataset (demo and smoke runs).

Same rules as ``instructrec_jax_tasks.ml100k`` with dataset ``synthetic``: instructions from
``$INSTRUCTREC_INSTRUCTIONS_DIR`` or ``$INSTRUCTREC_DATA_DIR/instructions/synthetic``,
vocabulary from ``$INSTRUCTREC_VOCAB`` or ``<instructions dir>/vocab/spm.model``; task
names ``instructrec_synthetic_*``.
"""

from __future__ import annotations

from instructrec_jax_tasks.mixture_rate import mixture_rate

from instructrec_jax.tasks.environment import register_from_environment

DATASET = "synthetic"

REGISTERED_NAMES: list[str] = register_from_environment(DATASET, rate=mixture_rate)
