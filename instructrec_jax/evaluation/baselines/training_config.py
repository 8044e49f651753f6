"""The training schedule every trained baseline shares, and its JSON form.

Each baseline's config (``SASRecConfig``, ``BERT4RecConfig``, ...) is a frozen dataclass
that inherits these fields, overrides their defaults where its paper or RecBole differ, and
adds its model's own fields. The checks here run for every subclass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from instructrec_jax.evaluation.metrics import DEFAULT_CUTOFFS

ConfigT = TypeVar("ConfigT", bound="TrainingConfig")


def monitor_metrics() -> frozenset[str]:
    """Validation metrics early stopping can monitor (``ranking_metrics`` keys)."""
    names = {"MRR"} | {f"HR@{k}" for k in DEFAULT_CUTOFFS}
    return frozenset(names | {f"NDCG@{k}" for k in DEFAULT_CUTOFFS if k > 1})


def check_positive(owner: str, values: Mapping[str, float]) -> None:
    """Raise ``ValueError`` naming ``owner.field`` for the first value below 1."""
    for field_name, value in values.items():
        if value < 1:
            raise ValueError(f"{owner}.{field_name} must be >= 1, got {value}")


def check_fraction(owner: str, field_name: str, value: float) -> None:
    """Raise ``ValueError`` unless ``0 <= value < 1`` (dropout and mask rates)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}.{field_name} must be in [0, 1), got {value}")


def check_heads(owner: str, hidden_size: int, num_heads: int) -> None:
    """Raise ``ValueError`` unless ``num_heads`` divides ``hidden_size`` (attention heads)."""
    if hidden_size % num_heads:
        raise ValueError(f"{owner}.num_heads ({num_heads}) must divide hidden_size ({hidden_size})")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Optimizer, schedule and early stopping of a trained baseline.

    Attributes:
      learning_rate: Adam learning rate.
      adam_b2: Adam second-moment decay (first moment decay is 0.9).
      batch_size: training rows per step.
      max_epochs: upper bound on passes over the training rows.
      patience: stop after this many validation checks without improvement; the
        parameters of the best check are kept.
      eval_every: epochs between validation checks.
      monitor_metric: key of ``ranking_metrics`` on the validation split used for early
        stopping, e.g. ``"NDCG@5"`` or ``"HR@1"``.
      eval_batch_size: examples per forward pass when scoring.
    """

    learning_rate: float = 1e-3
    adam_b2: float = 0.999
    batch_size: int = 128
    max_epochs: int = 50
    patience: int = 3
    eval_every: int = 1
    monitor_metric: str = "NDCG@5"
    eval_batch_size: int = 512

    # The fields each class adds that must be >= 1 (sizes, counts) or in [0, 1) (dropout
    # rates); ``__post_init__`` checks every class's, base classes first.
    positive_fields: ClassVar[tuple[str, ...]] = (
        "batch_size",
        "max_epochs",
        "patience",
        "eval_every",
        "eval_batch_size",
    )
    fraction_fields: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for klass in reversed(type(self).__mro__):
            declared = vars(klass)
            positive = declared.get("positive_fields", ())
            check_positive(owner, {name: getattr(self, name) for name in positive})
            for name in declared.get("fraction_fields", ()):
                check_fraction(owner, name, getattr(self, name))
        if self.learning_rate <= 0:
            raise ValueError(f"{owner}.learning_rate must be > 0, got {self.learning_rate}")
        if self.monitor_metric not in monitor_metrics():
            raise ValueError(
                f"{owner}.monitor_metric must be one of {sorted(monitor_metrics())}, "
                f"got {self.monitor_metric!r}"
            )

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json_dict(cls: type[ConfigT], values: Mapping[str, Any]) -> ConfigT:
        """Inverse of ``to_json_dict``; unknown keys are an error naming them. JSON lists
        become tuples where the field's default is a tuple."""
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {unknown}")
        restored = {
            name: tuple(value) if isinstance(fields[name].default, tuple) else value
            for name, value in values.items()
        }
        return cls(**restored)


@dataclasses.dataclass(frozen=True)
class WindowConfig(TrainingConfig):
    """A sequential baseline's history window (GRU4Rec, SASRec, TEM).

    Attributes:
      max_length: input window in items; ``None`` uses the dataset's ``max_history`` (the
        length of ``EvalExample.history``, 20 by default), so training and evaluation see
        the same context.
    """

    max_length: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_length is not None:
            check_positive(type(self).__name__, {"max_length": self.max_length})
