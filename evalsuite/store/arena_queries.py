"""Every arena read and write: prompts, answers, battles and votes — rows only, no policy.

Which prompt and pair a voter sees is the arena's decision (``evalsuite.arena.voting``,
which calls :func:`store_battle`); this module only reads and writes rows, so the
store never imports the arena.

Votes are protected by the battle table. The server *issues* a battle — a stored
prompt, two different answers to it, and an unguessable token from
:func:`secrets.token_urlsafe` (:func:`store_battle`) — and the page only ever
holds the token and the two answer texts. A vote quotes the token; the models it
counts for are read from the stored battle, never from the client. A token can be
claimed once: :func:`record_vote` flips ``battle.voted`` with a single conditional
``UPDATE ... WHERE voted = 0`` before anything else, so of two concurrent votes on one
token exactly one wins, and ``vote.battle_id`` is unique as a second guard.

The same transaction enforces the per-voter rate limit the caller passes (the public page:
``EVALSUITE_VOTES_PER_MINUTE``): it counts the voter's votes of the last minute after the
claim, under a lock that makes concurrent votes of one voter count each other
(:func:`_check_vote_rate`), so the limit holds for every process sharing the database.
Models the operator hid are never drawn for a battle and their votes are left out of
:func:`vote_records`: the pairing and rating reads select from the visible answers and votes
of :mod:`evalsuite.store.visibility`, not from the tables; the rows stay.

Writing first also keeps SQLite happy under many voters: a transaction that starts
with a write waits on the busy timeout for the lock, where one that reads and then
writes can fail at once with "database is locked".

Contestants are model *identities*, not names. Every answer carries a ``model_key``
(``evalsuite.arena.contestant.answer_model_key``: a hash of the weights, tokenizer
files, config and revision), and battles and votes carry the keys of the two answers
shown. New weights saved under an old name therefore answer every prompt again, and
their votes never merge with the old model's: where two identities share a name,
ratings and reveals show ``name@<first 8 hex digits of the key>`` (:func:`contestant_labels`).
Functions that take a contestant (``issue_battle_for``, ``prompts_without_answer``)
take its key; answers stored without one (fixed test texts) are keyed by their name.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from evalsuite.errors import ArenaError
from evalsuite.store.db import Database, in_chunks
from evalsuite.store.live_queries import conversations, live_labels
from evalsuite.store.retry import retrying
from evalsuite.store.schema import VOTE_OUTCOMES, ArenaPrompt, Battle, Completion, Vote, utcnow
from evalsuite.store.visibility import visible_completions, visible_votes
from evalsuite.store.vote_rules import TOKEN_BYTES, as_utc, check_vote_rate

VOTER_KINDS = ("human", "judge")
POSITIONS = ("left", "right", "both")  # where answer "A" was shown; "both": a judge saw both orders
WINNER_OF_OUTCOME = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}
KEY_SUFFIX_CHARS = 8


@dataclass(frozen=True)
class PromptInput:
    """A prompt to add to the arena: its text, category and where it came from."""

    text: str
    category: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class PromptRow:
    id: int
    text: str
    category: str | None
    source: str | None
    answers: int = 0


@dataclass(frozen=True)
class AddedPrompts:
    """What `arena prompts add` did: new texts stored, texts already in the database, and
    repeats inside the input itself (each counted once, the first kept)."""

    added: int
    already_present: int
    duplicates_in_input: int = 0


@dataclass(frozen=True)
class PromptAnswers:
    """One prompt with every stored answer, keyed by the answering model's key.

    ``names`` maps each key to the model name it was generated under.
    """

    prompt_id: int
    text: str
    category: str | None
    answers: dict[str, str]
    names: dict[str, str]


@dataclass(frozen=True)
class IssuedBattle:
    """What the voting page may know before the vote: no model names."""

    token: str
    prompt_id: int
    prompt: str
    category: str | None
    answer_a: str
    answer_b: str


@dataclass(frozen=True)
class RecordedVote:
    """A stored vote, with the model names revealed."""

    vote_id: int
    battle_id: int
    model_a: str
    model_b: str
    outcome: str
    voter: str
    voter_kind: str
    category: str | None
    position_a: str
    created_at: datetime


# ---------------------------------------------------------------- prompts


_PG_PROGRAM_LIMIT_EXCEEDED = "54000"  # SQLSTATE of "index row requires N bytes, maximum size is 8191"


@retrying
def add_prompts(database: Database, prompts: Iterable[PromptInput]) -> AddedPrompts:
    """Insert prompts whose text is not stored yet (the text is unique); returns the counts."""
    unique: dict[str, PromptInput] = {}
    given = 0
    for prompt in prompts:
        given += 1
        unique.setdefault(prompt.text, prompt)
    texts = list(unique)
    try:
        with database.session() as session:
            existing: set[str] = set()
            for chunk in in_chunks(texts):
                existing.update(session.exec(select(ArenaPrompt.text).where(col(ArenaPrompt.text).in_(chunk))).all())
            new = [unique[text] for text in texts if text not in existing]
            session.add_all(ArenaPrompt(text=p.text, category=p.category, source=p.source) for p in new)
    except OperationalError as exc:  # PostgreSQL: a text too long for the unique index on prompt.text
        if getattr(exc.orig, "sqlstate", None) != _PG_PROGRAM_LIMIT_EXCEEDED:
            raise
        longest = max(len(text.encode("utf-8")) for text in texts)
        raise ArenaError(
            f"a prompt of {longest} bytes is too long for PostgreSQL's unique index on prompt texts; no prompt was added",
            hint="shorten the longest prompts (about 2,000 bytes fit), or keep them in a SQLite database",
        ) from exc
    return AddedPrompts(added=len(new), already_present=len(existing), duplicates_in_input=given - len(unique))


def prompt_count(database: Database) -> int:
    with database.session() as session:
        return int(session.exec(select(func.count()).select_from(ArenaPrompt)).one())


def list_prompts(database: Database, category: str | None = None) -> list[PromptRow]:
    """Stored prompts in insertion order, each with how many models answered it."""
    answers = (
        select(col(Completion.prompt_id), func.count().label("n")).group_by(col(Completion.prompt_id)).subquery()
    )
    statement = (
        select(ArenaPrompt, answers.c.n)
        .join(answers, answers.c.prompt_id == ArenaPrompt.id, isouter=True)
        .order_by(col(ArenaPrompt.id))
    )
    if category is not None:
        statement = statement.where(ArenaPrompt.category == category)
    with database.session() as session:
        return [
            PromptRow(id=int(p.id or 0), text=p.text, category=p.category, source=p.source, answers=int(n or 0))
            for p, n in session.exec(statement).all()
        ]


def prompts_without_answer(database: Database, model_key: str, limit: int | None = None) -> list[PromptRow]:
    """Prompts the model identity ``model_key`` has not answered yet, oldest first (what `arena generate` does next)."""
    answered = select(Completion.prompt_id).where(Completion.model_key == model_key)
    statement = select(ArenaPrompt).where(col(ArenaPrompt.id).not_in(answered)).order_by(col(ArenaPrompt.id))
    if limit is not None:
        statement = statement.limit(limit)
    with database.session() as session:
        return [
            PromptRow(id=int(p.id or 0), text=p.text, category=p.category, source=p.source)
            for p in session.exec(statement).all()
        ]


def prompt_categories(database: Database) -> list[str]:
    with database.session() as session:
        rows = session.exec(select(ArenaPrompt.category).where(col(ArenaPrompt.category).is_not(None)).distinct())
        return sorted(str(c) for c in rows.all())


# ---------------------------------------------------------------- answers


@retrying
def add_completion(
    database: Database,
    prompt_id: int,
    model_name: str,
    text: str,
    settings: dict[str, Any] | None = None,
    *,
    model_key: str | None = None,
) -> bool:
    """Store one answer; False (and nothing changed) if this model identity already answered the prompt.

    ``model_key`` defaults to the name, for answers that come from no model files (fixed texts).
    """
    key = model_key or model_name
    try:
        with database.session() as session:
            session.add(Completion(prompt_id=prompt_id, model_name=model_name, model_key=key, text=text, settings=settings))
    except IntegrityError:
        return False
    return True


def answered_models(database: Database) -> list[str]:
    """Contestants with at least one stored answer, by label (see :func:`contestant_labels`); hidden models left out."""
    answers = visible_completions()
    with database.session() as session:
        visible = set(session.exec(select(answers.model_key)).all())
    return sorted(label for key, label in contestant_labels(database).items() if key in visible)


def contestant_labels(database: Database) -> dict[str, str]:
    """Display label per model key: the name, or ``name@key[:8]`` where two keys share a name."""
    with database.session() as session:
        pairs = session.exec(select(Completion.model_key, Completion.model_name).distinct()).all()
    return label_keys([*((str(key), str(name)) for key, name in pairs), *live_labels(database)])


def label_keys(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{key: label}`` for (key, name) pairs; a name held by several keys gets a key suffix on each."""
    names: dict[str, str] = dict(pairs)
    keys_per_name: dict[str, int] = {}
    for name in names.values():
        keys_per_name[name] = keys_per_name.get(name, 0) + 1
    return {
        key: name if keys_per_name[name] == 1 else f"{name}@{key[:KEY_SUFFIX_CHARS]}" for key, name in names.items()
    }


def prompts_with_answers(database: Database, min_models: int = 2) -> list[PromptAnswers]:
    """Every prompt answered by at least ``min_models`` models, with the answers."""
    with database.session() as session:
        rows = session.exec(
            select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
                col(ArenaPrompt.id), col(ArenaPrompt.text), col(ArenaPrompt.category), col(Completion.model_key),
                col(Completion.model_name), col(Completion.text),
            )
            .join(Completion, col(Completion.prompt_id) == col(ArenaPrompt.id))
            .order_by(col(ArenaPrompt.id), col(Completion.model_name), col(Completion.model_key))
        ).all()
    grouped: dict[int, PromptAnswers] = {}
    for prompt_id, prompt_text, category, key, name, answer in rows:
        entry = grouped.setdefault(int(prompt_id), PromptAnswers(int(prompt_id), prompt_text, category, {}, {}))
        entry.answers[key] = answer
        entry.names[key] = name
    return [entry for entry in grouped.values() if len(entry.answers) >= min_models]


# ---------------------------------------------------------------- battles


def pair_vote_counts(database: Database, voter_kind: str | None = "human") -> dict[tuple[str, str], int]:
    """Votes per ordered pair of model keys (a vote stored without keys counts under the names);
    ``voter_kind=None`` counts every vote."""
    key_a, key_b = func.coalesce(Vote.model_a_key, Vote.model_a), func.coalesce(Vote.model_b_key, Vote.model_b)
    statement = select(key_a, key_b, func.count()).group_by(key_a, key_b)
    if voter_kind is not None:
        statement = statement.where(Vote.voter_kind == voter_kind)
    with database.session() as session:
        return {(a, b): int(n) for a, b, n in session.exec(statement).all()}


def pairable_prompt_ids(database: Database) -> list[int]:
    """Prompts with answers from at least two contestants that are not hidden, in id order."""
    answers = visible_completions()
    statement = select(col(answers.prompt_id)).group_by(col(answers.prompt_id)).having(func.count() >= 2)
    with database.session() as session:
        return sorted(int(i) for i in session.exec(statement).all())


def answers_to(database: Database, prompt_id: int, model_keys: Sequence[str] | None = None) -> dict[str, Completion]:
    """The stored answers to one prompt by model key: ``model_keys`` when given (the judge's way in, as asked),
    else every contestant the arena may draw (hidden models left out)."""
    if model_keys is not None:
        statement = select(Completion).where(Completion.prompt_id == prompt_id, col(Completion.model_key).in_(tuple(model_keys)))
    else:
        answers = visible_completions()
        statement = select(answers).where(answers.prompt_id == prompt_id)
    with database.session() as session:
        return {c.model_key: c for c in session.exec(statement).all()}


@retrying
def store_battle(database: Database, voter: str, answer_a: Completion, answer_b: Completion) -> IssuedBattle:
    """Store a battle between two stored answers under a fresh unguessable token."""
    if not voter:
        raise ArenaError("a battle needs a voter id", hint="pass the session's anonymous voter id")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with database.session() as session:
        session.add(
            Battle(
                token=token, prompt_id=answer_a.prompt_id, completion_a_id=int(answer_a.id or 0),
                completion_b_id=int(answer_b.id or 0), model_a=answer_a.model_name,
                model_b=answer_b.model_name, model_a_key=answer_a.model_key, model_b_key=answer_b.model_key, voter=voter,
            )
        )
        prompt = session.get(ArenaPrompt, answer_a.prompt_id)
    assert prompt is not None  # the completion's foreign key guarantees it
    return IssuedBattle(
        token=token, prompt_id=answer_a.prompt_id, prompt=prompt.text, category=prompt.category,
        answer_a=answer_a.text, answer_b=answer_b.text,
    )


# ---------------------------------------------------------------- votes


def _check_vote_values(token: str, outcome: str, voter: str, voter_kind: str, position_a: str) -> None:
    if not isinstance(token, str) or not token:
        raise ArenaError("a vote needs the battle token the server issued", hint="draw a new battle and vote on it")
    if outcome not in VOTE_OUTCOMES:
        raise ArenaError(f"unknown vote outcome {outcome!r}", hint=f"use one of {', '.join(VOTE_OUTCOMES)}")
    if voter_kind not in VOTER_KINDS:
        raise ArenaError(f"unknown voter kind {voter_kind!r}", hint="use human or judge")
    if position_a not in POSITIONS:
        raise ArenaError(f"unknown position {position_a!r} for answer A", hint=f"use one of {', '.join(POSITIONS)}")
    if not voter:
        raise ArenaError("a vote needs a voter id", hint="pass the session's anonymous voter id")


@retrying
def record_vote(
    database: Database, token: str, outcome: str, voter: str, *, voter_kind: str = "human", position_a: str = "left",
    votes_per_minute: int = 0, now: datetime | None = None,
) -> RecordedVote:
    """Store the verdict on an issued battle; reject unknown, foreign or already used tokens.

    ``votes_per_minute`` (0: no limit) refuses a vote when this voter already has that many
    in the last :data:`~evalsuite.store.vote_rules.RATE_WINDOW_S` seconds; the public page passes the operator's limit
    (``evalsuite.identity.run_config.votes_per_minute``), a judge or a script with database access passes
    none. ``now`` is the vote's time (injected by tests; default: the clock).
    """
    _check_vote_values(token, outcome, voter, voter_kind, position_a)
    moment = now or utcnow()
    try:
        with database.session() as session:
            claim = update(Battle).where(col(Battle.token) == token, col(Battle.voted).is_(False), col(Battle.voter) == voter)
            if session.exec(claim.values(voted=True)).rowcount != 1:  # type: ignore[attr-defined]
                raise _rejection(session, token)
            if votes_per_minute > 0:  # after the claim: SQLite's write lock is held, and PostgreSQL's per-voter lock below
                _check_vote_rate(session, voter, votes_per_minute, moment)
            battle = session.exec(select(Battle).where(Battle.token == token)).one()
            prompt = session.get(ArenaPrompt, battle.prompt_id)
            vote = Vote(
                battle_id=battle.id, prompt_id=battle.prompt_id, model_a=battle.model_a, model_b=battle.model_b,
                model_a_key=battle.model_a_key, model_b_key=battle.model_b_key, outcome=outcome, voter=voter, voter_kind=voter_kind,
                category=prompt.category if prompt is not None else None, position_a=position_a, created_at=moment,
            )
            session.add(vote)
            session.flush()
            session.refresh(vote)
    except IntegrityError as exc:  # the unique vote.battle_id: a second guard against replays
        raise ArenaError("this battle already has a vote", hint="draw a new battle") from exc
    labels = contestant_labels(database)
    return RecordedVote(
        vote_id=int(vote.id or 0), battle_id=int(battle.id or 0),
        model_a=labels.get(vote.model_a_key or "", vote.model_a), model_b=labels.get(vote.model_b_key or "", vote.model_b),
        outcome=vote.outcome, voter=vote.voter, voter_kind=vote.voter_kind, category=vote.category,
        position_a=vote.position_a, created_at=vote.created_at,
    )


def _check_vote_rate(session: Session, voter: str, limit: int, moment: datetime) -> None:
    """Refuse (ArenaError; the caller's transaction rolls back, the battle stays open) a vote over ``limit`` per window.

    Counted inside the vote's own transaction so that it holds across sessions, processes
    and machines sharing the database. Two votes of one voter must not both count the
    other as absent: SQLite has one writer at a time (the battle claim took the lock);
    PostgreSQL takes a per-voter transaction lock here, so the second waits for the first
    to commit and then counts it (READ COMMITTED reads each statement afresh).
    """
    check_vote_rate(session, col(Vote.voter), voter, limit, moment, who="one voter")


def _rejection(session: Session, token: str) -> ArenaError:
    """Why a token could not be claimed: unknown, used, or issued to another voter."""
    battle = session.exec(select(Battle).where(Battle.token == token)).first()
    if battle is None:
        return ArenaError("unknown battle token: votes count only for battles the server issued", hint="draw a new battle")
    if battle.voted:
        return ArenaError("this battle already has a vote (one vote per battle)", hint="draw a new battle")
    return ArenaError("this battle was issued to another voter", hint="draw a new battle in your own session")


def vote_count(database: Database, voter_kind: str | None = None) -> int:
    statement = select(func.count()).select_from(Vote)
    if voter_kind is not None:
        statement = statement.where(Vote.voter_kind == voter_kind)
    with database.session() as session:
        return int(session.exec(statement).one())


def vote_counts_by_kind(database: Database, *, rated_only: bool = False) -> dict[str, int]:
    """Voter kind -> stored votes; ``rated_only`` leaves out votes with a hidden model, as :func:`vote_records` does."""
    votes = visible_votes() if rated_only else Vote
    statement = select(votes.voter_kind, func.count()).group_by(votes.voter_kind)
    with database.session() as session:
        return {str(kind): int(count) for kind, count in session.exec(statement).all()}


def judged_pairs(database: Database, judge: str) -> set[tuple[int, frozenset[str]]]:
    """(prompt id, unordered pair of model keys) already judged by ``judge``, so a rerun does not judge them twice."""
    key_a, key_b = func.coalesce(Vote.model_a_key, Vote.model_a), func.coalesce(Vote.model_b_key, Vote.model_b)
    statement = select(Vote.prompt_id, key_a, key_b).where(Vote.voter == judge, Vote.voter_kind == "judge")
    with database.session() as session:
        return {(int(p or 0), frozenset((a, b))) for p, a, b in session.exec(statement).all()}


def _epoch_seconds(moment: datetime) -> float:
    return as_utc(moment).timestamp()


def _battle_answer_texts(database: Database) -> dict[int, tuple[str, str]]:
    """Battle id -> (answer A text, answer B text) of every voted battle (``Vote.model_a`` is answer A)."""
    answer_a, answer_b = aliased(Completion), aliased(Completion)
    statement = (
        select(col(Battle.id), answer_a.text, answer_b.text)
        .join(answer_a, col(answer_a.id) == col(Battle.completion_a_id))
        .join(answer_b, col(answer_b.id) == col(Battle.completion_b_id))
        .where(col(Battle.voted).is_(True))
    )
    with database.session() as session:
        return {int(battle_id or 0): (text_a, text_b) for battle_id, text_a, text_b in session.exec(statement).all()}


def selected_kinds(include_judges: bool, voter_kinds: Sequence[str] | None) -> tuple[str, ...]:
    """The voter kinds a reader asked for: ``voter_kinds`` when given, else people (and judges with ``include_judges``)."""
    return tuple(voter_kinds) if voter_kinds is not None else (VOTER_KINDS if include_judges else ("human",))


def vote_records(
    database: Database, *, include_judges: bool = False, voter_kinds: Sequence[str] | None = None,
    with_answers: bool = False,
) -> list[dict[str, Any]]:
    """Stored votes as FastChat battle dicts, in vote order, contestants by label.

    Human votes only unless ``include_judges``; ``voter_kinds`` selects kinds explicitly.
    Votes involving a hidden model (``evalsuite admin hide-model``) are left out.
    Two identities sharing a name stay two contestants (``name@key``, :func:`contestant_labels`).
    ``with_answers`` adds the two answer texts as ``answer_a``/``answer_b`` (for the arena's
    leak filter and style counts); votes without a stored battle get none.
    """
    kinds = selected_kinds(include_judges, voter_kinds)
    votes = visible_votes()  # a hidden model's votes stay stored, out of the ratings
    statement = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
            col(votes.battle_id), col(votes.model_a), col(votes.model_b), col(votes.outcome), col(votes.created_at),
            col(votes.category), col(votes.voter), col(votes.model_a_key), col(votes.model_b_key), col(votes.live_battle_id),
        )
        .where(col(votes.voter_kind).in_(kinds))
        .order_by(col(votes.id))
    )
    with database.session() as session:
        rows = session.exec(statement).all()
    labels = contestant_labels(database)
    records = []
    for battle_id, model_a, model_b, outcome, created_at, category, voter, key_a, key_b, live_id in rows:
        record: dict[str, Any] = {
            "model_a": labels.get(key_a or "", model_a), "model_b": labels.get(key_b or "", model_b),
            "winner": WINNER_OF_OUTCOME[outcome],
            "tstamp": _epoch_seconds(created_at), "voter": voter,
        }
        if battle_id is not None:
            record["battle_id"] = int(battle_id)
        if live_id is not None:
            record["live_battle_id"] = int(live_id)
        if category is not None:
            record["category"] = category
        records.append(record)
    if with_answers:
        _add_answer_texts(database, records)
    return records


def _add_answer_texts(database: Database, records: list[dict[str, Any]]) -> None:
    """The texts voted on: a stored battle's two answers, a live battle's two whole conversations (FastChat's)."""
    texts = _battle_answer_texts(database)
    live = conversations(database, (r["live_battle_id"] for r in records if "live_battle_id" in r))
    for record in records:
        if "live_battle_id" in record:
            record["conversation_a"], record["conversation_b"] = live[record["live_battle_id"]]
            continue
        pair = texts.get(record.get("battle_id", -1))
        if pair is not None:
            record["answer_a"], record["answer_b"] = pair
