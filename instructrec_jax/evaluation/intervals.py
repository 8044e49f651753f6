"""Uncertainty over users: percentile-bootstrap confidence intervals and paired tests.

Every metric the evaluation reports is a mean over users of a per-user value
(:func:`instructrec_jax.evaluation.metrics.per_user_metrics`), so its uncertainty is that of
a mean over users: resample users with replacement, recompute the mean, and read the
``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled means (the percentile
bootstrap). Two models scored on the same users are compared on per-user differences: a
paired bootstrap interval of the mean difference and a two-sided sign-flip permutation test
(exact when ``2**users <= resamples``). Every random choice takes a seed.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95


def _check(values: np.ndarray | Sequence[float], resamples: int, level: float) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"per-user values must be a non-empty 1-D array, got {values.shape}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return values


def bootstrap_means(
    values: np.ndarray | Sequence[float], resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> np.ndarray:
    """Means of ``resamples`` seeded resamples (with replacement) of ``values`` [users].

    Returns: float64 [resamples].
    """
    values = _check(values, resamples, DEFAULT_LEVEL)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    chunk = max(1, 2_000_000 // values.size)  # bounds the index matrix to ~16 MB
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        index = rng.integers(0, values.size, size=(count, values.size))
        means[start : start + count] = values[index].mean(axis=1)
    return means


def bootstrap_interval(
    values: np.ndarray | Sequence[float],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> tuple[float, float]:
    """Percentile-bootstrap ``level`` interval (low, high) of the mean of ``values`` [users]."""
    values = _check(values, resamples, level)
    means = bootstrap_means(values, resamples, seed)
    low, high = np.quantile(means, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(low), float(high)


def metric_intervals(
    per_user: Mapping[str, np.ndarray],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> dict[str, list[float]]:
    """``{metric: [low, high]}`` for per-user metric arrays that share one set of users.

    The same resampled users serve every metric (one seed), so the intervals are those of
    one bootstrap over users, not of independent ones.
    """
    intervals = {}
    for name, values in per_user.items():
        intervals[name] = list(bootstrap_interval(values, resamples, seed, level))
    return intervals


@dataclasses.dataclass(frozen=True)
class PairedTest:
    """Model A vs model B on the same users (difference = A - B, per user).

    Attributes:
      mean_difference: mean over users of A - B.
      interval: paired percentile-bootstrap interval of the mean difference.
      p_value: two-sided sign-flip permutation p-value of "mean difference = 0".
      num_users: users compared.
      exact: whether the p-value enumerated every sign assignment.
    """

    mean_difference: float
    interval: tuple[float, float]
    p_value: float
    num_users: int
    exact: bool

    def significant(self) -> bool:
        """Whether the bootstrap interval excludes 0."""
        return self.interval[0] > 0.0 or self.interval[1] < 0.0


def sign_flip_p_value(
    differences: np.ndarray | Sequence[float], resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> tuple[float, bool]:
    """Two-sided p-value of a zero mean difference by flipping each user's sign.

    Exact (every one of the ``2**users`` assignments) when that is at most ``resamples``;
    otherwise ``(1 + hits) / (1 + resamples)`` over seeded random assignments.

    Returns: (p-value, exact).
    """
    differences = _check(differences, resamples, DEFAULT_LEVEL)
    observed = abs(differences.mean())
    tolerance = 1e-12 * max(1.0, float(np.abs(differences).max()))
    if 2**differences.size <= resamples:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=differences.size)))
        flipped = np.abs((signs * differences).mean(axis=1))
        return float(np.mean(flipped >= observed - tolerance)), True
    rng = np.random.default_rng(seed)
    signs = rng.choice((-1.0, 1.0), size=(resamples, differences.size))
    flipped = np.abs((signs * differences).mean(axis=1))
    hits = int(np.sum(flipped >= observed - tolerance))
    return (1.0 + hits) / (1.0 + resamples), False


def paired_test(
    a: np.ndarray | Sequence[float],
    b: np.ndarray | Sequence[float],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> PairedTest:
    """Compare per-user values ``a`` and ``b`` [users] of two models on the same users."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same users: shapes {a.shape} vs {b.shape}")
    differences = a - b
    p_value, exact = sign_flip_p_value(differences, resamples, seed)
    return PairedTest(
        mean_difference=float(_check(differences, resamples, level).mean()),
        interval=bootstrap_interval(differences, resamples, seed, level),
        p_value=p_value,
        num_users=int(differences.size),
        exact=exact,
    )
