"""FastChat's battle format: evalsuite's votes out as FastChat battles, FastChat battles in.

FastChat's ``clean_battle_data.py`` writes one JSON object per vote with ``model_a``,
``model_b``, ``winner`` (``model_a`` | ``model_b`` | ``tie`` | ``tie (bothbad)``),
``judge`` (an anonymous voter id), ``conversation_a`` / ``conversation_b`` (each side's
whole conversation as OpenAI-style ``{"role", "content"}`` messages, user first),
``turn`` (user turns, ``len(conversation_a) // 2``), ``anony`` (an anonymous battle:
only those count in its leaderboard), ``language``, ``tstamp`` (epoch seconds) and
``question_id`` (the left side's conversation id, not a battle id). Its "simple" mode
drops the conversations and ``question_id``; both shapes are read here.

evalsuite adds ``category`` where a prompt has one, and ``voter_kind`` only on a model
judge's vote (FastChat's votes are all people's; a reader that does not know the field
ignores it). A person's voter id is never written: ``judge`` is
:func:`judge_id`, a hash of it, the same for every vote of that voter so that the
outlier test still sees one voter.

A pre-generated arena battle (one stored prompt, two stored answers) is a one-turn
conversation on each side. Reading keeps every field the ratings read back the same
way :func:`evalsuite.arena.battles.read_battles` does (assistant turns joined by
newlines are the answer texts the leak filter and style counts use), so a file this
module writes rates the same through ``arena ratings --battles`` as the database
it came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite.arena.battles import WINNERS, Winner, read_battle_records, write_battle_records
from evalsuite.errors import ArenaError

JUDGE_PREFIX = "arena_user_"
JUDGE_HASH_CHARS = 16  # 64 bits: no two voters of one arena share an id in practice
ROLES = ("user", "assistant")  # FastChat writes them alternating, the user first
VOTER_KINDS = ("human", "judge")
FORMAT_HINT = (
    "each battle must be a JSON object with model_a, model_b (two different names), winner in "
    "model_a|model_b|tie|tie (bothbad) and tstamp (epoch seconds); conversation_a/conversation_b, if given, "
    'lists of {"role": "user"|"assistant", "content": "..."}; anony a boolean'
)

Message = tuple[str, str]  # (role, content)


def judge_id(voter: str) -> str:
    """FastChat's anonymous ``judge``: ``arena_user_`` and a hash of the voter id.

    An id that already has the prefix (a battle imported from FastChat, or exported
    before) is kept, so export -> import -> export writes the same ``judge``.
    """
    if voter.startswith(JUDGE_PREFIX):
        return voter
    return JUDGE_PREFIX + hashlib.sha256(voter.encode("utf-8")).hexdigest()[:JUDGE_HASH_CHARS]


@dataclass(frozen=True)
class FastChatBattle:
    """One vote in FastChat's battle format (see the module docstring for each field)."""

    model_a: str
    model_b: str
    winner: Winner
    judge: str
    tstamp: float
    conversation_a: tuple[Message, ...] = ()
    conversation_b: tuple[Message, ...] = ()
    anony: bool = True
    language: str | None = None
    question_id: str | None = None
    category: str | None = None
    voter_kind: str = "human"

    @property
    def turn(self) -> int:
        """User turns, as FastChat counts them (``len(conversation_a) // 2``)."""
        return len(self.conversation_a) // 2

    def prompt(self) -> str | None:
        """The first user message (what the battle was about), or None without a conversation."""
        return next((content for role, content in self.conversation_a if role == "user"), None)

    def answer(self, side: str) -> str | None:
        """Side ``a`` or ``b``'s assistant turns joined by newlines (the leak filter's and style counts' text)."""
        conversation = self.conversation_a if side == "a" else self.conversation_b
        if not conversation:
            return None
        return "\n".join(content for role, content in conversation if role == "assistant")

    def turns(self, side: str) -> tuple[tuple[str, str], ...]:
        """Side ``a`` or ``b``'s (prompt, answer) pairs, turn by turn (a last prompt left unanswered: answer "")."""
        conversation = self.conversation_a if side == "a" else self.conversation_b
        return tuple((conversation[i][1], conversation[i + 1][1] if i + 1 < len(conversation) else "")
                     for i in range(0, len(conversation), 2))

    def to_record(self) -> dict[str, Any]:
        """The FastChat JSON object; optional fields only where known."""
        record: dict[str, Any] = {}
        if self.question_id is not None:
            record["question_id"] = self.question_id
        record |= {"model_a": self.model_a, "model_b": self.model_b, "winner": self.winner, "judge": self.judge}
        if self.conversation_a or self.conversation_b:
            record["conversation_a"] = _messages_out(self.conversation_a)
            record["conversation_b"] = _messages_out(self.conversation_b)
        record |= {"turn": self.turn, "anony": self.anony}
        if self.language is not None:
            record["language"] = self.language
        record["tstamp"] = self.tstamp
        if self.category is not None:
            record["category"] = self.category
        if self.voter_kind != "human":
            record["voter_kind"] = self.voter_kind
        return record

    def import_key(self) -> str:
        """A hash of everything the vote is, so importing the same battle twice stores it once."""
        record = self.to_record()
        record.pop("turn")  # derived
        canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _messages_out(conversation: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in conversation]


def one_turn(prompt: str, answer: str) -> tuple[Message, ...]:
    """A pre-generated battle's side: the stored prompt and that model's stored answer."""
    return (("user", prompt), ("assistant", answer))


def from_vote_record(record: Mapping[str, Any]) -> FastChatBattle:
    """A stored vote (``arena_queries.vote_records(..., with_answers=True)``) as a FastChat battle.

    A live battle's vote carries both whole conversations; a pre-generated one its prompt
    and two answers (one turn each); a vote stored without its battle has no conversation.
    Votes on the arena pages are anonymous (names shown only after the vote), and so are
    a judge's; named live battles never become votes, so they are not exported.
    """
    if "conversation_a" in record:
        side_a, side_b = _messages_in(record["conversation_a"]), _messages_in(record["conversation_b"])
    elif "prompt" in record:
        side_a, side_b = one_turn(record["prompt"], record["answer_a"]), one_turn(record["prompt"], record["answer_b"])
    else:
        side_a = side_b = ()
    prompt_id = record.get("prompt_id")
    kind = record.get("voter_kind", "human")
    return FastChatBattle(
        model_a=record["model_a"], model_b=record["model_b"], winner=record["winner"],
        judge=judge_id(record["voter"]) if kind == "human" else record["voter"], tstamp=float(record["tstamp"]),
        conversation_a=side_a, conversation_b=side_b,
        question_id=None if prompt_id is None else f"prompt-{prompt_id}",
        category=record.get("category"), voter_kind=kind,
    )


def _messages_in(conversation: Sequence[Mapping[str, str]]) -> tuple[Message, ...]:
    return tuple((message["role"], message["content"]) for message in conversation)


# ---------------------------------------------------------------- reading


def read_fastchat(path: str | Path) -> list[FastChatBattle]:
    """Every battle of a FastChat battles file (JSON list or JSON lines); ArenaError naming the item at fault."""
    records, source, locate = read_battle_records(path)
    if not records:
        raise ArenaError(f"{source}: contains no battles", hint=FORMAT_HINT)
    return [parse_record(record, f"{source}, {locate(i)}") for i, record in enumerate(records)]


def parse_record(record: Any, where: str) -> FastChatBattle:
    """One FastChat battle object, checked; ``where`` ("file, item 3") starts every error message."""
    if not isinstance(record, Mapping):
        raise ArenaError(f"{where}: expected a JSON object, got {type(record).__name__}", hint=FORMAT_HINT)
    field = _FieldReader(record, where)
    model_a, model_b = field.name("model_a"), field.name("model_b")
    if model_a == model_b:
        raise ArenaError(f"{where}: model {model_a!r} battles itself (model_a == model_b)",
                         hint="drop that battle; a vote needs two different models")
    winner = record.get("winner")
    if winner not in WINNERS:
        raise ArenaError(f"{where}: unknown winner {winner!r}", hint=FORMAT_HINT)
    voter_kind = field.optional_text("voter_kind") or "human"
    if voter_kind not in VOTER_KINDS:
        raise ArenaError(f"{where}: unknown voter_kind {voter_kind!r}", hint="use human or judge, or leave it out")
    question_id = record.get("question_id")
    return FastChatBattle(
        model_a=model_a, model_b=model_b, winner=winner,
        judge=field.optional_text("judge") or field.optional_text("voter") or "",
        tstamp=field.tstamp(),
        conversation_a=field.conversation("conversation_a"), conversation_b=field.conversation("conversation_b"),
        anony=field.flag("anony", default=True), language=field.optional_text("language"),
        question_id=None if question_id is None else str(field.id_value("question_id")),
        category=field.optional_text("category"), voter_kind=voter_kind,
    )


@dataclass(frozen=True)
class _FieldReader:
    """Typed reads of one record's fields, each error naming the record and the field."""

    record: Mapping[str, Any]
    where: str

    def _fail(self, field: str, expected: str) -> ArenaError:
        return ArenaError(f"{self.where}: {field} must be {expected}, got {self.record.get(field)!r}", hint=FORMAT_HINT)

    def name(self, field: str) -> str:
        value = self.record.get(field)
        if not isinstance(value, str) or not value:
            raise self._fail(field, "a non-empty model name")
        return value

    def optional_text(self, field: str) -> str | None:
        value = self.record.get(field)
        if value is not None and not isinstance(value, str):
            raise self._fail(field, "a string")
        return value

    def id_value(self, field: str) -> str | int:
        value = self.record.get(field)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self._fail(field, "a string or an integer")
        return value

    def tstamp(self) -> float:
        value = self.record.get("tstamp")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail("tstamp", "a number (epoch seconds)")
        return float(value)

    def flag(self, field: str, *, default: bool) -> bool:
        value = self.record.get(field, default)
        if not isinstance(value, bool):
            raise self._fail(field, "true or false")
        return value

    def conversation(self, field: str) -> tuple[Message, ...]:
        """``[{"role", "content"}, ...]``; a ``null`` content (an answer FastChat logged unfinished) reads as ""."""
        value = self.record.get(field)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._fail(field, "a list of messages")
        messages = []
        for number, message in enumerate(value):
            role = message.get("role") if isinstance(message, Mapping) else None
            content = message.get("content") if isinstance(message, Mapping) else None
            if role != ROLES[number % 2] or not isinstance(content, (str, type(None))):
                raise self._fail(field, 'a list of {"role": "user"|"assistant", "content": "..."}, user and assistant in turn')
            messages.append((str(role), content or ""))
        return tuple(messages)


# ---------------------------------------------------------------- writing


def write_fastchat(battles: Sequence[FastChatBattle], path: str | Path) -> None:
    """Write ``battles`` as a JSON list (JSON lines for ``*.jsonl``), one battle per line."""
    write_battle_records([battle.to_record() for battle in battles], path)


def fastchat_json(battles: Sequence[FastChatBattle]) -> str:
    """The JSON list as text (``arena export --format fastchat`` without ``--output``)."""
    return json.dumps([battle.to_record() for battle in battles], indent=1, ensure_ascii=False)

