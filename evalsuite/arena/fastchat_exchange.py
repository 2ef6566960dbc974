"""Stored votes out to FastChat's battle format, and FastChat battles into a database.

The format itself (fields, checks, the anonymous ``judge``) is
:mod:`evalsuite.arena.fastchat_format`; this module only moves battles between it and
the store, through :func:`evalsuite.arena.voting.stored_vote_records` (the same votes,
hidden-model rule and contestant labels the ratings read).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from evalsuite.arena import voting
from evalsuite.arena.fastchat_format import FastChatBattle, from_vote_record
from evalsuite.store.battle_import_queries import ImportCounts, ImportedBattle, store_imported_battles
from evalsuite.store.db import Database

ANONYMOUS_JUDGE = "arena_user_unknown"  # a battle file without judges (none of FastChat's own lacks one)


def export_battles(database: Database, voter_kinds: Sequence[str]) -> list[FastChatBattle]:
    """Every stored vote of ``voter_kinds`` as a FastChat battle, in vote order; ArenaError saying why when none."""
    records = voting.stored_vote_records(database, voter_kinds, with_answers=True)
    return [from_vote_record(record) for record in records]


def import_battles(database: Database, battles: Sequence[FastChatBattle]) -> ImportCounts:
    """Store the battles not stored yet; FastChat's named battles (``anony: false``) are stored, never counted."""
    return store_imported_battles(database, [_imported(battle) for battle in battles])


def _imported(battle: FastChatBattle) -> ImportedBattle:
    return ImportedBattle(
        key=battle.import_key(), model_a=battle.model_a, model_b=battle.model_b, winner=battle.winner,
        voter=battle.judge or ANONYMOUS_JUDGE, voter_kind=battle.voter_kind, anonymous=battle.anony,
        voted_at=datetime.fromtimestamp(battle.tstamp, UTC), category=battle.category,
        turns_a=battle.turns("a"), turns_b=battle.turns("b"),
    )
