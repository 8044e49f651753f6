"""SeqIO metric function of the rank-classification tasks: HR@k, NDCG@k and MRR.

SeqIO's evaluator routes a metric fn with arguments ``(targets, scores)`` to the model's
score function: ``targets`` are the postprocessed targets (``RankTarget``s, one per
(inputs, candidate) pair) and ``scores`` the log-likelihoods of those pairs, in the same
order. Pairs are grouped back into examples by ``example_index``; each example must hold
exactly one positive. Ranks use ``evaluation.metrics.positive_ranks`` (ties count against
the positive), so these numbers equal the offline evaluator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from instructrec_jax.evaluation.metrics import (
    DEFAULT_CUTOFFS,
    metrics_from_ranks,
    positive_ranks,
)
from instructrec_jax.tasks.preprocessors import RankTarget


def _as_rank_target(target: Any) -> RankTarget:
    if isinstance(target, RankTarget):
        return target
    if isinstance(target, dict):
        return RankTarget(
            int(target["example_index"]),
            int(target["candidate_index"]),
            bool(target["is_positive"]),
            str(target.get("template_id", "")),
        )
    raise TypeError(f"expected a RankTarget or a dict, got {type(target).__name__}")


def grouped_ranks(targets: Sequence[Any], scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """1-based rank of each example's positive, examples in order of first appearance.

    Args:
      targets: ``RankTarget`` (or dict with the same keys) per scored pair.
      scores: float per pair, same order; higher is better.

    Returns:
      int64 array [num_examples].
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(targets) != scores.shape[0]:
        raise ValueError(f"{len(targets)} targets but {scores.shape[0]} scores")
    groups: dict[int, list[tuple[int, bool, float]]] = {}
    for target, score in zip(targets, scores):
        rank_target = _as_rank_target(target)
        groups.setdefault(rank_target.example_index, []).append(
            (rank_target.candidate_index, rank_target.is_positive, float(score))
        )
    ranks = np.empty(len(groups), dtype=np.int64)
    # Examples with the same number of candidates are ranked together as one matrix.
    by_size: dict[int, list[tuple[int, list[float], int]]] = {}
    for position, (example_index, pairs) in enumerate(groups.items()):
        pairs.sort(key=lambda pair: pair[0])
        positives = [k for k, (_, is_positive, _) in enumerate(pairs) if is_positive]
        if len(positives) != 1:
            raise ValueError(
                f"example {example_index}: expected exactly one positive among "
                f"{len(pairs)} candidates, found {len(positives)}"
            )
        by_size.setdefault(len(pairs), []).append(
            (position, [score for _, _, score in pairs], positives[0])
        )
    for rows in by_size.values():
        matrix = np.array([row_scores for _, row_scores, _ in rows])
        columns = np.array([column for _, _, column in rows])
        ranks[[position for position, _, _ in rows]] = positive_ranks(matrix, columns)
    return ranks


def rank_classification_metrics(
    targets: Sequence[Any], scores: Sequence[float] | np.ndarray
) -> dict[str, float]:
    """HR@1,3,5,10, NDCG@3,5,10 and MRR over the examples of a rank task (SeqIO metric fn)."""
    return metrics_from_ranks(grouped_ranks(targets, scores), DEFAULT_CUTOFFS)


def example_template_ids(targets: Sequence[Any]) -> list[str]:
    """Template id of each example, in the order of ``grouped_ranks``."""
    templates: dict[int, str] = {}
    for target in targets:
        rank_target = _as_rank_target(target)
        templates.setdefault(rank_target.example_index, rank_target.template_id)
    return list(templates.values())


def rank_metrics_by_template(
    targets: Sequence[Any], scores: Sequence[float] | np.ndarray
) -> dict[str, float]:
    """``"<template_id>/<metric>"`` for every template of the task (SeqIO metric fn).

    The paper reports, per family, the template with the best validation score; these
    numbers let the evaluator pick it. Examples without a template id are left out.
    """
    ranks = grouped_ranks(targets, scores)
    templates = np.array(example_template_ids(targets), dtype=object)
    out: dict[str, float] = {}
    for template_id in sorted({t for t in templates if t}):
        template_metrics = metrics_from_ranks(ranks[templates == template_id], DEFAULT_CUTOFFS)
        out.update({f"{template_id}/{name}": value for name, value in template_metrics.items()})
    return out
