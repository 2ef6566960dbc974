"""Scoring for the shipped ``pubmedqa`` task: accuracy (as lm-eval) plus macro-F1 (official)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CHOICES = ("yes", "no", "maybe")


def process_results(doc: dict, results: Sequence[tuple[float, bool]]) -> dict[str, object]:
    """Per document: the predicted answer is the choice with the highest log-likelihood.

    ``acc`` is 1.0 when it equals ``final_decision`` (lm-eval's multiple-choice ``acc``);
    ``macro_f1`` passes (gold index, predicted index) through to :func:`macro_f1`.
    """
    logliks = [loglik for loglik, _ in results]
    predicted = max(range(len(logliks)), key=logliks.__getitem__)
    gold = CHOICES.index(doc["final_decision"])
    return {"acc": 1.0 if predicted == gold else 0.0, "macro_f1": (gold, predicted)}


def macro_f1(items: Iterable[tuple[int, int]]) -> float:
    """Unweighted mean over the classes yes/no/maybe of F1 = 2·TP / (2·TP + FP + FN).

    PubMedQA's official second metric. Each class counts equally however rare ("maybe" is
    ~11% of the labels); a class with no gold and no predicted items scores 0, as in
    scikit-learn's ``f1_score(average="macro", zero_division=0)`` over the three labels.
    """
    pairs = list(items)
    scores = []
    for label in range(len(CHOICES)):
        true_pos = sum(1 for gold, pred in pairs if gold == label and pred == label)
        false_pos = sum(1 for gold, pred in pairs if gold != label and pred == label)
        false_neg = sum(1 for gold, pred in pairs if gold == label and pred != label)
        denominator = 2 * true_pos + false_pos + false_neg
        scores.append(2 * true_pos / denominator if denominator else 0.0)
    return sum(scores) / len(scores)
