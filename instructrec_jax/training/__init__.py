"""Sharded fine-tuning: ``train(TrainConfig) -> TrainResult`` (gin wraps it in ``train.py``)."""

from instructrec_jax.training.config import EvalFn, TrainConfig, TrainResult
from instructrec_jax.training.monitor import NonFiniteError
from instructrec_jax.training.optimizer import AdafactorConfig
from instructrec_jax.training.trainer import train

__all__ = ["AdafactorConfig", "EvalFn", "NonFiniteError", "TrainConfig", "TrainResult", "train"]
