"""The identity-leak filter on crafted answers: what it drops, lists and leaves alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.arena.battles import battles_from_records
from evalsuite.arena.leaks import filter_leaks, own_name, read_leak_words
from evalsuite.arena.ratings import compute_ratings
from evalsuite.errors import ArenaError

ANSWERS = [
    # (model_a, answer_a, model_b, answer_b, winner, expected leaks as (model, word))
    ("demo/pico-s", "As a model trained by OpenAI, I think so.", "demo/pico-m", "Paris.", "model_a", [("demo/pico-s", "openai")]),
    ("demo/pico-m", "The napalm and palmtree facts.", "demo/pico-s", "Bombarded cities.", "model_b", []),
    ("demo/pico-m", "I am Pico-M, happy to help.", "demo/pico-s", "Sure.", "tie", [("demo/pico-m", "pico-m")]),
    ("demo/pico-s", "LLAMA says hi", "demo/pico-m", "Claude here", "model_a",
     [("demo/pico-s", "llama"), ("demo/pico-m", "claude")]),
    ("demo/pico-s", "gpt-4o-like answer", "demo/pico-m", "The answer is 4.", "model_b", [("demo/pico-s", "gpt-4o")]),
    ("demo/pico-m", "Plain answer.", "demo/pico-s", "Another plain answer.", "model_a", []),
    ("demo/pico-s", "Nothing to see.", "demo/pico-m", "Still nothing.", "model_b", []),
]


def _battles():  # type: ignore[no-untyped-def]
    return battles_from_records([
        {"model_a": a, "model_b": b, "winner": w, "answer_a": ta, "answer_b": tb, "battle_id": f"b{i}"}
        for i, (a, ta, b, tb, w, _) in enumerate(ANSWERS)
    ])


def test_leak_filter_drops_and_lists_answers_naming_a_model_or_maker() -> None:
    report = filter_leaks(_battles(), own_names=True)
    expected = [(f"b{i}", model, word) for i, row in enumerate(ANSWERS) for model, word in row[5]]
    assert [(leak.battle_id, leak.model, leak.word) for leak in report.leaks] == expected
    assert report.checked and report.excluded == 4 and len(report.kept) == 3
    assert report.kept.battle_id.tolist() == ["b1", "b5", "b6"]  # type: ignore[union-attr]
    assert report.word_counts() == {"claude": 1, "gpt-4o": 1, "llama": 1, "openai": 1, "pico-m": 1}
    # Contestants' own names count only when asked: by default "I am Pico-M" (b2) stays.
    assert [leak.battle_id for leak in filter_leaks(_battles()).leaks] == ["b0", "b3", "b3", "b4"]
    # The ratings then see exactly the kept battles.
    kept_records = [r for r in ANSWERS if not r[5]]
    by_hand = battles_from_records([{"model_a": a, "model_b": b, "winner": w} for a, _, b, _, w, _ in kept_records])
    assert compute_ratings(report.kept, bootstrap_rounds=0).to_json_rows() == \
        compute_ratings(by_hand, bootstrap_rounds=0).to_json_rows()


def test_custom_word_list_and_own_names_switch(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# makers we care about\nNapalm  # a word with a comment\n\nplain answer\n")
    assert read_leak_words(words) == ("napalm", "plain answer")
    report = filter_leaks(_battles(), read_leak_words(words))
    assert [(leak.battle_id, leak.word) for leak in report.leaks] == [
        ("b1", "napalm"), ("b5", "plain answer"), ("b5", "plain answer"),  # both answers of b5 leak
    ]
    with_names = filter_leaks(_battles(), read_leak_words(words), own_names=True)
    assert [leak.battle_id for leak in with_names.leaks] == ["b1", "b2", "b5", "b5"]
    assert own_name("meta-llama/Llama-3-8B@abcdef12") == "llama-3-8b"


def test_leak_filter_without_texts_reports_unchecked_and_bad_lists_raise(tmp_path: Path) -> None:
    bare = battles_from_records([{"model_a": "x", "model_b": "y", "winner": "model_a"}])
    report = filter_leaks(bare)
    assert not report.checked and report.excluded == 0 and report.kept is bare
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(ArenaError, match="has no words"):
        read_leak_words(empty)
    with pytest.raises(ArenaError, match="cannot read leak word list"):
        read_leak_words(tmp_path / "missing.txt")
    everything = battles_from_records([{"model_a": "x", "model_b": "y", "winner": "tie", "answer_a": "I am y", "answer_b": "?"}])
    with pytest.raises(ArenaError, match="every one of the 1 battles"):
        filter_leaks(everything, own_names=True)
