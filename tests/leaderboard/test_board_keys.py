"""The board's key reads exactly the fields that evalsuite.identity.numbers says belong in it."""

from __future__ import annotations

from dataclasses import fields

from evalsuite.board import keys
from evalsuite.identity import numbers
from evalsuite.store.leaderboard_queries import BoardCell


def test_every_board_field_of_the_numbers_record_has_a_place_in_the_key() -> None:
    board_fields = set(numbers.BOARD_RUN_FIELDS) | set(numbers.BOARD_IDENTITY_FIELDS)
    missing = sorted(board_fields - set(keys.KEY_PARTS))
    extra = sorted(set(keys.KEY_PARTS) - board_fields)
    assert not missing, f"numbers.py puts {missing} in the board key, but evalsuite/board/keys.py's KEY_PARTS does not place them"
    assert not extra, f"evalsuite/board/keys.py keys on {extra}, which numbers.py does not put in the board key"
    assert set(keys.KEY_PARTS.values()) <= {f.name for f in fields(keys.ComparabilityKey)}


def test_the_scoring_text_is_written_from_raw_columns_the_reader_returns() -> None:
    scoring = {name for name, part in keys.KEY_PARTS.items() if part == "scoring"}
    assert set(keys.SCORING_PARTS) == scoring
    assert scoring <= set(BoardCell._fields)  # the SQL reader returns each one as stored
    assert set(numbers.BOARD_IDENTITY_FIELDS) <= set(BoardCell._fields)
