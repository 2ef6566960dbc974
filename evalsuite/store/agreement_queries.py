"""Reads for metric agreement: every visible vote with the battle it judged (prompt and the two answers' identities).

A judge's vote and a person's vote are "on the same battle" when they judged the same
prompt's answers from the same two model identities, in either order: the judge's battles
are issued to the judge, the person's to the person, so matching is by (prompt, pair of
identities), never by battle id. Votes stored without identities fall back to the names.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from evalsuite.store.db import Database
from evalsuite.store.visibility import visible_votes


@dataclass(frozen=True)
class VoteOnPair:
    prompt_id: int | None
    model_a: str  # the identity key (or the name when none was stored) shown as A
    model_b: str
    outcome: str  # "a", "b", "tie" or "both_bad"
    voter: str
    voter_kind: str


def votes_on_pairs(database: Database) -> list[VoteOnPair]:
    """Every visible vote, people's and judges', in vote order."""
    votes = visible_votes()
    statement = select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
        col(votes.prompt_id), col(votes.model_a), col(votes.model_b), col(votes.model_a_key), col(votes.model_b_key),
        col(votes.outcome), col(votes.voter), col(votes.voter_kind),
    ).order_by(col(votes.id))
    with database.session() as session:
        rows = session.exec(statement).all()
    return [
        VoteOnPair(prompt_id, key_a or model_a, key_b or model_b, outcome, voter, kind)
        for prompt_id, model_a, model_b, key_a, key_b, outcome, voter, kind in rows
    ]
