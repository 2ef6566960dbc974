"""How far a metric agrees with people: rank correlations at summary and system level, and vote agreement.

Scores come as ``(documents, systems)`` matrices, one for the metric and one for the people
(NaN where a score is missing). Two protocols, never averaged together:

* **Summary level** (G-Eval's Table 1 for SummEval): for each document, the correlation
  between metric and people across the systems that summarised it, then the mean over
  documents. A document whose metric or human scores are all equal has no rank
  correlation; it is left out of the mean and counted (``skipped``).
* **System level**: each system's mean score over the documents, metric and people, then
  one correlation across the systems.

Spearman's ρ is Pearson's r of the ranks (ties get their average rank); Kendall's τ is τ-b
(``scipy.stats.kendalltau``'s default), so ties in either list shrink the denominator.
The interval of either is a percentile bootstrap over **documents** (resampled with
replacement, seeded): the summary-level mean and the system means are recomputed from each
resample. Vote agreement (:func:`vote_agreement`) is the MT-Bench paper's: the share of
(judge, person) vote pairs on the same battle that agree, with ties as a third outcome, and
without ties (only pairs where neither voted a tie).

Pure: numpy and scipy only; the result depends on the inputs, ``rounds``, ``seed`` and ``level``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

METHODS = ("spearman", "kendall")
LEVELS = ("summary", "system")
DEFAULT_ROUNDS = 1000
DEFAULT_CI_LEVEL = 0.95
MIN_POINTS = 3  # fewer items than this have no useful rank correlation


@dataclass(frozen=True)
class Correlation:
    """One correlation with its bootstrap interval; ``value`` None when it is undefined.

    ``n`` counts the documents averaged (summary level) or the systems correlated (system
    level); ``skipped`` the documents left out because their scores were constant.
    """

    value: float | None
    low: float | None
    high: float | None
    n: int
    skipped: int = 0


def rank_correlation_rows(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Row-wise Spearman ρ or Kendall τ-b of two equal-shape 2-D arrays (no NaN); NaN where a row is constant."""
    if method == "spearman":
        return _pearson_rows(rankdata(x, axis=1), rankdata(y, axis=1))
    if method == "kendall":
        return _kendall_b_rows(x, y)
    raise ValueError(f"unknown correlation {method!r}; expected one of {METHODS}")


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx = x - x.mean(axis=1, keepdims=True)
    dy = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (dx * dy).sum(axis=1) / np.where(denominator > 0, denominator, 1.0), np.nan)


def _kendall_b_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """τ-b = Σ sign(xi−xj)·sign(yi−yj) / √((n0−tx)(n0−ty)) over pairs i<j; tx, ty the tied pairs."""
    upper_i, upper_j = np.triu_indices(x.shape[1], k=1)
    sx = np.sign(x[:, upper_i] - x[:, upper_j])
    sy = np.sign(y[:, upper_i] - y[:, upper_j])
    pairs = len(upper_i)
    denominator = np.sqrt((pairs - (sx == 0).sum(axis=1)) * (pairs - (sy == 0).sum(axis=1)).astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (sx * sy).sum(axis=1) / np.where(denominator > 0, denominator, 1.0), np.nan)


def per_document(metric: np.ndarray, human: np.ndarray, method: str) -> np.ndarray:
    """Each document's correlation across the systems both scored (NaN: undefined or too few)."""
    values = np.full(metric.shape[0], np.nan)
    for row in range(metric.shape[0]):
        both = np.isfinite(metric[row]) & np.isfinite(human[row])
        if both.sum() >= MIN_POINTS:
            values[row] = rank_correlation_rows(metric[row, both][None, :], human[row, both][None, :], method)[0]
    return values


def system_means(scores: np.ndarray, documents: np.ndarray | None = None) -> np.ndarray:
    """Each system's mean over ``documents`` (row indices, repeats allowed; default all), missing scores left out."""
    chosen = scores if documents is None else scores[documents]
    counts = np.isfinite(chosen).sum(axis=0)
    totals = np.nansum(chosen, axis=0)
    return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def _interval(draws: np.ndarray, level: float) -> tuple[float | None, float | None]:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    return float(np.percentile(finite, tail)), float(np.percentile(finite, 100.0 - tail))


def _value(number: float) -> float | None:
    return float(number) if np.isfinite(number) else None


def summary_level(
    metric: np.ndarray, human: np.ndarray, method: str, *, rounds: int = DEFAULT_ROUNDS, seed: int = 0, level: float = DEFAULT_CI_LEVEL
) -> Correlation:
    """Mean over documents of the per-document correlation, with a bootstrap over documents."""
    values = per_document(metric, human, method)
    defined = np.isfinite(values)
    if not defined.any():
        return Correlation(None, None, None, 0, int(values.size))
    draws = np.random.default_rng(seed).integers(0, values.size, size=(rounds, values.size))
    sampled = values[draws]
    with np.errstate(invalid="ignore"):
        means = np.nansum(sampled, axis=1) / np.isfinite(sampled).sum(axis=1)
    low, high = _interval(means, level) if rounds else (None, None)
    return Correlation(float(values[defined].mean()), low, high, int(defined.sum()), int((~defined).sum()))


def system_level(
    metric: np.ndarray, human: np.ndarray, method: str, *, rounds: int = DEFAULT_ROUNDS, seed: int = 0, level: float = DEFAULT_CI_LEVEL
) -> Correlation:
    """Correlation of the system means, with a bootstrap over documents (the means recomputed per resample)."""
    both = np.isfinite(system_means(metric)) & np.isfinite(system_means(human))
    if both.sum() < MIN_POINTS:
        return Correlation(None, None, None, int(both.sum()))
    metric, human = metric[:, both], human[:, both]
    point = rank_correlation_rows(system_means(metric)[None, :], system_means(human)[None, :], method)[0]
    draws = np.random.default_rng(seed).integers(0, metric.shape[0], size=(rounds, metric.shape[0]))
    sampled_metric = np.stack([system_means(metric, rows) for rows in draws]) if rounds else np.empty((0, metric.shape[1]))
    sampled_human = np.stack([system_means(human, rows) for rows in draws]) if rounds else np.empty((0, metric.shape[1]))
    complete = np.isfinite(sampled_metric).all(axis=1) & np.isfinite(sampled_human).all(axis=1)
    low, high = _interval(rank_correlation_rows(sampled_metric[complete], sampled_human[complete], method), level)
    return Correlation(_value(point), low, high, int(both.sum()))


def correlate(
    metric: np.ndarray, human: np.ndarray, level_name: str, method: str, *, rounds: int = DEFAULT_ROUNDS, seed: int = 0,
    level: float = DEFAULT_CI_LEVEL,
) -> Correlation:
    """:func:`summary_level` or :func:`system_level` by name."""
    if level_name not in LEVELS:
        raise ValueError(f"unknown level {level_name!r}; expected one of {LEVELS}")
    compute = summary_level if level_name == "summary" else system_level
    return compute(metric, human, method, rounds=rounds, seed=seed, level=level)


def paired_rank_correlation(first: Mapping[str, float], second: Mapping[str, float], method: str) -> tuple[float | None, int]:
    """Rank correlation over the keys both mappings hold (e.g. models: arena rating vs a benchmark), and how many."""
    shared = sorted(set(first) & set(second))
    if len(shared) < MIN_POINTS:
        return None, len(shared)
    x = np.array([[first[key] for key in shared]], dtype=float)
    y = np.array([[second[key] for key in shared]], dtype=float)
    return _value(rank_correlation_rows(x, y, method)[0]), len(shared)


@dataclass(frozen=True)
class VoteAgreement:
    """Agreement of two voters' verdicts on the same battles (the MT-Bench paper's two figures)."""

    pairs: int  # (judge vote, person vote) pairs on the same battle
    agree: int
    pairs_without_ties: int  # pairs where neither voted a tie
    agree_without_ties: int

    @property
    def with_ties(self) -> float | None:
        return self.agree / self.pairs if self.pairs else None

    @property
    def without_ties(self) -> float | None:
        return self.agree_without_ties / self.pairs_without_ties if self.pairs_without_ties else None


TIE = "tie"


def vote_agreement(pairs: Iterable[tuple[str, str]]) -> VoteAgreement:
    """Count agreement over (verdict, verdict) pairs, each the winner's name or ``"tie"``."""
    counts = [0, 0, 0, 0]
    for first, second in pairs:
        counts[0] += 1
        counts[1] += first == second
        if TIE not in (first, second):
            counts[2] += 1
            counts[3] += first == second
    return VoteAgreement(*counts)
