"""Two runs compared document by document: the paired statistics of `results compare` and the compare page.

Per task both runs scored (same task, doc_id, filter), every scalar per-sample metric is tested
(acc and acc_norm both, not only the first): paired bootstrap CI and p-value, and a sign-flip
permutation p-value (:mod:`evalsuite.metrics.significance`). Corpus metrics (perplexity, BLEU)
have no per-sample score; their tasks are listed as not tested rather than left out silently.
Means and differences are shown as the board shows scores (fractions x 100, two decimals).
"""

from __future__ import annotations

from dataclasses import dataclass

from evalsuite.board import rules as board
from evalsuite.metrics.significance import PairedTestResult, paired_bootstrap, paired_permutation_test
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store import queries
from evalsuite.store.db import Database

BOOTSTRAP_ROUNDS = 2000
PERMUTATION_ROUNDS = 10_000
SIGNIFICANCE = 0.05
NOT_TESTED = "no per-sample score (a corpus metric such as perplexity or BLEU): compare their stored scores"


@dataclass(frozen=True)
class PairedRow:
    """One (task, filter, metric) of two runs: the paired scores and both tests."""

    scores: lq.PairedScores
    bootstrap: PairedTestResult
    permutation: PairedTestResult

    @property
    def disagree(self) -> int:
        return sum(1 for x, y in zip(self.scores.a, self.scores.b) if x != y)

    def shown(self, value: float | None) -> str:
        """A mean or difference in the board's unit (x 100 for fractions)."""
        return board.format_number(value, board.metric_scale(self.scores.metric))


@dataclass(frozen=True)
class Comparison:
    rows: list[PairedRow]
    untested: list[tuple[str, str]]  # (task, filter) both runs scored with no per-sample score


def paired_row(database: Database, run_a: int, run_b: int, task: str, filter_name: str, metric: str, seed: int) -> PairedRow | None:
    """Both tests for one metric of one task, or None when the runs share no scored document."""
    scores = lq.paired_sample_scores(database, run_a, run_b, task, filter_name, metric)
    if not scores.a:
        return None
    boot = paired_bootstrap(scores.a, scores.b, rounds=BOOTSTRAP_ROUNDS, seed=seed)
    perm = paired_permutation_test(scores.a, scores.b, rounds=PERMUTATION_ROUNDS, seed=seed)
    return PairedRow(scores, boot, perm)


def compare_runs(database: Database, run_a: int, run_b: int, *, seed: int = 0) -> Comparison:
    """Every per-sample metric of every task both runs scored (runs must exist: else "no run with id N")."""
    for run_id in (run_a, run_b):
        queries.get_run(database, run_id)
    rows: list[PairedRow] = []
    untested: list[tuple[str, str]] = []
    for task, filter_name in lq.shared_sample_tasks(database, run_a, run_b):
        metrics = [m for m in lq.sample_metric_names(database, run_a, task, filter_name) if m != lq.CORRECT_METRIC]
        found = [row for m in metrics if (row := paired_row(database, run_a, run_b, task, filter_name, m, seed))]
        rows.extend(found)
        if not found:
            untested.append((task, filter_name))
    return Comparison(rows, untested)
