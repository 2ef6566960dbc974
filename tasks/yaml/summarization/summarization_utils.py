"""ROUGE for the summarization task YAMLs beside this file, by ``evalsuite.metrics.rouge`` (its rules).

Importing this module is what lm-eval does when it loads one of these tasks, before any model
loads: it refuses there when ``rouge_score`` cannot be imported (lm-eval's own ``cnn_dailymail``
prints a warning and scores every document 0.0). Several references: the best (max) F-measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalsuite.metrics.rouge import require_rouge_score, rouge

require_rouge_score()  # a task that cannot be scored is refused at load, never scored 0.0


def _first(results: Sequence[str]) -> str:
    return results[0] if results else ""


def process_results_highlights(doc: dict[str, Any], results: Sequence[str]) -> dict[str, float]:
    """CNN/DailyMail (Hub schema): one reference, the article's highlights."""
    return rouge(_first(results), [doc["highlights"]])


def process_results_summeval(doc: dict[str, Any], results: Sequence[str]) -> dict[str, float]:
    """SummEval's 100 CNN/DailyMail test articles: 11 references (highlights + 10 crowd-written), max F."""
    return rouge(_first(results), list(doc["human_summaries"]))


def process_results_xsum(doc: dict[str, Any], results: Sequence[str]) -> dict[str, float]:
    """XSum: one reference, the article's one-sentence summary."""
    return rouge(_first(results), [doc["summary"]])
