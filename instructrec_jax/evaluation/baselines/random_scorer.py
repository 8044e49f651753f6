"""Random baseline: uniform scores, a pure function of (seed, example, candidate).

Every score is derived from a seeded BLAKE2b hash of (seed, split, user id, candidate
column, candidate id), so the same seed gives the same scores whatever the batching or
order of the examples, and distinct candidates almost surely never tie (the shared
metrics rank ties pessimistically, so a constant scorer would look worse than chance).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from instructrec_jax.data.seeding import seeded_hash
from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.baselines.checks import candidate_count

_HASH_RANGE = float(2**64)


def uniform_jitter(seed: int, example: EvalExample, salt: str) -> np.ndarray:
    """Float64 array [num_candidates] of values in [0, 1), one per candidate column.

    Args:
      seed: random seed.
      example: the example whose candidates get a value.
      salt: separates independent streams (e.g. ``"random"`` and ``"popularity-ties"``).
    """
    return np.array(
        [
            seeded_hash(seed, salt, example.split, example.user_id, str(column), candidate)
            / _HASH_RANGE
            for column, candidate in enumerate(example.candidates)
        ],
        dtype=np.float64,
    )


class RandomScorer:
    """Uniform random scores in [0, 1); HR@k is k / num_candidates in expectation."""

    name = "random"

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def score(self, examples: Sequence[EvalExample]) -> np.ndarray:
        """Scores [num_examples, num_candidates] in ``EvalExample.candidates`` order."""
        num_candidates = candidate_count(examples)
        if not examples:
            return np.zeros((0, num_candidates), dtype=np.float64)
        return np.stack([uniform_jitter(self.seed, example, "random") for example in examples])
