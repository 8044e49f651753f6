"""SeqIO tasks and mixtures of MovieLens-100K (``MIXTURE_OR_TASK_MODULE`` for gin).

Importing this module registers, from the generated instructions of ``ml-100k``:
``instructrec_ml100k_<family>_<type>`` tasks and the mixtures ``instructrec_ml100k_all``,
``_seqrec``/``_search``/``_psearch``, ``_all_but_<type>`` for every instruction type,
``_all_but_seqrec``/``_search``/``_psearch`` (leave one family out) and ``_ladder_<n>``
(see ``instructrec_jax.tasks.registry``).

Where it looks (``instructrec_jax.tasks.environment``):
- instructions: ``$INSTRUCTREC_INSTRUCTIONS_DIR``, else
  ``$INSTRUCTREC_DATA_DIR/instructions/ml-100k`` (data dir default ``~/.cache/instructrec``);
- vocabulary: ``$INSTRUCTREC_VOCAB`` (e.g. Flan-T5's cc_all.32000.100extra model, local or
  gs://), else ``<instructions dir>/vocab/spm.model``
  (``python -m instructrec_jax.tasks train_vocab --dataset=ml-100k`` writes it);
- mixture rate: gin ``instructrec_mixture_rate.kind``, else ``$INSTRUCTREC_MIXTURE_RATE``,
  else ``examples``.

A missing directory or vocabulary raises at import with the path and the command that
makes it. Importing twice (or ``importlib.reload``) re-registers cleanly.
"""

from __future__ import annotations

from instructrec_jax_tasks.mixture_rate import mixture_rate

from instructrec_jax.tasks.environment import register_from_environment

DATASET = "ml-100k"

REGISTERED_NAMES: list[str] = register_from_environment(DATASET, rate=mixture_rate)
