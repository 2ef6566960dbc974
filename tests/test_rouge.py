"""evalsuite.metrics.rouge: the stated rules (stemming, Lsum sentences, several references), by hand-counted n-grams."""

from __future__ import annotations

import pytest

from evalsuite.metrics.rouge import rouge, rouge_per_document, sentences_per_line


def _f(overlap: int, predicted: int, reference: int) -> float:
    precision, recall = overlap / predicted, overlap / reference
    return 2 * precision * recall / (precision + recall)


def test_rouge_n_and_l_match_hand_counts() -> None:
    scores = rouge("The cat sat on the mat.", ["the cat lay on the mat"])
    assert scores["rouge1"] == pytest.approx(_f(5, 6, 6))  # the x2, cat, on, mat
    assert scores["rouge2"] == pytest.approx(_f(3, 5, 5))  # the cat, on the, the mat
    assert scores["rougeL"] == pytest.approx(_f(5, 6, 6))  # LCS: the cat on the mat


def test_stemming_is_on() -> None:
    assert rouge("runners running", ["runner runs"])["rouge1"] == pytest.approx(1.0)  # runner, run after Porter


def test_lsum_reads_one_sentence_per_line() -> None:
    assert sentences_per_line("Dr. Who met Mr. Smith in the U.S. on Monday. It rained!\nNext line") == (
        "Dr. Who met Mr. Smith in the U.S. on Monday.\nIt rained!\nNext line"
    )
    # Summary-level LCS: reversed sentence order still matches each sentence whole; plain rougeL does not.
    scores = rouge("Bears eat fish. Cats like milk.", ["Cats like milk. Bears eat fish."])
    assert scores["rougeLsum"] == pytest.approx(1.0)
    assert scores["rougeL"] == pytest.approx(_f(3, 6, 6))


def test_several_references_max_and_mean() -> None:
    references = ["the cat lay on the mat", "a dog"]
    best = rouge("the cat sat on the mat", references)
    mean = rouge("the cat sat on the mat", references, multi_reference="mean")
    assert best["rouge1"] == pytest.approx(_f(5, 6, 6))
    assert mean["rouge1"] == pytest.approx((_f(5, 6, 6) + 0.0) / 2)
    assert rouge_per_document(["the cat sat on the mat"], [references]) == [best]


def test_references_must_be_a_list() -> None:
    with pytest.raises(ValueError):
        rouge("x", "x")  # a bare string would be scored character by character
