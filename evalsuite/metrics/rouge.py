"""ROUGE by Google's ``rouge-score`` (the implementation lm-eval and HF ``evaluate`` wrap), with stated rules.

Every rule that changes a ROUGE number lives here, once:

* **Tokens**: rouge-score's default tokenizer (lower-case, every non-alphanumeric character a
  space) with the Porter stemmer on (``use_stemmer=True``), as ROUGE-1.5.5 is run with ``-m``.
* **ROUGE-Lsum** (summary-level LCS) needs one sentence per line. Existing newlines are kept;
  within a line, sentences are split by NLTK's Punkt algorithm with its *default* parameters
  plus the fixed abbreviation list ``ABBREVIATIONS`` below, not ``nltk.sent_tokenize``: the
  trained English Punkt model is a separate data download (absent here, and a score must not
  change with what happens to be downloaded). rouge-score's own ``split_summaries=True`` would
  call ``nltk.sent_tokenize`` and fail without that download.
* **Several references**: ``"max"`` (the task metric; rouge-score's ``score_multi``: per ROUGE
  type, the F-measure of the best-matching reference) or ``"mean"`` (the mean F-measure over all
  references: SummEval's and G-Eval's rule, used for metric-human agreement).
* **Scale**: F-measures in 0-1 per document; a task's score is their mean over documents (as
  lm-eval's ``cnn_dailymail``), not a corpus-level statistic.

``rouge_score`` is imported only when a score is computed, so ``require_rouge_score()`` can
refuse a run before its model loads when it is not importable (lm-eval's ``cnn_dailymail``
scores 0.0 instead).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from evalsuite.errors import MetricUnavailableError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
MultiReference = Literal["max", "mean"]
# Abbreviations whose period does not end a sentence (lower-case, without the final period).
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt ft gen gov sen rep col lt sgt capt cmdr rev hon "
    "u.s u.k u.n e.g i.e etc vs a.m p.m no inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def require_rouge_score() -> Any:
    """The ``rouge_score.rouge_scorer`` module, or MetricUnavailableError (never a silent 0.0)."""
    try:
        return importlib.import_module("rouge_score.rouge_scorer")
    except ImportError as exc:
        raise MetricUnavailableError(
            f"ROUGE needs the package rouge-score, which cannot be imported ({exc})",
            hint="pip install 'rouge-score>=0.1.2' (an evalsuite dependency) and run again",
        ) from exc


@lru_cache(maxsize=1)
def _scorer() -> Any:
    return require_rouge_score().RougeScorer(list(ROUGE_TYPES), use_stemmer=True, split_summaries=False)


@lru_cache(maxsize=1)
def _sentence_splitter() -> Any:
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    parameters = PunktParameters()
    parameters.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(parameters)


def sentences_per_line(text: str) -> str:
    """``text`` with one sentence per line, the form ROUGE-Lsum reads (existing line breaks kept)."""
    splitter = _sentence_splitter()
    lines = (line.strip() for line in text.strip().split("\n"))
    return "\n".join(sentence for line in lines if line for sentence in splitter.tokenize(line))


def rouge(prediction: str, references: Sequence[str], *, multi_reference: MultiReference = "max") -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F-measures (0-1) of one prediction against its references.

    With several references, ``multi_reference`` says how they combine (module docstring).
    """
    if isinstance(references, str) or not references:
        raise ValueError("references must be a non-empty sequence of strings")
    scorer = _scorer()
    hypothesis = sentences_per_line(prediction)
    per_reference = [scorer.score(sentences_per_line(reference), hypothesis) for reference in references]
    combine = max if multi_reference == "max" else _mean
    return {name: float(combine([scores[name].fmeasure for scores in per_reference])) for name in ROUGE_TYPES}


def rouge_per_document(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    multi_reference: MultiReference = "max",
) -> list[dict[str, float]]:
    """``rouge`` for each (prediction, its references) pair, in order."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    return [rouge(p, refs, multi_reference=multi_reference) for p, refs in zip(predictions, references)]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
