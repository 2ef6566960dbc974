"""Stored votes out to FastChat's battle format, and FastChat battles into a database.

The format itself (fields, checks, the anonymous ``judge``) is
:mod:`evalsuite.arena.fastchat_format`; this module only moves battles between it and
the store, through :func:`evalsuite.arena.voting.stored_vote_records` (the same votes,
hidden-model rule and contestant labels the ratings read).
"""

from __future__ import annotations

from collections.abc import Sequence

from evalsuite.arena import voting
from evalsuite.arena.fastchat_format import FastChatBattle, from_vote_record
from evalsuite.store.db import Database


def export_battles(database: Database, voter_kinds: Sequence[str]) -> list[FastChatBattle]:
    """Every stored vote of ``voter_kinds`` as a FastChat battle, in vote order; ArenaError saying why when none."""
    records = voting.stored_vote_records(database, voter_kinds, with_answers=True)
    return [from_vote_record(record) for record in records]
