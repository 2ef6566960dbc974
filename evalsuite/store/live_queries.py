"""Every live-arena read and write: live battles, their turns, their votes, contestant failures — rows only.

The live arena (``evalsuite.arena.live``) decides who meets whom and when a round ends;
this module stores what happened. A live battle is a row in ``live_battle``; each side's
answer to each turn is a ``live_turn`` row (a regenerated answer stays, marked
``replaced``); the conversation a vote is about is the turns not replaced, in order.

A direct chat is a named battle with side b empty (:data:`~evalsuite.store.schema.NO_SIDE`):
its turns are stored as side a's, and it can never be claimed by a vote.

An anonymous battle's vote is also a :class:`~evalsuite.store.schema.Vote` row (human,
no prompt, no category, ``live_battle_id`` set), so it joins the same ratings, hidden-model
rules and exports as every other vote; :func:`evalsuite.store.arena_queries.vote_records`
reads its texts as FastChat's ``conversation_a``/``conversation_b`` through
:func:`conversations`. A named battle keeps its winner on its own row and never becomes a
vote. A battle is claimed once, by a conditional ``UPDATE … WHERE outcome = 'open'``, in the
same transaction as the per-voter and per-address limits (as :func:`arena_queries.record_vote`).

Voters and client addresses are stored as sha256 hashes (:func:`hashed`), never as given.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from evalsuite.errors import ArenaError
from evalsuite.store.db import Database, in_chunks
from evalsuite.store.retry import retrying
from evalsuite.store.schema import (
    LIVE_ABANDONED,
    LIVE_FAILED,
    LIVE_OPEN,
    LIVE_VOTED,
    NO_SIDE,
    ContestantFailure,
    LiveBattle,
    LiveTurn,
    Vote,
    utcnow,
)
from evalsuite.store.vote_rules import TOKEN_BYTES, check_vote_rate

OUTCOME_OF_WINNER = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "both_bad"}
WINNERS = tuple(OUTCOME_OF_WINNER)
HASH_PREFIX = "evalsuite-live:"  # so a stored hash is not the plain sha256 of an address found elsewhere


def hashed(value: str) -> str:
    """What is stored for a voter id or a client address: its sha256, hex."""
    return hashlib.sha256(f"{HASH_PREFIX}{value}".encode()).hexdigest()


@dataclass(frozen=True)
class LiveSide:
    """One side of a live battle as stored: its name, identity key and settings."""

    name: str
    model_key: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class TurnAnswer:
    """One side's finished answer to one turn."""

    side: str
    text: str
    ttft_s: float | None
    tokens: int | None
    seconds: float | None


@dataclass(frozen=True)
class LiveVote:
    """A stored live vote, names revealed; ``vote_id`` is None for a named battle (stored, never counted)."""

    battle_id: int
    vote_id: int | None
    model_a: str
    model_b: str
    winner: str
    anonymous: bool


@dataclass(frozen=True)
class Outage:
    """One contestant's failures since a time: the operator's outage list."""

    contestant: str
    failures: int
    last_at: datetime
    last_reason: str


@retrying
def start_battle(
    database: Database, side_a: LiveSide, side_b: LiveSide | None, *, anonymous: bool, voter_hash: str, address_hash: str | None,
) -> tuple[int, str]:
    """Store a new open live battle (``side_b`` None: a direct chat, named only); returns its id and unguessable token."""
    if side_b is None and anonymous:
        raise ValueError("a direct chat (one side) is never anonymous: it has nothing to vote on")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = LiveBattle(
        token=token, anonymous=anonymous, model_a=side_a.name, model_b=side_b.name if side_b else NO_SIDE,
        model_a_key=side_a.model_key, model_b_key=side_b.model_key if side_b else NO_SIDE, settings_a=side_a.settings,
        settings_b=side_b.settings if side_b else None, voter_hash=voter_hash, address_hash=address_hash,
    )
    with database.session() as session:
        session.add(row)
        session.flush()
        return int(row.id or 0), token


@retrying
def add_turn(database: Database, battle_id: int, turn: int, prompt: str, answers: Sequence[TurnAnswer]) -> None:
    """Store both sides' answers to turn ``turn`` (earlier answers to it are marked replaced: a regeneration)."""
    with database.session() as session:
        session.exec(  # type: ignore[call-overload]
            update(LiveTurn).where(col(LiveTurn.battle_id) == battle_id, col(LiveTurn.turn) == turn).values(replaced=True)
        )
        for answer in answers:
            session.add(LiveTurn(
                battle_id=battle_id, turn=turn, side=answer.side, prompt=prompt, text=answer.text, ttft_s=answer.ttft_s,
                tokens=answer.tokens, seconds=answer.seconds,
            ))
        session.exec(update(LiveBattle).where(col(LiveBattle.id) == battle_id).values(turns=turn))  # type: ignore[call-overload]


@retrying
def end_battle(database: Database, battle_id: int, outcome: str) -> bool:
    """Close an open battle as abandoned or failed; False when it was no longer open (voted, or closed before)."""
    if outcome not in (LIVE_ABANDONED, LIVE_FAILED):
        raise ValueError(f"a live battle ends as {LIVE_ABANDONED} or {LIVE_FAILED}, not {outcome!r}")
    with database.session() as session:
        claim = update(LiveBattle).where(col(LiveBattle.id) == battle_id, col(LiveBattle.outcome) == LIVE_OPEN)
        result = session.exec(claim.values(outcome=outcome, ended_at=utcnow()))  # type: ignore[call-overload]
        return bool(result.rowcount == 1)


@retrying
def record_failure(database: Database, contestant: str, model_key: str | None, battle_id: int | None, reason: str) -> None:
    """One entry in the outage list (``reason`` already masked by the caller)."""
    with database.session() as session:
        session.add(ContestantFailure(contestant=contestant, model_key=model_key, battle_id=battle_id, reason=reason))


def outages(database: Database, since: datetime) -> list[Outage]:
    """Contestants that failed since ``since``, most failures first, each with its latest reason."""
    statement = (
        select(ContestantFailure)
        .where(col(ContestantFailure.created_at) >= since)
        .order_by(col(ContestantFailure.created_at), col(ContestantFailure.id))
    )
    with database.session() as session:
        rows = session.exec(statement).all()
    counts: dict[str, int] = {}
    last: dict[str, ContestantFailure] = {}
    for row in rows:
        counts[row.contestant] = counts.get(row.contestant, 0) + 1
        last[row.contestant] = row
    listed = [Outage(name, counts[name], last[name].created_at, last[name].reason) for name in counts]
    return sorted(listed, key=lambda outage: (-outage.failures, outage.contestant))


@retrying
def record_live_vote(
    database: Database, battle_id: int, winner: str, *, voter_hash: str, address_hash: str | None,
    votes_per_minute: int = 0, votes_per_minute_per_address: int = 0, now: datetime | None = None,
) -> LiveVote:
    """Claim an open live battle with at least one turn and store its winner (and, if anonymous, its vote).

    The limits (0: none) count the voter's and the address's live and stored votes of the last
    minute, inside this transaction; over a limit the claim rolls back and the battle stays open.
    """
    if winner not in OUTCOME_OF_WINNER:
        raise ArenaError(f"unknown vote {winner!r}", hint=f"vote one of: {', '.join(WINNERS)}")
    moment = now or utcnow()
    with database.session() as session:
        claim = update(LiveBattle).where(
            col(LiveBattle.id) == battle_id, col(LiveBattle.outcome) == LIVE_OPEN, col(LiveBattle.turns) > 0,
            col(LiveBattle.voter_hash) == voter_hash, col(LiveBattle.model_b_key) != NO_SIDE,
        )
        if session.exec(claim.values(outcome=LIVE_VOTED, winner=winner, ended_at=moment)).rowcount != 1:  # type: ignore[call-overload]
            raise _rejection(session.get(LiveBattle, battle_id), voter_hash)
        battle = session.get(LiveBattle, battle_id)
        assert battle is not None  # claimed above
        if not battle.anonymous:
            return LiveVote(battle_id, None, battle.model_a, battle.model_b, winner, anonymous=False)
        if votes_per_minute > 0:
            check_vote_rate(session, col(Vote.voter), voter_hash, votes_per_minute, moment, who="one voter")
        if votes_per_minute_per_address > 0 and address_hash is not None:
            check_vote_rate(session, col(Vote.address_hash), address_hash, votes_per_minute_per_address, moment, who="one address")
        vote = Vote(
            live_battle_id=battle_id, model_a=battle.model_a, model_b=battle.model_b, model_a_key=battle.model_a_key,
            model_b_key=battle.model_b_key, outcome=OUTCOME_OF_WINNER[winner], voter=voter_hash, voter_kind="human",
            category=None, position_a="left", created_at=moment, address_hash=address_hash,
        )
        session.add(vote)
        session.flush()
        return LiveVote(battle_id, int(vote.id or 0), battle.model_a, battle.model_b, winner, anonymous=True)


def _rejection(battle: LiveBattle | None, voter_hash: str) -> ArenaError:
    if battle is None:
        return ArenaError("unknown live battle", hint="start a new round")
    if battle.voter_hash != voter_hash:
        return ArenaError("this battle belongs to another voter", hint="start a round in your own session")
    if battle.model_b_key == NO_SIDE:
        return ArenaError("a direct chat has nothing to vote on", hint="compare two models on the Side by side page")
    if battle.outcome != LIVE_OPEN:
        return ArenaError(f"this battle is over ({battle.outcome}): one vote per battle", hint="start a new round")
    return ArenaError("nothing to vote on yet: no answer is complete", hint="send a prompt and wait for both answers")


def battle(database: Database, battle_id: int) -> LiveBattle | None:
    with database.session() as session:
        return session.get(LiveBattle, battle_id)


def turns(database: Database, battle_id: int, *, with_replaced: bool = False) -> list[LiveTurn]:
    """The battle's answers in turn order, side a first; replaced ones only when asked."""
    statement = select(LiveTurn).where(LiveTurn.battle_id == battle_id)
    if not with_replaced:
        statement = statement.where(col(LiveTurn.replaced).is_(False))
    with database.session() as session:
        return list(session.exec(statement.order_by(col(LiveTurn.turn), col(LiveTurn.side), col(LiveTurn.id))).all())


Conversation = list[dict[str, str]]


def conversations(database: Database, battle_ids: Iterable[int]) -> dict[int, tuple[Conversation, Conversation]]:
    """Battle id -> both sides' conversations as FastChat writes them (user and assistant turns, not replaced)."""
    ids = sorted(set(battle_ids))
    rows: list[LiveTurn] = []
    with database.session() as session:
        for chunk in in_chunks([str(i) for i in ids]):
            statement = select(LiveTurn).where(col(LiveTurn.battle_id).in_([int(i) for i in chunk]), col(LiveTurn.replaced).is_(False))
            rows.extend(session.exec(statement.order_by(col(LiveTurn.battle_id), col(LiveTurn.turn), col(LiveTurn.id))).all())
    found: dict[int, tuple[Conversation, Conversation]] = {battle_id: ([], []) for battle_id in ids}
    for row in rows:
        conversation = found[row.battle_id][0 if row.side == "a" else 1]
        conversation.extend(({"role": "user", "content": row.prompt}, {"role": "assistant", "content": row.text}))
    return found


def live_labels(database: Database) -> list[tuple[str, str]]:
    """(model key, name) of every contestant that met someone live, for the arena's labels."""
    with database.session() as session:
        sides = [session.exec(select(key, name).distinct()).all() for key, name in (
            (LiveBattle.model_a_key, LiveBattle.model_a), (LiveBattle.model_b_key, LiveBattle.model_b),
        )]
    return [(str(key), str(name)) for rows in sides for key, name in rows if key != NO_SIDE]


def battle_counts(database: Database, since: datetime | None = None) -> dict[str, int]:
    """Live battles per outcome (since ``since``): how many were voted, abandoned, failed, still open."""
    statement = select(LiveBattle.outcome, func.count()).group_by(LiveBattle.outcome)
    if since is not None:
        statement = statement.where(col(LiveBattle.created_at) >= since)
    with database.session() as session:
        return {str(outcome): int(n) for outcome, n in session.exec(statement).all()}


def since_minutes(minutes: float, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(minutes=minutes)
