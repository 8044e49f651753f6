"""Bootstrap intervals and paired tests against hand-computed and enumerated cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from instructrec_jax.evaluation import intervals


def _exact_bootstrap_quantiles(values: list[float], level: float) -> tuple[float, float]:
    """Quantiles of the mean over every one of the n**n equally likely resamples."""
    n = len(values)
    means = sorted(
        sum(values[i] for i in index) / n for index in itertools.product(range(n), repeat=n)
    )
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def test_interval_of_one_hit_in_four_users_matches_the_hand_computed_distribution():
    # Mean of 4 draws from {0, 0, 0, 1} is Binomial(4, 1/4) / 4:
    # P(0) = .316, P(.25) = .422, P(.5) = .211, P(.75) = .047, P(1) = .004.
    # CDF(0) = .316 > .025, so the 2.5% quantile is 0; CDF(.5) = .949 < .975 <= CDF(.75),
    # so the 97.5% quantile is .75.
    values = [0.0, 0.0, 0.0, 1.0]
    assert _exact_bootstrap_quantiles(values, 0.95) == (0.0, 0.75)
    assert intervals.bootstrap_interval(values, resamples=20_000, seed=3) == (0.0, 0.75)


def test_interval_of_a_three_user_case_matches_exhaustive_enumeration():
    values = [0.0, 0.5, 1.0]  # 27 resamples; means in steps of 1/6
    exact = _exact_bootstrap_quantiles(values, 0.8)
    estimate = intervals.bootstrap_interval(values, resamples=50_000, seed=0, level=0.8)
    assert estimate == pytest.approx(exact, abs=1e-9)


def test_interval_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2, size=300).astype(float)
    first = intervals.bootstrap_interval(values, seed=7)
    assert first == intervals.bootstrap_interval(values, seed=7)
    assert first[0] < values.mean() < first[1]
    # Normal approximation of a proportion's interval: mean +- 1.96 * sd / sqrt(n).
    half = 1.96 * values.std() / np.sqrt(values.size)
    assert first[1] - first[0] == pytest.approx(2 * half, rel=0.15)


def test_constant_values_have_a_zero_width_interval():
    assert intervals.bootstrap_interval([1.0] * 5) == (1.0, 1.0)


def test_metric_intervals_share_one_resampling_of_users():
    per_user = {"HR@1": np.array([0.0, 1.0, 1.0, 0.0]), "copy": np.array([0.0, 1.0, 1.0, 0.0])}
    out = intervals.metric_intervals(per_user, resamples=200, seed=1)
    assert out["HR@1"] == out["copy"]


def test_sign_flip_p_value_is_exact_for_few_users():
    # Five users all +1: only the two all-equal sign assignments reach |mean| = 1 -> 2/32.
    p_value, exact = intervals.sign_flip_p_value([1.0] * 5, resamples=1000)
    assert exact and p_value == pytest.approx(2 / 32)
    # d = [1, -1, 0, 0]: observed mean 0, every assignment reaches it -> p = 1.
    assert intervals.sign_flip_p_value([1.0, -1.0, 0.0, 0.0])[0] == 1.0
    # d = [2, 1, 0]: |mean| of (+-2 +-1)/3 is 1 for (+,+) and (-,-), 1/3 otherwise; the
    # zero user doubles every case -> 4/8.
    assert intervals.sign_flip_p_value([2.0, 1.0, 0.0])[0] == pytest.approx(0.5)


def test_sign_flip_p_value_monte_carlo_agrees_with_the_exact_value():
    differences = [1.0] * 12  # exact p = 2 / 4096
    exact_p, exact = intervals.sign_flip_p_value(differences, resamples=5000)
    assert exact and exact_p == pytest.approx(2 / 4096)
    sampled, exact = intervals.sign_flip_p_value(differences, resamples=2000, seed=0)
    assert not exact
    assert sampled == pytest.approx((1 + 2000 * 2 / 4096) / 2001, abs=0.003)


def test_paired_test_on_hand_computed_differences():
    a = [1.0, 1.0, 1.0, 1.0, 1.0]
    b = [0.0, 0.0, 0.0, 0.0, 0.0]
    test = intervals.paired_test(a, b, resamples=1000, seed=0)
    assert test.mean_difference == 1.0
    assert test.interval == (1.0, 1.0)  # every resample of constant differences is 1
    assert test.p_value == pytest.approx(2 / 32) and test.exact
    assert test.significant() and test.num_users == 5
    same = intervals.paired_test([1.0, 0.0, 1.0], [1.0, 0.0, 1.0])
    assert same.mean_difference == 0.0 and same.p_value == 1.0 and not same.significant()


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="same users"):
        intervals.paired_test([1.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="non-empty"):
        intervals.bootstrap_interval([])
    with pytest.raises(ValueError, match="level"):
        intervals.bootstrap_interval([1.0], level=1.5)
    with pytest.raises(ValueError, match="resamples"):
        intervals.bootstrap_interval([1.0], resamples=0)
