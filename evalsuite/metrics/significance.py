"""Is run A really better than run B? Paired tests and bootstrap intervals over samples.

Two runs scored on the same documents give paired per-sample scores ``a_i``, ``b_i``
(e.g. ``acc`` ∈ {0, 1} of document i). The statistic throughout is the mean paired
difference, every document weighted equally::

    δ = (1/n) · Σ_i (a_i − b_i)

Pairing removes the between-document variance (easy documents are easy for both runs),
so these tests are far more sensitive than comparing two independent stderrs.

* :func:`paired_permutation_test` — under H0 (the runs are exchangeable) swapping a_i and
  b_i leaves the distribution unchanged, i.e. each difference d_i keeps or flips its sign.
  The null distribution is δ over sign flips: exact (all 2^n patterns) when 2^n ≤ rounds,
  Monte Carlo otherwise. Two-sided p = min(1, 2·min(P(δ* ≤ δ), P(δ* ≥ δ))), with the
  (count + 1)/(rounds + 1) correction for Monte Carlo draws — the definition of
  ``scipy.stats.permutation_test(..., permutation_type="samples")``.
* :func:`paired_bootstrap` — resample documents (pairs) with replacement; the percentile
  interval of δ* is the CI. Its two-sided p-value is the smallest α whose (1 − α)
  percentile interval excludes 0: p = min(1, 2·min(#(δ* ≤ 0) + 1, #(δ* ≥ 0) + 1)/(rounds + 1)),
  so "p < 0.05" agrees with "the 95 % interval excludes 0".
* :func:`bootstrap_mean_ci` — percentile interval of one run's mean score.

All functions are pure: the result depends only on (data, rounds, seed, level).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# Bound the temporary (rounds x n) matrices to ~32 MB of float64.
_MAX_MATRIX_CELLS = 4 * 2**20
# Enumerate all sign patterns only up to this many pairs (2^16 = 65,536 patterns).
_MAX_EXACT_PAIRS = 16


@dataclass(frozen=True)
class PairedTestResult:
    """Outcome of one paired comparison of run A against run B.

    Attributes:
        n: number of paired samples.
        mean_a, mean_b: mean per-sample score of each run over the pairs.
        difference: δ = mean_a − mean_b.
        p_value: two-sided p-value of H0 "no difference".
        ci_low, ci_high: interval for δ (bootstrap only; ``None`` for the permutation test).
        method: ``"paired_bootstrap"`` or ``"paired_permutation"`` (+ ``"_exact"``).
        rounds: resamples drawn (patterns enumerated for an exact test).
    """

    n: int
    mean_a: float
    mean_b: float
    difference: float
    p_value: float
    ci_low: float | None
    ci_high: float | None
    method: str
    rounds: int


@dataclass(frozen=True)
class MeanInterval:
    """A mean with its percentile bootstrap interval."""

    mean: float
    low: float
    high: float
    level: float


def _paired_arrays(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    first = np.asarray(a, dtype=np.float64)
    second = np.asarray(b, dtype=np.float64)
    if first.ndim != 1 or first.shape != second.shape:
        raise ValueError(f"paired scores need two 1-D arrays of one length, got {first.shape} and {second.shape}")
    if first.size == 0:
        raise ValueError("paired scores are empty: the runs share no samples")
    if not (np.isfinite(first).all() and np.isfinite(second).all()):
        raise ValueError("paired scores contain NaN or infinity")
    return first, second


def _check_rounds(rounds: int, level: float | None = None) -> None:
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if level is not None and not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")


def _chunks(rounds: int, n: int) -> Iterator[int]:
    """Round counts per batch so one batch's (rounds x n) matrix stays small."""
    per_batch = max(1, _MAX_MATRIX_CELLS // max(n, 1))
    done = 0
    while done < rounds:
        size = min(per_batch, rounds - done)
        yield size
        done += size


def _bootstrap_means(values: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``rounds`` resamples (with replacement) of ``values``."""
    n = values.size
    means = np.empty(rounds)
    start = 0
    for size in _chunks(rounds, n):
        picks = rng.integers(0, n, size=(size, n))
        means[start : start + size] = values[picks].mean(axis=1)
        start += size
    return means


def _percentile_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return float(low), float(high)


def _tolerance(observed: float) -> float:
    """Treat null values equal to the observed one up to float rounding as ties (as scipy does)."""
    return float(abs(observed) * np.finfo(np.float64).eps * 100)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, rounds: int = 2000, seed: int = 0, level: float = 0.95
) -> PairedTestResult:
    """Paired bootstrap of δ = mean(a − b): percentile CI and two-sided p-value.

    Resamples the n pairs with replacement ``rounds`` times (the pairs stay together,
    so each draw keeps the per-document correlation of the two runs).
    """
    first, second = _paired_arrays(a, b)
    _check_rounds(rounds, level)
    differences = first - second
    draws = _bootstrap_means(differences, rounds, np.random.default_rng(seed))
    at_most_zero = int(np.count_nonzero(draws <= 0.0))
    at_least_zero = int(np.count_nonzero(draws >= 0.0))
    p_value = min(1.0, 2.0 * (min(at_most_zero, at_least_zero) + 1) / (rounds + 1))
    low, high = _percentile_interval(draws, level)
    return PairedTestResult(
        n=int(first.size), mean_a=float(first.mean()), mean_b=float(second.mean()),
        difference=float(differences.mean()), p_value=p_value, ci_low=low, ci_high=high,
        method="paired_bootstrap", rounds=rounds,
    )


def _exact_sign_flip_null(differences: np.ndarray) -> np.ndarray:
    """δ under every one of the 2^n sign patterns (the full permutation distribution)."""
    n = differences.size
    patterns = np.arange(2**n)[:, None] >> np.arange(n)[None, :] & 1
    signs = 1.0 - 2.0 * patterns
    return (signs @ differences) / n


def _sampled_sign_flip_null(differences: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
    n = differences.size
    null = np.empty(rounds)
    start = 0
    for size in _chunks(rounds, n):
        signs = 1.0 - 2.0 * rng.integers(0, 2, size=(size, n))
        null[start : start + size] = (signs @ differences) / n
        start += size
    return null


def paired_permutation_test(
    a: Sequence[float], b: Sequence[float], *, rounds: int = 10_000, seed: int = 0
) -> PairedTestResult:
    """Paired (sign-flip) permutation test of δ = mean(a − b), two-sided.

    Exact when 2^n ≤ ``rounds`` (and n ≤ 16); otherwise ``rounds`` random sign
    patterns with the +1 correction, which keeps the p-value valid (never 0).
    """
    first, second = _paired_arrays(a, b)
    _check_rounds(rounds)
    differences = first - second
    observed = float(differences.mean())
    exact = differences.size <= _MAX_EXACT_PAIRS and 2**differences.size <= rounds
    if exact:
        null = _exact_sign_flip_null(differences)
        adjustment = 0
    else:
        null = _sampled_sign_flip_null(differences, rounds, np.random.default_rng(seed))
        adjustment = 1
    gamma = _tolerance(observed)
    less = (np.count_nonzero(null <= observed + gamma) + adjustment) / (null.size + adjustment)
    greater = (np.count_nonzero(null >= observed - gamma) + adjustment) / (null.size + adjustment)
    return PairedTestResult(
        n=int(first.size), mean_a=float(first.mean()), mean_b=float(second.mean()),
        difference=observed, p_value=float(min(1.0, 2.0 * min(less, greater))), ci_low=None, ci_high=None,
        method="paired_permutation_exact" if exact else "paired_permutation", rounds=int(null.size),
    )


def bootstrap_mean_ci(values: Sequence[float], *, rounds: int = 2000, seed: int = 0, level: float = 0.95) -> MeanInterval:
    """Percentile bootstrap interval of the mean of ``values`` (documents weighted equally)."""
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0 or not np.isfinite(data).all():
        raise ValueError("bootstrap_mean_ci needs a non-empty 1-D array of finite numbers")
    _check_rounds(rounds, level)
    draws = _bootstrap_means(data, rounds, np.random.default_rng(seed))
    low, high = _percentile_interval(draws, level)
    return MeanInterval(mean=float(data.mean()), low=low, high=high, level=level)
