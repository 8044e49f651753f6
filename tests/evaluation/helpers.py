"""Small datasets and scripted scorers shared by the evaluation tests."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from instructrec_jax.data import PrepareConfig, ProcessedDataset, make_synthetic, prepare
from instructrec_jax.data.seeding import seeded_hash
from instructrec_jax.data.types import EvalExample


@functools.lru_cache(maxsize=1)
def small_dataset() -> ProcessedDataset:
    """60 users, ~150 items (enough for 1 + 99 candidates), 2-core."""
    return prepare(
        make_synthetic(num_users=60, num_items=160, num_categories=5, seed=0),
        PrepareConfig(k_core=2),
    )


def item_value(item_id: str, salt: str = "") -> float:
    """A fixed pseudo-random value in [0, 1) per item."""
    return seeded_hash(0, "item-value", salt, item_id) / float(2**64)


class GlobalScorer:
    """Scores each item by a fixed value, ignoring the example (target-agnostic).

    Records the length of every candidate list it is asked about.
    """

    def __init__(self, name: str = "global", salt: str = "") -> None:
        self.name = name
        self.salt = salt
        self.calls: list[int] = []

    def score(self, examples: Sequence[EvalExample]) -> np.ndarray:
        self.calls.extend(len(e.candidates) for e in examples)
        return np.array(
            [[item_value(c, self.salt) for c in e.candidates] for e in examples], dtype=np.float64
        )


class TargetAwareScorer:
    """A list scorer that puts the target first (``oracle``) or last, others by value."""

    def __init__(self, name: str, target_bonus: float) -> None:
        self.name = name
        self.target_bonus = target_bonus
        self.scored_lists = 0

    def score_lists(self, examples, candidate_lists) -> np.ndarray:
        self.scored_lists += len(candidate_lists)
        return np.array(
            [
                [item_value(c) + (self.target_bonus if c == e.target else 0.0) for c in cands]
                for e, cands in zip(examples, candidate_lists)
            ]
        )

    def score(self, examples) -> np.ndarray:
        return self.score_lists(examples, [e.candidates for e in examples])


class ScriptedTemplatedRanker:
    """Templates 'T1' (target pushed last) and 'T2' (target first); counts scored lists."""

    name = "scripted"

    def __init__(self) -> None:
        self.scorers = {
            "T1": TargetAwareScorer("scripted", -2.0),
            "T2": TargetAwareScorer("scripted", 2.0),
        }

    def template_ids(self, instruction_type: str, family: str | None = None) -> list[str]:
        return ["T1", "T2"]

    def with_template(self, instruction_type: str, template_id: str) -> TargetAwareScorer:
        return self.scorers[template_id]

    def total_scored_lists(self) -> int:
        return sum(s.scored_lists for s in self.scorers.values())
