"""Input checks shared by the baselines."""

from __future__ import annotations

from collections.abc import Sequence

from instructrec_jax.data.types import EvalExample


def candidate_count(examples: Sequence[EvalExample]) -> int:
    """The common number of candidates of ``examples`` (0 for no examples).

    Raises:
      ValueError: two examples have different candidate counts (naming the first one
        that differs), since a score matrix needs one width.
    """
    if not examples:
        return 0
    expected = len(examples[0].candidates)
    for position, example in enumerate(examples):
        if len(example.candidates) != expected:
            raise ValueError(
                f"example {position} (user {example.user_id!r}, split {example.split!r}) has "
                f"{len(example.candidates)} candidates, example 0 has {expected}; every "
                "example in one score() call needs the same number"
            )
    return expected
