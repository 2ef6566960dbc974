"""Reading a judge's answer as FastChat's llm_judge does: hand-worked cases of its rules."""

from __future__ import annotations

import pytest

from evalsuite.judged import mt_bench
from evalsuite.judged.prompts import combine_swapped, extract_rating, extract_verdict


@pytest.mark.parametrize(
    ("judgment", "rating"),
    [
        ("The answer is fine.\n\nRating: [[7]]", 7.0),
        ("Rating: [[8.5]]", 8.5),
        ("Rating: [[10]]", 10.0),
        ("[[3]] at first, then Rating: [[9]]", 3.0),  # the first [[n]] counts
        ("Rating: [6]", 6.0),  # no [[n]]: the first [n] is the fallback
        ("see [2] and also [[4]]", 4.0),  # [[n]] wins over an earlier [n]
        ("Rating: [[7.]]", 7.0),  # digits, a point, no decimals: still a number
        ("Rating: 7/10", None),  # no brackets: no rating
        ("Rating: [[seven]]", None),
        ("Rating: [[-3]]", None),  # FastChat's pattern has no sign
        ("Rating: [[ 5 ]]", None),  # nor spaces
        ("", None),
    ],
)
def test_rating_extraction_follows_fastchat(judgment: str, rating: float | None) -> None:
    assert extract_rating(judgment) == rating


@pytest.mark.parametrize(
    ("judgment", "verdict"),
    [
        ("Assistant A is better. [[A]]", "A"),
        ("[[B]]", "B"),
        ("Both are equal: [[C]]", "tie"),
        ("[[B]] ... on reflection [[A]]", "A"),  # FastChat looks for [[A]] first, anywhere
        ("[[C]] but really [[B]]", "B"),
        ("A is better", None),
        ("[A]", None),
    ],
)
def test_verdict_extraction_follows_fastchat(judgment: str, verdict: str | None) -> None:
    assert extract_verdict(judgment) == verdict


@pytest.mark.parametrize(
    ("first", "swapped", "outcome"),
    [
        ("A", "B", "x"),  # x shown first wins, and wins again when shown second
        ("B", "A", "y"),
        ("A", "A", "tie"),  # position preference: the orders disagree
        ("B", "B", "tie"),
        ("tie", "tie", "tie"),
        ("A", "tie", "tie"),
        ("A", None, None),  # an error in either game drops the pair
        (None, "B", None),
    ],
)
def test_position_swap_makes_inconsistent_verdicts_ties(first: str | None, swapped: str | None, outcome: str | None) -> None:
    assert combine_swapped(first, swapped) == outcome


def test_failed_extractions_are_counted_never_scored() -> None:
    """Ratings 9 and 4 in turn 1, 6 in turn 2, two answers without one: means over the three, two counted apart."""
    summary = mt_bench.summarize([(1, 9.0), (1, None), (1, 4.0), (2, 6.0), (2, None)])
    assert (summary.turn1, summary.turn2, summary.score) == (6.5, 6.0, pytest.approx(19 / 3))
    assert (summary.no_rating, summary.judgments) == (2, 5)


def test_a_turn_without_any_rating_has_no_score() -> None:
    summary = mt_bench.summarize([(1, 5.0), (2, None)])
    assert (summary.turn1, summary.turn2, summary.score, summary.no_rating) == (5.0, None, 5.0, 1)
