"""FastChat battles files: round trips through the writer, errors naming line/item, filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from evalsuite.arena.battles import (
    Battle,
    Battles,
    filter_battles,
    read_battles,
    write_battles,
)
from evalsuite.errors import ArenaError

BATTLES = [
    Battle("gpt-x", "llama-y", "model_a", tstamp=1_700_000_000.5, category="coding",
           voter="u1", battle_id="q1"),
    Battle("llama-y", "mistral-z", "tie", tstamp=1_700_000_100.0, category="math",
           voter="u2", battle_id="q2"),
    Battle("mistral-z", "gpt-x", "tie (bothbad)", tstamp=1_700_000_200.0, category="coding",
           voter="u1", battle_id="q1"),
    Battle("gpt-x", "mistral-z", "model_b", tstamp=None, category=None, voter=None,
           battle_id=None, question_id="conv-9"),
]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_battles_round_trip_through_writer(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"battles{suffix}"
    write_battles(Battles.from_battles(BATTLES), path)
    assert list(read_battles(path)) == BATTLES
    # The written file is plain FastChat JSON that the stdlib can read back.
    text = path.read_text()
    records = json.loads(text) if suffix == ".json" else [json.loads(x) for x in text.splitlines()]
    assert records[0]["model_a"] == "gpt-x" and records[2]["winner"] == "tie (bothbad)"
    assert "tstamp" not in records[3]


def test_reader_ignores_extra_fields_and_maps_fastchat_names(tmp_path: Path) -> None:
    path = tmp_path / "clean_battle.json"
    path.write_text(json.dumps([
        {"model_a": "a", "model_b": "b", "winner": "model_b", "judge": "arena_user_1",
         "question_id": "abc", "language": "English", "turn": 1, "anony": True,
         "tstamp": 1_700_000_000},
    ], indent=2))
    (battle,) = list(read_battles(path))
    assert battle == Battle("a", "b", "model_b", tstamp=1_700_000_000.0,
                            voter="arena_user_1", question_id="abc")


def test_fastchat_votes_of_one_voter_on_one_question_with_other_pairs_all_count(tmp_path: Path) -> None:
    """FastChat's question_id is a conversation id, not a battle id: no vote may be dropped.

    Expected counts by hand: the voter cast three votes in conversation "q7" (two pairs,
    one pair voted twice in two turns, as FastChat's elo_analysis counts them all).
    """
    rows = [
        {"model_a": "a", "model_b": "b", "winner": "model_a", "judge": "arena_user_1", "question_id": "q7", "turn": 1},
        {"model_a": "a", "model_b": "c", "winner": "model_b", "judge": "arena_user_1", "question_id": "q7", "turn": 1},
        {"model_a": "a", "model_b": "b", "winner": "tie", "judge": "arena_user_1", "question_id": "q7", "turn": 2},
    ]
    path = _jsonl(tmp_path / "clean_battle.jsonl", [json.dumps(r) for r in rows])
    battles = read_battles(path)
    assert battles.battle_id is None and list(battles.question_id) == ["q7"] * 3
    kept = filter_battles(battles, one_vote_per_voter=True)
    assert len(kept) == 3 and kept.battle_counts() == {"a": 3, "b": 2, "c": 1}
    # question_id survives a round trip through the writer, still not as a battle id.
    write_battles(kept, tmp_path / "again.jsonl")
    assert [json.loads(x)["question_id"] for x in (tmp_path / "again.jsonl").read_text().splitlines()] == ["q7"] * 3
    assert read_battles(tmp_path / "again.jsonl").battle_id is None


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = '{"model_a": "a", "model_b": "b", "winner": "model_a"}'


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"model_a": "a", "model_b": "b", "winner": "draw"}', "line 3: unknown winner 'draw'"),
        ('{"model_a": "a", "model_b": "a", "winner": "tie"}', "line 3: model 'a' battles itself"),
        ('{"model_a": "a", "model_b": "b", "winner": "tie", ', "line 3: malformed JSON"),
        ('{"model_a": "a", "winner": "tie"}', "line 3: missing field 'model_b'"),
        ('{"model_a": "a", "model_b": "b", "winner": "tie", "tstamp": "noon"}',
         "line 3: tstamp must be a number"),
        ('["a", "b", "tie"]', "line 3: expected a JSON object"),
    ],
)
def test_bad_jsonl_line_raises_with_line_number(
    tmp_path: Path, bad_line: str, message: str
) -> None:
    path = _jsonl(tmp_path / "votes.jsonl", [GOOD, "", bad_line, GOOD])  # line 2 blank
    with pytest.raises(ArenaError) as error:
        read_battles(path)
    assert str(path) in error.value.message
    assert message in error.value.message


def test_bad_json_list_item_raises_with_index(tmp_path: Path) -> None:
    path = tmp_path / "votes.json"
    path.write_text(json.dumps([json.loads(GOOD), {**json.loads(GOOD), "winner": "b"}]))
    with pytest.raises(ArenaError, match=r"votes.json, item 1: unknown winner 'b'"):
        read_battles(path)


def test_malformed_json_list_names_line(tmp_path: Path) -> None:
    path = tmp_path / "votes.json"
    path.write_text("[\n" + GOOD + ",\n" + GOOD[:-1] + "\n]\n")  # object never closed
    with pytest.raises(ArenaError, match=r"votes.json, line \d+: malformed JSON"):
        read_battles(path)


@pytest.mark.parametrize("content", ["", "  \n\n", "[]"])
def test_empty_file_raises(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.json"
    path.write_text(content)
    with pytest.raises(ArenaError, match="empty|no battles"):
        read_battles(path)


def test_missing_file_raises_arena_error(tmp_path: Path) -> None:
    with pytest.raises(ArenaError, match="cannot read battles file"):
        read_battles(tmp_path / "nope.json")


def test_filters_category_dates_ties_and_compact() -> None:
    battles = Battles.from_battles(BATTLES)
    coding = filter_battles(battles, category="coding")
    assert [b.battle_id for b in coding] == ["q1", "q1"]
    recent = filter_battles(
        battles, since=datetime.fromtimestamp(1_700_000_050, tz=UTC),
        until=1_700_000_200.0,
    )
    assert [b.winner for b in recent] == ["tie"]  # no tstamp -> dropped, until exclusive
    assert recent.models == ("llama-y", "mistral-z")  # gpt-x has no battles left
    decided = filter_battles(battles, exclude_ties=True)
    assert [b.winner for b in decided] == ["model_a", "model_b"]
    with pytest.raises(ArenaError, match="no battles left"):
        filter_battles(battles, category="poetry")


def test_one_vote_per_voter_drops_only_replays_of_the_same_battle_and_pair() -> None:
    replay = Battle("gpt-x", "llama-y", "model_b", tstamp=1_700_000_300.0, category="coding",
                    voter="u1", battle_id="q1")
    battles = filter_battles(Battles.from_battles([*BATTLES, replay]), one_vote_per_voter=True)
    # BATTLES[2] shares (u1, q1) with BATTLES[0] but is another pair: a distinct vote, kept.
    # ``replay`` repeats BATTLES[0]'s voter, battle id and pair: dropped. No voter: kept.
    assert list(battles) == BATTLES


def test_category_filter_without_category_field_raises() -> None:
    battles = Battles.from_battles([Battle("a", "b", "tie")])
    with pytest.raises(ArenaError, match="no category field"):
        filter_battles(battles, category="coding")


def test_columns_are_compact_numpy_codes() -> None:
    battles = Battles.from_battles(BATTLES)
    assert battles.models == ("gpt-x", "llama-y", "mistral-z")
    assert battles.model_a.dtype == np.int32 and battles.winner.dtype == np.int8
    assert battles.battle_counts() == {"gpt-x": 3, "llama-y": 2, "mistral-z": 3}
