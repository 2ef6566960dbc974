"""What every vote write shares, the stored arena's and the live arena's: battle tokens and the vote rate limits.

A limit is counted inside the vote's own transaction, so it holds across sessions,
processes and machines sharing the database (see :func:`check_vote_rate`).
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from evalsuite.errors import ArenaError
from evalsuite.store.schema import Vote

TOKEN_BYTES = 24  # a battle token's random bytes (secrets.token_urlsafe)
RATE_WINDOW_S = 60  # the vote rate limits count the votes of this many seconds
VOTE_LOCK_SPACE = 0x766F7465  # "vote": PostgreSQL advisory-lock namespace of the rate checks


def check_vote_rate(session: Session, column: Any, value: str, limit: int, moment: datetime, *, who: str) -> None:
    """Refuse a vote when ``column == value`` already has ``limit`` votes in the window (see :func:`_check_vote_rate`).

    ``column`` is the vote column the limit is about (the voter, or a live vote's client address).
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"{column.key}:{value}".encode()).digest()
        key = int.from_bytes(digest[:4], "big", signed=True)
        session.exec(text("SELECT pg_advisory_xact_lock(:space, :key)").bindparams(space=VOTE_LOCK_SPACE, key=key))  # type: ignore[call-overload]
    since = moment - timedelta(seconds=RATE_WINDOW_S)
    recent = select(func.count(), func.min(Vote.created_at)).where(column == value, col(Vote.created_at) > since)
    count, oldest = session.exec(recent).one()
    if int(count) < limit:
        return
    free_at = as_utc(oldest) + timedelta(seconds=RATE_WINDOW_S)
    wait = max(1, math.ceil((free_at - moment).total_seconds()))
    raise ArenaError(
        f"too many votes: at most {limit} per minute from {who}", hint=f"wait {wait} s, then vote on this battle again"
    )


def as_utc(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without a zone, so say which one."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
