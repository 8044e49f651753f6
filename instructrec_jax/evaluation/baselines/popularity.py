"""Popularity baseline: score = how often the item occurs in the training part.

Counts come from ``ProcessedDataset.train_item_counts()``: every user's ``items[:-2]``,
so neither validation nor test targets are counted (an item that occurs only as a held-out
target scores 0). The same counts are used for the validation and the test split; the
validation item that sits in a test example's history is deliberately not added, which
keeps one leak-free table for both splits (the usual choice for this baseline).

Ties (equal counts, frequent among rare items) would be ranked pessimistically by the
shared metrics, i.e. the positive placed below every negative with its count. The scorer
instead breaks them at random: a seeded jitter in [0, 0.5) is added to the integer counts,
which reorders only items with equal counts and gives the expected rank of a fair coin.
Set ``break_ties=False`` for the raw counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.checks import candidate_count
from instructrec_jax.evaluation.baselines.random_scorer import uniform_jitter

# Strictly below 1, so the jitter never reorders items whose integer counts differ.
_JITTER_SCALE = 0.5


class PopularityScorer:
    """Ranks candidates by their training-part interaction count.

    Attributes:
      counts: item id -> training count; items absent from it count 0.
      seed: seeds the tie-breaking jitter.
      break_ties: add the seeded jitter (True) or return raw counts (False).
    """

    name = "popularity"

    def __init__(self, counts: Mapping[str, int], seed: int = 0, break_ties: bool = True) -> None:
        negative = sorted(item for item, count in counts.items() if count < 0)
        if negative:
            raise ValueError(f"popularity counts must be >= 0; negative for items {negative[:5]}")
        self.counts = dict(counts)
        self.seed = seed
        self.break_ties = break_ties

    @classmethod
    def fit(
        cls, dataset: ProcessedDataset, seed: int = 0, break_ties: bool = True
    ) -> PopularityScorer:
        """Count item occurrences in the training parts (``items[:-2]``) of ``dataset``."""
        return cls(dataset.train_item_counts(), seed=seed, break_ties=break_ties)

    def score(self, examples: Sequence[EvalExample]) -> np.ndarray:
        """Scores [num_examples, num_candidates]: count (+ jitter in [0, 0.5) if breaking ties)."""
        num_candidates = candidate_count(examples)
        scores = np.zeros((len(examples), num_candidates), dtype=np.float64)
        for row, example in enumerate(examples):
            scores[row] = [self.counts.get(item, 0) for item in example.candidates]
            if self.break_ties:
                scores[row] += _JITTER_SCALE * uniform_jitter(self.seed, example, "popularity-ties")
        return scores
