"""Scoring arbitrary candidate lists for an example (needed by grouped reranking).

:class:`~instructrec_jax.evaluation.scorer.CandidateScorer` scores an example's own
candidates ``(target, *negatives)``. The 100-candidate protocol with groups of 10 must also
score groups that do *not* contain the target, while the instruction (the user's history,
the query derived from the target's review or categories) still comes from the example.
:class:`CandidateListScorer` is that wider interface; :func:`as_list_scorer` gives it to any
``CandidateScorer`` whose scores do not depend on which candidate is the target (Random,
Popularity, SASRec: they score items from the history alone).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from instructrec_jax.data.types import EvalExample
from instructrec_jax.evaluation.scorer import CandidateScorer


@runtime_checkable
class CandidateListScorer(Protocol):
    """Scores given candidate lists, one per example; higher is better.

    ``score_lists(examples, candidate_lists)`` returns float [len(examples), n] where
    column j scores ``candidate_lists[i][j]``; every list has the same length n. The
    candidates need not include ``examples[i].target``.
    """

    name: str

    def score_lists(
        self, examples: Sequence[EvalExample], candidate_lists: Sequence[Sequence[str]]
    ) -> np.ndarray:
        """Scores [num_examples, n] in ``candidate_lists`` order."""
        ...


class _TargetAgnosticListScorer:
    """A ``CandidateScorer`` used as a list scorer by re-packing each list as an example."""

    def __init__(self, scorer: CandidateScorer) -> None:
        self.scorer = scorer
        self.name = scorer.name

    def score_lists(
        self, examples: Sequence[EvalExample], candidate_lists: Sequence[Sequence[str]]
    ) -> np.ndarray:
        repacked = [
            dataclasses.replace(example, target=candidates[0], negatives=tuple(candidates[1:]))
            for example, candidates in zip(examples, candidate_lists, strict=True)
        ]
        return np.asarray(self.scorer.score(repacked), dtype=np.float64)


def as_list_scorer(scorer: CandidateScorer | CandidateListScorer) -> CandidateListScorer:
    """The scorer itself if it scores lists, else a target-agnostic adapter around it.

    The adapter presents each list as an example whose ``target`` is the list's first
    item, so it is only correct for scorers that ignore which candidate is the target.
    """
    if isinstance(scorer, CandidateListScorer):
        return scorer
    if not isinstance(scorer, CandidateScorer):
        raise TypeError(f"{scorer!r} implements neither score() nor score_lists()")
    return _TargetAgnosticListScorer(scorer)


def score_lists_checked(
    scorer: CandidateListScorer,
    examples: Sequence[EvalExample],
    candidate_lists: Sequence[Sequence[str]],
) -> np.ndarray:
    """``scorer.score_lists`` with its output shape and values validated (float64)."""
    scores = np.asarray(scorer.score_lists(examples, candidate_lists), dtype=np.float64)
    expected = (len(examples), len(candidate_lists[0]) if candidate_lists else 0)
    if scores.shape != expected:
        raise ValueError(
            f"scorer {scorer.name!r} returned shape {scores.shape}, expected {expected}"
        )
    if np.isnan(scores).any():
        raise ValueError(f"scorer {scorer.name!r} returned NaN scores")
    return scores
