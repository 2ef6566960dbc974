"""Corpus-level machine-translation metrics (BLEU, chrF, TER) computed by sacrebleu.

These are lm-eval *aggregation* functions: a task's YAML lists ``metric: bleu`` (lm-eval's
pass-through per-segment metric, which yields one ``[reference, hypothesis]`` pair per
document) and points ``aggregation`` at one of the functions below, e.g.::

    metric_list:
      - metric: ter
        aggregation: !function evalsuite.metrics.translation.corpus_ter
        higher_is_better: false

Why not lm-eval's own ``bleu``/``chrf``/``ter`` aggregations: lm-eval registers TER as
``higher_is_better=True`` in one place and documents it as lower-is-better in another. Here a
metric's direction is stated once, in the task YAML's ``higher_is_better`` (lm-eval reads it,
reports it with the results, and evalsuite stores and ranks by what it reports); this module
states none, and the sacrebleu signature (tokenizer, smoothing, version) is available so a
stored score can be reproduced.

All three are corpus-level statistics: n-gram / character / edit counts are summed over all
segments before the score is formed, so a long segment weighs more than a short one (they are
not means of sentence scores). One reference per segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric

Pair = Sequence[str]  # [reference, hypothesis], as lm-eval's pass-through metrics emit them

SACREBLEU_METRICS = ("bleu", "chrf", "ter")  # the corpus metrics below, by their lm-eval names


def _metric(name: str) -> Metric:
    """A fresh sacrebleu metric object with sacrebleu's default settings."""
    factories = {"bleu": BLEU, "chrf": CHRF, "ter": TER}
    if name not in factories:
        raise KeyError(f"unknown translation metric {name!r}; expected one of {sorted(factories)}")
    return factories[name]()


def split_pairs(items: Iterable[Pair]) -> tuple[list[str], list[str]]:
    """Split lm-eval's ``[reference, hypothesis]`` items into (references, hypotheses).

    Leading/trailing whitespace is removed from both: lm-eval's WMT-style targets begin with a
    space (``" {{translation.de}}"``) and generations may end in one; neither is part of the text.
    """
    references: list[str] = []
    hypotheses: list[str] = []
    for reference, hypothesis in items:
        references.append(str(reference).strip())
        hypotheses.append(str(hypothesis).strip())
    return references, hypotheses


def _corpus_score(name: str, items: Iterable[Pair]) -> float:
    references, hypotheses = split_pairs(items)
    return float(_metric(name).corpus_score(hypotheses, [references]).score)


def corpus_bleu(items: Iterable[Pair]) -> float:
    """BLEU = BP · exp(Σₙ₌₁⁴ ¼ · log pₙ), in 0–100; higher is better.

    pₙ = clipped n-gram matches / hypothesis n-grams, both summed over the corpus (13a
    tokenisation, mixed case, exponential smoothing); BP = min(1, exp(1 − r/c)) with r, c the
    corpus reference and hypothesis lengths in tokens.
    """
    return _corpus_score("bleu", items)


def corpus_chrf(items: Iterable[Pair]) -> float:
    """chrF (β = 2, character n-grams 1–6, no word n-grams), in 0–100; higher is better.

    chrF = (1 + β²)·P·R / (β²·P + R) where P and R are character n-gram precision and recall
    averaged over n = 1..6, with the n-gram counts summed over the corpus.
    """
    return _corpus_score("chrf", items)


def corpus_ter(items: Iterable[Pair]) -> float:
    """TER = 100 · (Σ edits) / (Σ reference words); LOWER is better (0 = identical).

    Edits are insertions, deletions, substitutions and block shifts (tercom tokenisation,
    case-insensitive), summed over the corpus before dividing.
    """
    return _corpus_score("ter", items)


def sacrebleu_signature(metric: str, n_refs: int = 1) -> str:
    """The sacrebleu signature of ``metric`` ('bleu', 'chrf' or 'ter') as used above.

    E.g. ``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`` for BLEU. Store it with
    the score: BLEU numbers are only comparable under the same signature.
    """
    scorer = _metric(metric)
    # sacrebleu learns the number of references from a scored corpus; score a dummy one.
    scorer.corpus_score(["x"], [["x"] for _ in range(n_refs)])
    return str(scorer.get_signature())


def sacrebleu_signatures(n_refs: int = 1) -> dict[str, str]:
    """Signature of each metric in ``SACREBLEU_METRICS``, for the runner to store."""
    return {name: sacrebleu_signature(name, n_refs) for name in SACREBLEU_METRICS}


def sentence_scores(name: str, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
    """One score per hypothesis against its own references ('bleu' or 'chrf'), in 0–100.

    Sentence BLEU uses sacrebleu's ``effective_order`` (n-gram orders the hypothesis has no
    n-gram of are left out rather than zeroing the score); with several references sacrebleu
    pools them as the corpus scores do (BLEU: clipped counts over all references; chrF: the
    best-matching reference). Used to score single summaries (metric agreement), never a task.
    """
    if name not in ("bleu", "chrf"):
        raise KeyError(f"no sentence score for {name!r}; expected 'bleu' or 'chrf'")
    scorer = BLEU(effective_order=True) if name == "bleu" else _metric(name)
    return [float(scorer.sentence_score(h.strip(), [r.strip() for r in refs]).score) for h, refs in zip(hypotheses, references, strict=True)]
