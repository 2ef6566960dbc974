"""Suite scores: random-baseline normalisation (Open LLM Leaderboard v2) and averaging.

The Open LLM Leaderboard v2 rescales each multiple-choice score so that random guessing
scores 0 and a perfect model 100::

    normalized = max(0, (raw − b) / (1 − b)) · 100,   b = 1 / k  (k answer choices)

Generative tasks (IFEval, MATH) have b = 0, which reduces to ``raw · 100``. A benchmark made
of several subtasks (BBH's 24, MuSR's 3, ...) scores the unweighted mean of its normalised
subtasks; the suite score is the unweighted mean of its benchmarks. With every b = 0 the same
formula gives the v1 leaderboard average (mean of raw scores × 100).

The per-suite information (which task, metric and filter counts, its benchmark, its k) is
data in ``tasks/suites.yaml``, parsed into :class:`SuiteMetric` by ``evalsuite.tasks.loading``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SuiteMetric:
    """One score that counts towards a suite's average.

    Attributes:
        task: lm-eval task (or group) name whose result holds the metric.
        metric: metric name as lm-eval reports it (``acc``, ``acc_norm``, ``exact_match``...).
        filter: lm-eval filter name of the result (``none`` unless the task defines filters).
        benchmark: label of the benchmark this score is averaged into (defaults to ``task``).
        random_baseline: b = 1/k for k answer choices; 0 for generative tasks.
    """

    task: str
    metric: str
    filter: str = "none"
    benchmark: str = ""
    random_baseline: float = 0.0

    @property
    def key(self) -> tuple[str, str, str]:
        """(task, metric, filter): how the runner's stored results are looked up."""
        return (self.task, self.metric, self.filter)


@dataclass(frozen=True)
class SuiteScore:
    """A suite's score: per benchmark (0–100) and their mean; ``missing`` lists absent keys."""

    benchmarks: dict[str, float]
    average: float | None
    missing: tuple[tuple[str, str, str], ...]


def random_baseline(num_choices: int) -> float:
    """b = 1/k, the accuracy of uniform random guessing among ``num_choices`` answers."""
    if num_choices < 1:
        raise ValueError(f"num_choices must be >= 1, got {num_choices}")
    return 1.0 / num_choices


def normalize_to_random_baseline(raw: float, baseline: float) -> float:
    """max(0, (raw − baseline) / (1 − baseline)) · 100, with ``raw`` and ``baseline`` in [0, 1]."""
    if not 0.0 <= baseline < 1.0:
        raise ValueError(f"baseline must be in [0, 1), got {baseline}")
    return max(0.0, (raw - baseline) / (1.0 - baseline)) * 100.0


def benchmark_mean(normalised: Sequence[float], benchmark_decimals: int | None = None) -> float:
    """A benchmark's score (0–100): the unweighted mean of its normalised metrics, rounded as the
    suite says (``benchmark_decimals``; None: unrounded). The one computation behind a suite's
    score and the board's benchmark columns, so a column and the score it enters agree."""
    mean = sum(normalised) / len(normalised)
    return mean if benchmark_decimals is None else round(mean, benchmark_decimals)


def suite_score(
    metrics: Sequence[SuiteMetric],
    raw_values: Mapping[tuple[str, str, str], float],
    *,
    benchmark_decimals: int | None = None,
) -> SuiteScore:
    """Mean over benchmarks of the mean of their normalised metrics.

    ``raw_values`` maps (task, metric, filter) to the raw score in [0, 1]. A benchmark with a
    missing metric is left out and the key reported in ``missing``; ``average`` is None when
    any benchmark is incomplete, so a partial run never shows a comparable suite average.
    ``benchmark_decimals``: round each benchmark's mean to that many decimals before averaging,
    and the average too (LLM AutoEval's Nous score: ``round(mean(round(b_i, 2)), 2)``).
    """
    grouped: dict[str, list[float]] = {}
    incomplete: set[str] = set()
    missing: list[tuple[str, str, str]] = []
    for item in metrics:
        benchmark = item.benchmark or item.task
        if item.key not in raw_values:
            missing.append(item.key)
            incomplete.add(benchmark)
            continue
        normalised = normalize_to_random_baseline(raw_values[item.key], item.random_baseline)
        grouped.setdefault(benchmark, []).append(normalised)
    benchmarks = {
        name: benchmark_mean(values, benchmark_decimals) for name, values in grouped.items() if name not in incomplete
    }
    average = None
    if benchmarks and not incomplete:
        average = sum(benchmarks.values()) / len(benchmarks)
        if benchmark_decimals is not None:
            average = round(average, benchmark_decimals)
    return SuiteScore(benchmarks=benchmarks, average=average, missing=tuple(missing))
