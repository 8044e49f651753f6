"""What an ablation runs: shared data/evaluation settings and the arms that differ.

An arm is a name, a training mixture and optional overrides of the shared training
settings (:data:`ARM_OVERRIDABLE`), e.g. in gin::

    ablation.arms = {
        'all': {'mixture': 'instructrec_{dataset}_all'},
        'no_p1_i1_t3': {'mixture': 'instructrec_{dataset}_all_but_p1_i1_t3'},
        'all_lr3e-3': {'mixture': 'instructrec_{dataset}_all', 'learning_rate': 3e-3},
    }

What the arm ablates is read from its mixture's name (:mod:`instructrec_jax.tasks.naming`):
``..._all_but_<type>`` holds ``<type>`` out, ``..._ladder_<n>`` is a point of the
instruction-diversity curve, ``..._<family>`` trains on one family.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from instructrec_jax.recipe import TRAINING_SETTINGS, RecipeConfig, TrainingSettings
from instructrec_jax.tasks import naming

# The shared training settings an arm may override.
ARM_OVERRIDABLE: tuple[str, ...] = TRAINING_SETTINGS


@dataclasses.dataclass(frozen=True)
class AblationConfig(RecipeConfig):
    """Shared settings of every arm (:class:`~instructrec_jax.recipe.RecipeConfig`'s, as in
    the demo, and these), and the arms.

    Attributes:
      work_dir: everything the job writes: ``workspace/`` (data, instructions, vocabulary),
        ``arms/<arm>/seed_<k>/`` (one MODEL_DIR each, evaluation under ``eval/``), and
        ``report/`` (``ablation.md``, ``ablation.json``, the PNG charts).
      data_seed: seeds data splits, instructions, vocabulary and evaluation negatives; the
        candidate sets are the same for every arm.
      arms: arm name -> ``{'mixture': ..., <override>: value}`` (``{dataset}`` in the
        mixture becomes the dataset's short name).
      reference: the arm every other arm is tested against (paired, same users).
      seeds: training seeds; each (arm, seed) trains once; per-user metrics are averaged
        over seeds before the bootstrap over users.
      baselines: baselines evaluated beside the reference arm (its first seed) and shown
        as extra rows of the table.
      report_metrics: table columns; the first is the charts' and paired tests' lead metric.
      bootstrap_resamples: resamples behind every interval and paired test.
      report_split: ``test`` (default) or ``valid``: rows on validation users other than the
        template-selection ones (``EvaluationConfig.report_split``), to choose a recipe
        without reading test.
    """

    work_dir: str = "ablation_output"
    data_seed: int = 0
    arms: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=lambda: {"all": {"mixture": "instructrec_{dataset}_all"}}
    )
    reference: str = "all"
    seeds: tuple[int, ...] = (0,)
    baselines: tuple[str, ...] = ("random", "popularity")
    report_metrics: tuple[str, ...] = ("HR@1", "NDCG@5", "MRR")
    bootstrap_resamples: int = 1000
    report_split: str = "test"

    def __post_init__(self) -> None:
        if not self.arms:
            raise ValueError("ablation.arms is empty: name at least the reference arm")
        if self.reference not in self.arms:
            raise ValueError(
                f"ablation.reference {self.reference!r} is not an arm; arms: {sorted(self.arms)}"
            )
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"ablation.seeds must be distinct and non-empty, got {self.seeds}")
        if not self.report_metrics:
            raise ValueError("ablation.report_metrics is empty")
        for name in self.arms:
            self.arm(name)  # every arm's fields are checked up front

    def arm(self, name: str) -> Arm:
        """The arm called ``name`` with its mixture resolved and overrides checked."""
        spec = dict(self.arms[name])
        if "mixture" not in spec:
            raise ValueError(f"ablation arm {name!r} names no 'mixture'")
        mixture = str(spec.pop("mixture")).format(dataset=naming.dataset_short_name(self.dataset))
        unknown = sorted(set(spec) - set(ARM_OVERRIDABLE))
        if unknown:
            raise ValueError(
                f"ablation arm {name!r}: unknown fields {unknown}; an arm sets 'mixture' and "
                f"any of {', '.join(ARM_OVERRIDABLE)}"
            )
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"ablation arm name {name!r} must be a plain folder name")
        settings = {field: getattr(self, field) for field in ARM_OVERRIDABLE}
        settings.update(spec)
        return Arm(name, mixture, settings, naming.dataset_prefix(self.dataset))


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm: a training mixture and its full training settings.

    Attributes:
      name: folder and table name.
      mixture: registered SeqIO mixture or task name.
      settings: every field of :data:`ARM_OVERRIDABLE` (shared values and overrides).
      prefix: the dataset's task-name prefix (``instructrec_ml100k_``).
    """

    name: str
    mixture: str
    settings: Mapping[str, Any]
    prefix: str

    def _suffix(self) -> str | None:
        return self.mixture[len(self.prefix) :] if self.mixture.startswith(self.prefix) else None

    @property
    def training(self) -> TrainingSettings:
        """The arm's training settings."""
        return TrainingSettings(**self.settings)

    @property
    def held_out_type(self) -> str | None:
        """``<type>`` of an ``all_but_<type>`` mixture (None for a family or other arm)."""
        suffix = self._suffix() or ""
        held = suffix.removeprefix("all_but_") if suffix.startswith("all_but_") else None
        return None if held in naming.FAMILY_SHORT_NAMES.values() else held

    @property
    def ladder_size(self) -> int | None:
        """``n`` of a ``ladder_<n>`` mixture."""
        suffix = self._suffix() or ""
        size = suffix.removeprefix("ladder_")
        return int(size) if suffix.startswith("ladder_") and size.isdigit() else None

    @property
    def trained_family(self) -> str | None:
        """The family of a single-family mixture (``seqrec`` -> ``recommendation``)."""
        suffix = self._suffix()
        by_short = {short: family for family, short in naming.FAMILY_SHORT_NAMES.items()}
        return by_short.get(suffix or "")
