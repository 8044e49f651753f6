"""Token-normalized loss and accuracy of the model on a fixed list of validation batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from instructrec_jax.models.losses import LossSums, normalized_metrics
from instructrec_jax.training.input_pipeline import to_global


def validation_metrics(
    params: Any,
    host_batches: Sequence[dict[str, np.ndarray]],
    eval_step: Callable[[Any, dict[str, jax.Array]], LossSums],
    batch_sharding: jax.sharding.NamedSharding,
    global_batch_size: int,
) -> dict[str, float]:
    """loss, cross_entropy_loss, z_loss, accuracy, target_tokens over all batches."""
    total = LossSums.zeros()
    for host_batch in host_batches:
        total = total + eval_step(params, to_global(host_batch, batch_sharding, global_batch_size))
    return {name: float(value) for name, value in jax.device_get(normalized_metrics(total)).items()}
