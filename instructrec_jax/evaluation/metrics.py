"""Ranking metrics over candidate scores: HR@k, NDCG@k and MRR with pessimistic ties.

One example = one positive among N candidates. The positive's rank is
``1 + #(negatives scoring >= positive)``: a negative that ties the positive is ranked
above it (pessimistic), so a model that scores everything equal gets rank N, not 1.

With a single relevant item, NDCG@k = 1 / log2(rank + 1) if rank <= k else 0 (the ideal
DCG is 1), HR@k = [rank <= k], MRR = 1 / rank. NDCG@1 equals HR@1, so it is not reported
(:func:`metric_names` lists what is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

DEFAULT_CUTOFFS: tuple[int, ...] = (1, 3, 5, 10)


def positive_ranks(scores: np.ndarray, positive_index: np.ndarray | Sequence[int]) -> np.ndarray:
    """1-based rank of each example's positive, ties counted against it.

    Args:
      scores: float array [num_examples, num_candidates]; higher is better. NaN scores
        are rejected.
      positive_index: int array [num_examples], column of the positive in ``scores``.

    Returns:
      int64 array [num_examples] of ranks in 1..num_candidates.

    Raises:
      ValueError: bad shapes, NaN scores, or a positive index outside 0..num_candidates-1.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive_index = np.asarray(positive_index, dtype=np.int64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [examples, candidates], got shape {scores.shape}")
    if positive_index.shape != (scores.shape[0],):
        raise ValueError(
            f"positive_index must have shape ({scores.shape[0]},), got {positive_index.shape}"
        )
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    outside = (positive_index < 0) | (positive_index >= scores.shape[1])
    if outside.any():
        row = int(np.argmax(outside))
        raise ValueError(
            f"positive_index {int(positive_index[row])} of example {row} is outside "
            f"0..{scores.shape[1] - 1}"
        )
    rows = np.arange(scores.shape[0])
    positive_scores = scores[rows, positive_index]
    at_least_as_good = scores >= positive_scores[:, None]
    at_least_as_good[rows, positive_index] = False
    return 1 + at_least_as_good.sum(axis=1)


def per_user_metrics(
    ranks: np.ndarray | Sequence[int], cutoffs: Iterable[int] = DEFAULT_CUTOFFS
) -> dict[str, np.ndarray]:
    """Per-example HR@k, NDCG@k (k > 1) and MRR from 1-based positive ranks.

    Args:
      ranks: positive ranks [num_examples], each >= 1.
      cutoffs: the k of HR@k / NDCG@k, each >= 1.

    Returns:
      ``{name: float64 [num_examples]}``; the metrics are their means
      (:func:`metrics_from_ranks`), their uncertainty that of a mean over users
      (:mod:`instructrec_jax.evaluation.intervals`).

    Raises:
      ValueError: no ranks, a rank < 1 or a cutoff < 1.
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ValueError("no examples to compute metrics on")
    if (ranks < 1).any():
        raise ValueError(f"ranks are 1-based, got rank {ranks[ranks < 1][0]:g}")
    cutoffs = tuple(cutoffs)
    bad = [k for k in cutoffs if k < 1]
    if bad:
        raise ValueError(f"cutoffs must be >= 1, got {bad[0]}")
    out: dict[str, np.ndarray] = {}
    for k in cutoffs:
        hit = ranks <= k
        out[f"HR@{k}"] = hit.astype(np.float64)
        if k > 1:
            out[f"NDCG@{k}"] = np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0)
    out["MRR"] = 1.0 / ranks
    return out


def metrics_from_ranks(
    ranks: np.ndarray | Sequence[int], cutoffs: Iterable[int] = DEFAULT_CUTOFFS
) -> dict[str, float]:
    """Mean HR@k, NDCG@k (k > 1) and MRR over examples, from 1-based positive ranks.

    Args:
      ranks: positive ranks [num_examples], each >= 1.
      cutoffs: the k of HR@k / NDCG@k, each >= 1.

    Raises:
      ValueError: no ranks, a rank < 1 or a cutoff < 1.
    """
    return {name: float(values.mean()) for name, values in per_user_metrics(ranks, cutoffs).items()}


def metric_names(cutoffs: Iterable[int] = DEFAULT_CUTOFFS) -> tuple[str, ...]:
    """The keys :func:`metrics_from_ranks` returns for ``cutoffs``, in its order."""
    return tuple(metrics_from_ranks([1], cutoffs))


def ranking_metrics(
    scores: np.ndarray,
    positive_index: np.ndarray | Sequence[int],
    cutoffs: Iterable[int] = DEFAULT_CUTOFFS,
) -> dict[str, float]:
    """HR@k, NDCG@k and MRR for scores [examples, candidates] and positive columns."""
    return metrics_from_ranks(positive_ranks(scores, positive_index), cutoffs)


def format_metrics(metrics: Mapping[str, float], digits: int = 4) -> str:
    """One line ``HR@1=0.1234 HR@3=...`` in a stable order, for logs."""
    return " ".join(f"{name}={value:.{digits}f}" for name, value in metrics.items())
