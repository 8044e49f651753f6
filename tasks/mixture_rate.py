"""The gin-configurable mixture rate shared by the task definition modules.

Mixtures read their rates when a dataset is built (after gin has parsed its files), so a
gin file can choose between example-proportional and uniform mixing::

    instructrec_mixture_rate.kind = 'uniform'   # default: 'examples'

Without a binding, ``$INSTRUCTREC_MIXTURE_RATE`` decides, else ``examples``.
"""

from __future__ import annotations

import gin
from instructrec_jax.tasks.environment import resolve_rate


@gin.configurable("instructrec_mixture_rate")
def mixture_rate(kind: str | None = None) -> str:
    """``examples`` (rate = training record count) or ``uniform`` (rate 1 per task)."""
    return resolve_rate(kind)
