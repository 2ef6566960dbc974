"""Battles from a FastChat battles file, stored once each as closed live battles — rows only.

An imported battle is what a live battle is after its vote: a ``live_battle`` row (outcome
voted, the winner, the anonymous flag), each side's turns as ``live_turn`` rows, and — for an
anonymous battle only — a human (or judge) :class:`~evalsuite.store.schema.Vote` row, so it
joins the ratings, the hidden-model rules and the exports as a live vote does; a named battle
(FastChat's ``anony: false``) keeps its winner on its own row and is never counted.

Importing twice stores nothing twice: the battle's token is ``import-`` and the hash of the
whole battle (``FastChatBattle.import_key``), and the token is unique. The contestants are
keyed by their names, as answers stored without model files are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from evalsuite.store.db import Database, in_chunks
from evalsuite.store.live_queries import OUTCOME_OF_WINNER
from evalsuite.store.retry import retrying
from evalsuite.store.schema import LIVE_VOTED, LiveBattle, LiveTurn, Vote

IMPORT_TOKEN_PREFIX = "import-"
Turn = tuple[str, str]  # (the user's prompt, the side's answer)


@dataclass(frozen=True)
class ImportedBattle:
    """One battle to store: who met, who won, whose vote, when, and each side's turns."""

    key: str
    model_a: str
    model_b: str
    winner: str  # FastChat's words: model_a, model_b, tie, tie (bothbad)
    voter: str
    voter_kind: str
    anonymous: bool
    voted_at: datetime
    category: str | None
    turns_a: tuple[Turn, ...]
    turns_b: tuple[Turn, ...]


@dataclass(frozen=True)
class ImportCounts:
    """What an import did: battles added (of which counted: anonymous), and those already stored."""

    added: int
    counted: int
    already_present: int


@retrying
def store_imported_battles(database: Database, battles: Sequence[ImportedBattle]) -> ImportCounts:
    """Store the battles not stored yet (by token), all in one transaction."""
    unique = {IMPORT_TOKEN_PREFIX + battle.key: battle for battle in battles}
    with database.session() as session:
        existing: set[str] = set()
        for chunk in in_chunks(list(unique)):
            existing.update(session.exec(select(LiveBattle.token).where(col(LiveBattle.token).in_(chunk))).all())
        new = [(token, battle) for token, battle in unique.items() if token not in existing]
        for token, battle in new:
            _add(session, token, battle)
    counted = sum(battle.anonymous for _, battle in new)
    return ImportCounts(added=len(new), counted=counted, already_present=len(battles) - len(new))


def _add(session: Session, token: str, battle: ImportedBattle) -> None:
    """One imported battle: a closed live battle, its turns, and (anonymous only) the vote the ratings count."""
    row = LiveBattle(
        token=token, anonymous=battle.anonymous, outcome=LIVE_VOTED, winner=battle.winner, model_a=battle.model_a,
        model_b=battle.model_b, model_a_key=battle.model_a, model_b_key=battle.model_b, voter_hash=battle.voter,
        turns=max(len(battle.turns_a), len(battle.turns_b)), created_at=battle.voted_at, ended_at=battle.voted_at,
    )
    session.add(row)
    session.flush()
    battle_id = int(row.id or 0)  # set by the flush
    for side, turns in (("a", battle.turns_a), ("b", battle.turns_b)):
        for number, (prompt, answer) in enumerate(turns, start=1):
            session.add(LiveTurn(battle_id=battle_id, turn=number, side=side, prompt=prompt, text=answer,
                                 created_at=battle.voted_at))
    if battle.anonymous:
        session.add(Vote(
            live_battle_id=battle_id, model_a=battle.model_a, model_b=battle.model_b, model_a_key=battle.model_a,
            model_b_key=battle.model_b, outcome=OUTCOME_OF_WINNER[battle.winner], voter=battle.voter,
            voter_kind=battle.voter_kind, category=battle.category, position_a="left", created_at=battle.voted_at,
        ))
