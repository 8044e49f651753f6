"""Counters of what rendering produced: records per type and template, words, truncation."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

from instructrec_jax.instructions.records import InstructionRecord


@dataclasses.dataclass
class RenderStats:
    """Running totals over rendered records (mergeable across shards).

    ``by_type`` keys are ``<split>/<family>/<instruction_type>``; ``by_template`` keys are
    ``<split>/<template_id>``. Words are whitespace-separated words.
    """

    num_records: int = 0
    num_truncated: int = 0
    num_over_budget: int = 0
    input_words: int = 0
    target_words: int = 0
    by_type: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    by_template: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    def add(self, record: InstructionRecord, truncated: bool, within_budget: bool) -> None:
        """Count one record."""
        self.num_records += 1
        self.num_truncated += int(truncated)
        self.num_over_budget += int(not within_budget)
        self.input_words += len(record.inputs.split())
        self.target_words += len(record.targets.split())
        self.by_type[f"{record.split}/{record.family}/{record.instruction_type}"] += 1
        self.by_template[f"{record.split}/{record.template_id}"] += 1

    def merge(self, other: RenderStats) -> None:
        """Add another shard's totals into this one."""
        self.num_records += other.num_records
        self.num_truncated += other.num_truncated
        self.num_over_budget += other.num_over_budget
        self.input_words += other.input_words
        self.target_words += other.target_words
        self.by_type.update(other.by_type)
        self.by_template.update(other.by_template)

    def to_json(self) -> dict[str, Any]:
        """Plain dict with sorted keys (same totals -> same JSON)."""
        count = max(self.num_records, 1)
        return {
            "num_records": self.num_records,
            "num_truncated": self.num_truncated,
            "num_over_budget": self.num_over_budget,
            "truncation_rate": round(self.num_truncated / count, 6),
            "over_budget_rate": round(self.num_over_budget / count, 6),
            "input_words": self.input_words,
            "target_words": self.target_words,
            "avg_input_words": round(self.input_words / count, 3),
            "avg_target_words": round(self.target_words / count, 3),
            "by_type": dict(sorted(self.by_type.items())),
            "by_template": dict(sorted(self.by_template.items())),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderStats:
        """Inverse of ``to_json`` (rates are recomputed, not read)."""
        return cls(
            num_records=int(data["num_records"]),
            num_truncated=int(data["num_truncated"]),
            num_over_budget=int(data["num_over_budget"]),
            input_words=int(data["input_words"]),
            target_words=int(data["target_words"]),
            by_type=collections.Counter(data["by_type"]),
            by_template=collections.Counter(data["by_template"]),
        )
