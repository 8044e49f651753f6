"""Sharded fine-tuning: ``train(TrainConfig) -> TrainResult`` (gin wraps it in ``train.py``)."""

from instructrec_jax.training.config import EvalFn, TrainConfig, TrainResult
from instructrec_jax.training.monitor import NonFiniteError
from instructrec_jax.training.optimizer import AdafactorConfig
from instructrec_jax.training.preemption import PREEMPTED_EXIT_CODE, PreemptedError
from instructrec_jax.training.trainer import train

__all__ = [
    "PREEMPTED_EXIT_CODE",
    "AdafactorConfig",
    "EvalFn",
    "NonFiniteError",
    "PreemptedError",
    "TrainConfig",
    "TrainResult",
    "train",
]
