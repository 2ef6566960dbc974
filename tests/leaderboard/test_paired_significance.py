"""Paired tests and bootstrap intervals checked against scipy.stats on constructed data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalsuite.metrics.significance import bootstrap_mean_ci, paired_bootstrap, paired_permutation_test


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def test_exact_permutation_p_value_equals_scipy_exact_test() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, size=12).astype(float)
    b = rng.integers(0, 2, size=12).astype(float)
    a[:4] = 1.0
    b[:4] = 0.0  # make the difference non-trivial
    ours = paired_permutation_test(a, b, rounds=2**12)
    reference = stats.permutation_test(
        (a, b), _mean_difference, permutation_type="samples", vectorized=True, n_resamples=2**12,
        alternative="two-sided",
    )
    assert ours.method == "paired_permutation_exact"
    assert ours.p_value == pytest.approx(reference.pvalue, abs=1e-12)
    assert ours.difference == pytest.approx(reference.statistic)


def test_sampled_permutation_p_value_matches_scipy_within_monte_carlo_error() -> None:
    rng = np.random.default_rng(7)
    a = (rng.random(300) < 0.62).astype(float)
    b = np.where(rng.random(300) < 0.8, a, 1.0 - a)  # correlated runs that differ on ~20 % of documents
    ours = paired_permutation_test(a, b, rounds=20_000, seed=1)
    reference = stats.permutation_test(
        (a, b), _mean_difference, permutation_type="samples", vectorized=True, n_resamples=20_000,
        alternative="two-sided", rng=np.random.default_rng(2),
    )
    standard_error = np.sqrt(reference.pvalue * (1 - reference.pvalue) / 20_000)
    assert ours.p_value == pytest.approx(reference.pvalue, abs=max(5 * standard_error, 2e-3))


def test_paired_bootstrap_interval_matches_scipy_paired_percentile_bootstrap() -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(0.6, 0.2, size=400)
    b = a - 0.03 + rng.normal(0, 0.1, size=400)
    ours = paired_bootstrap(a, b, rounds=20_000, seed=5, level=0.95)
    reference = stats.bootstrap(
        (a, b), _mean_difference, paired=True, vectorized=True, n_resamples=20_000, method="percentile",
        confidence_level=0.95, rng=np.random.default_rng(6),
    )
    width = reference.confidence_interval.high - reference.confidence_interval.low
    assert ours.ci_low == pytest.approx(reference.confidence_interval.low, abs=0.03 * width)
    assert ours.ci_high == pytest.approx(reference.confidence_interval.high, abs=0.03 * width)
    assert ours.difference == pytest.approx(float(np.mean(a - b)))


def test_bootstrap_mean_interval_matches_scipy_percentile_bootstrap() -> None:
    values = (np.random.default_rng(2).random(250) < 0.7).astype(float)
    ours = bootstrap_mean_ci(values, rounds=20_000, seed=0, level=0.9)
    reference = stats.bootstrap(
        (values,), np.mean, vectorized=True, n_resamples=20_000, method="percentile", confidence_level=0.9,
        rng=np.random.default_rng(1),
    )
    width = reference.confidence_interval.high - reference.confidence_interval.low
    assert ours.low == pytest.approx(reference.confidence_interval.low, abs=0.03 * width)
    assert ours.high == pytest.approx(reference.confidence_interval.high, abs=0.03 * width)


def test_big_difference_is_significant_and_identical_runs_are_not() -> None:
    rng = np.random.default_rng(0)
    strong = (rng.random(200) < 0.85).astype(float)
    weak = (rng.random(200) < 0.45).astype(float)
    assert paired_permutation_test(strong, weak, rounds=5000).p_value < 0.01
    boot = paired_bootstrap(strong, weak, rounds=5000)
    assert boot.p_value < 0.01
    assert boot.ci_low is not None and boot.ci_low > 0
    same = paired_permutation_test(strong, strong, rounds=5000)
    assert same.p_value == 1.0
    assert paired_bootstrap(strong, strong, rounds=500).p_value == 1.0


def test_unpaired_or_empty_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="one length"):
        paired_bootstrap([1.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="share no samples"):
        paired_permutation_test([], [])
