"""The one interface every ranker implements: score each example's candidates.

InstructRec (likelihood of each candidate title given the instruction) and every baseline
(Random, Popularity, SASRec, or a user's own) are evaluated by the same code on the same
candidate sets through this protocol, so their numbers are comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from instructrec_jax.data.types import EvalExample


@runtime_checkable
class CandidateScorer(Protocol):
    """Scores candidates; higher is better.

    ``score`` returns a float array [len(examples), num_candidates] whose column j scores
    ``examples[i].candidates[j]`` (positive first, then the negatives, as stored). Every
    example in one call has the same number of candidates.

    A trained model may also carry a ``fingerprint`` string (a digest of its parameters,
    e.g. ``SASRecScorer.fingerprint``); evaluation caches are keyed by it, so a retrained
    model is scored again (``runner.model_identity``).
    """

    name: str

    def score(self, examples: Sequence[EvalExample]) -> np.ndarray:
        """Scores [num_examples, num_candidates] in ``EvalExample.candidates`` order."""
        ...


@runtime_checkable
class InstructionTypeScorer(Protocol):
    """A scorer whose input depends on the instruction type (TEM and DSSM read its query).

    The evaluation job scores it once per instruction type of a scenario, with
    ``for_instruction_type(t)`` (a ``CandidateScorer`` reading the query of ``t``), where
    a plain ``CandidateScorer`` is scored once per scenario.
    """

    name: str

    def for_instruction_type(self, instruction_type: str) -> CandidateScorer:
        """The scorer bound to ``instruction_type`` (e.g. ``p1_i1_t3``)."""
        ...
