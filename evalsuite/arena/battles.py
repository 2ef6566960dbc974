"""Arena battles: one vote between two anonymous answers, stored column by column.

A *battle* is one vote: two models answered the same prompt, a person (or a judge
model) picked ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``.  Ratings need
millions of them (the public Chatbot Arena release has ~1.7M), so :class:`Battles`
keeps them as numpy columns -- model names as integer codes into a sorted name
table, the winner as a small integer code -- rather than a list of objects.
:class:`Battle` is the typed value for one row, for building and iterating.

The file format is FastChat's battles format: a JSON list, or JSON lines, of
objects with ``model_a``, ``model_b``, ``winner`` and optionally ``tstamp`` (float
epoch seconds).  ``category``, ``voter`` (alias ``judge``), ``battle_id`` and
``question_id`` are read when present, and so is what style control and the leak
filter need: FastChat's ``conv_metadata`` (per-answer token and markdown counts, see
:mod:`evalsuite.arena.markdown`) and the answer texts, as ``answer_a``/``answer_b``
(evalsuite's vote records) or FastChat's ``conversation_a``/``conversation_b``
(assistant turns joined by newlines).  Every other field is ignored.

``question_id`` is *not* a battle id.  FastChat's ``clean_battle_data.py`` sets it to the
conversation id of the left model's conversation, and one voter can cast several votes
in one conversation (vote, keep chatting, vote again; other pairs on the same question).
FastChat's ``elo_analysis.py`` counts every one of those votes and has no per-voter
de-duplication, so neither do we: ``question_id`` is kept (and written back) but never
used to drop a vote.  Only an explicit ``battle_id`` -- evalsuite's export writes the
server-issued one -- marks a replay (see :func:`first_vote_mask`).
Mistakes in a file raise :class:`~evalsuite.errors.ArenaError` naming the file and
the line (JSON lines) or item index (JSON list).
"""

from __future__ import annotations

import dataclasses
import gc
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalsuite.arena.markdown import STYLE_COUNTS, counts_from_metadata, to_metadata
from evalsuite.errors import ArenaError

try:  # orjson parses the 1.7M-battle file ~3x faster than the stdlib json module.
    import orjson as _fastjson

    _JSONDecodeError: type[Exception] = _fastjson.JSONDecodeError
except ImportError:  # pragma: no cover - exercised only where orjson is absent
    _fastjson = None  # type: ignore[assignment]
    import json as _stdjson

    _JSONDecodeError = _stdjson.JSONDecodeError

Winner = Literal["model_a", "model_b", "tie", "tie (bothbad)"]
WINNERS: tuple[Winner, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")
"""Winner values in code order: ``Battles.winner`` holds indices into this tuple."""
MODEL_A_WINS, MODEL_B_WINS, TIE, TIE_BOTHBAD = 0, 1, 2, 3

_FORMAT_HINT = (
    "each battle must be a JSON object with model_a, model_b (two different names) and "
    "winner in model_a|model_b|tie|tie (bothbad); tstamp, if given, a number"
)
_ALIASES: dict[str, tuple[str, ...]] = {
    "category": ("category",),
    "voter": ("voter", "judge"),
    "battle_id": ("battle_id",),
    "question_id": ("question_id",),
}
OPTIONAL_FIELDS = ("category", "voter", "battle_id", "question_id")


@dataclass(frozen=True)
class Battle:
    """One vote: which of two anonymous answers was better."""

    model_a: str
    model_b: str
    winner: Winner
    tstamp: float | None = None
    category: str | None = None
    voter: str | None = None
    battle_id: str | None = None
    question_id: str | None = None


@dataclass(frozen=True, eq=False)
class Battles:
    """Many battles as parallel numpy columns (row i of every column is battle i).

    Attributes:
        models: sorted model names; ``model_a``/``model_b`` are indices into it.
        model_a, model_b: int32 model codes.
        winner: int8 codes into :data:`WINNERS`.
        tstamp: float64 epoch seconds, NaN where unknown.
        category, voter, battle_id, question_id: object arrays (``None`` per missing
            value), or ``None`` when no battle carries that field at all.
        answer_a, answer_b: the answer texts (object arrays, ``None`` per unknown
            text), or ``None`` when no battle carries them; the leak filter reads them.
        style_a, style_b: float (n, 4) per-answer counts in
            :data:`~evalsuite.arena.markdown.STYLE_COUNTS` order from ``conv_metadata``
            (NaN rows where a battle has none), or ``None`` when no battle has any.
    """

    models: tuple[str, ...]
    model_a: np.ndarray
    model_b: np.ndarray
    winner: np.ndarray
    tstamp: np.ndarray
    category: np.ndarray | None = None
    voter: np.ndarray | None = None
    battle_id: np.ndarray | None = None
    question_id: np.ndarray | None = None
    answer_a: np.ndarray | None = None
    answer_b: np.ndarray | None = None
    style_a: np.ndarray | None = None
    style_b: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.winner.shape[0])

    def __iter__(self) -> Iterator[Battle]:
        for i in range(len(self)):
            yield self.battle(i)

    def battle(self, i: int) -> Battle:
        """Row ``i`` as a :class:`Battle` value."""
        ts = float(self.tstamp[i])
        return Battle(
            model_a=self.models[self.model_a[i]],
            model_b=self.models[self.model_b[i]],
            winner=WINNERS[self.winner[i]],
            tstamp=None if math.isnan(ts) else ts,
            category=None if self.category is None else self.category[i],
            voter=None if self.voter is None else self.voter[i],
            battle_id=None if self.battle_id is None else self.battle_id[i],
            question_id=None if self.question_id is None else self.question_id[i],
        )

    def take(self, rows: np.ndarray) -> Battles:
        """The battles selected by a boolean mask or an index array, same model table."""
        def pick(column: np.ndarray | None) -> np.ndarray | None:
            return None if column is None else column[rows]

        return Battles(
            models=self.models,
            model_a=self.model_a[rows],
            model_b=self.model_b[rows],
            winner=self.winner[rows],
            tstamp=self.tstamp[rows],
            category=pick(self.category),
            voter=pick(self.voter),
            battle_id=pick(self.battle_id),
            question_id=pick(self.question_id),
            answer_a=pick(self.answer_a),
            answer_b=pick(self.answer_b),
            style_a=pick(self.style_a),
            style_b=pick(self.style_b),
        )

    def compact(self) -> Battles:
        """Drop models that no longer appear in any battle (after filtering).

        Ratings are only defined for models with battles, so every filter compacts.
        """
        used = np.zeros(len(self.models), dtype=bool)
        used[self.model_a] = True
        used[self.model_b] = True
        if used.all():
            return self
        new_code = np.cumsum(used, dtype=np.int32) - 1
        return dataclasses.replace(
            self,
            models=tuple(m for m, keep in zip(self.models, used) if keep),
            model_a=new_code[self.model_a],
            model_b=new_code[self.model_b],
        )

    def vote_order(self) -> np.ndarray:
        """Row indices in the order the votes were cast.

        Stable sort by ``tstamp`` when every battle has one; otherwise the stored
        (file / database) order, which is how FastChat writes its files.
        """
        if len(self) and not np.isnan(self.tstamp).any():
            return np.argsort(self.tstamp, kind="stable")
        return np.arange(len(self))

    def battle_counts(self) -> dict[str, int]:
        """How many battles each model took part in (either side)."""
        counts = np.bincount(self.model_a, minlength=len(self.models)) + np.bincount(
            self.model_b, minlength=len(self.models)
        )
        return dict(zip(self.models, counts.tolist()))

    @classmethod
    def from_battles(cls, battles: Iterable[Battle]) -> Battles:
        """Build from :class:`Battle` values (e.g. votes read from the database)."""
        records = [
            {k: v for k, v in vars(b).items() if v is not None} for b in battles
        ]
        return battles_from_records(records, source="<Battle values>")


# ---------------------------------------------------------------- building from records


def battles_from_records(
    records: Sequence[Any],
    source: str = "<records>",
    locate: Callable[[int], str] | None = None,
) -> Battles:
    """Validate FastChat-style battle dicts and turn them into columns.

    Args:
        records: one mapping per battle (extra keys ignored).
        source: named in error messages (the file path).
        locate: turns a record index into "line 7" / "item 6" for error messages.
    """
    where = locate or (lambda i: f"item {i}")
    if len(records) == 0:
        raise ArenaError(f"{source}: contains no battles", hint=_FORMAT_HINT)
    model_a = _required_column(records, "model_a", source, where)
    model_b = _required_column(records, "model_b", source, where)
    winner = _required_column(records, "winner", source, where)
    names, codes_a, codes_b = _encode_models(model_a, model_b, source, where)
    same = np.flatnonzero(codes_a == codes_b)
    if same.size:
        i = int(same[0])
        raise ArenaError(
            f"{source}, {where(i)}: model {model_a[i]!r} battles itself (model_a == model_b)",
            hint="drop that battle; a vote needs two different models",
        )
    return Battles(
        models=names,
        model_a=codes_a,
        model_b=codes_b,
        winner=_encode_winners(winner, source, where),
        tstamp=_tstamp_column(records, source, where),
        category=_optional_column(records, "category", source, where),
        voter=_optional_column(records, "voter", source, where),
        battle_id=_optional_column(records, "battle_id", source, where, allow_int=True),
        question_id=_optional_column(records, "question_id", source, where, allow_int=True),
        **_answer_columns(records, source, where),
        **_style_columns(records, source, where),
    )


def _answer_text(record: Mapping[str, Any], side: str) -> Any:
    """``answer_<side>``, else the assistant turns of FastChat's ``conversation_<side>``."""
    text = record.get(f"answer_{side}")
    conversation = record.get(f"conversation_{side}")
    if text is None and isinstance(conversation, list):
        turns = [t.get("content") for t in conversation if isinstance(t, Mapping) and t.get("role") == "assistant"]
        text = "\n".join(t for t in turns if isinstance(t, str))
    return text


def _answer_columns(
    records: Sequence[Any], source: str, where: Callable[[int], str]
) -> dict[str, np.ndarray | None]:
    """Answer texts as object columns; both None when no record carries any text."""
    if not any("answer_a" in r or "conversation_a" in r for r in records):
        return {"answer_a": None, "answer_b": None}
    columns: dict[str, np.ndarray | None] = {}
    for side in ("a", "b"):
        values = [_answer_text(r, side) for r in records]
        if not _all_of_types(values, (str, type(None))):
            i = next(j for j, v in enumerate(values) if not isinstance(v, (str, type(None))))
            raise ArenaError(f"{source}, {where(i)}: answer_{side} must be a string, got {values[i]!r}",
                             hint=_FORMAT_HINT)
        column = np.empty(len(values), dtype=object)
        column[:] = values
        columns[f"answer_{side}"] = column
    return columns


def _style_columns(
    records: Sequence[Any], source: str, where: Callable[[int], str]
) -> dict[str, np.ndarray | None]:
    """FastChat ``conv_metadata`` counts as two (n, 4) float arrays (NaN rows where absent)."""
    if not any("conv_metadata" in r for r in records):
        return {"style_a": None, "style_b": None}
    style = {side: np.full((len(records), len(STYLE_COUNTS)), np.nan) for side in ("a", "b")}
    for i, record in enumerate(records):
        meta = record.get("conv_metadata")
        if meta is None:
            continue
        try:
            counts = {side: counts_from_metadata(meta, side) for side in ("a", "b")}
        except (AttributeError, TypeError, ValueError):
            counts = {"a": None}
        if counts["a"] is None or counts.get("b") is None:
            raise ArenaError(
                f"{source}, {where(i)}: conv_metadata needs numeric sum_assistant_a_tokens, "
                "header_count_a, list_count_a, bold_count_a and the same for _b",
                hint="give all eight style counts (a number, or a dict of numbers) or drop conv_metadata",
            )
        style["a"][i], style["b"][i] = counts["a"], counts["b"]
    return {"style_a": style["a"], "style_b": style["b"]}


def _required_column(
    records: Sequence[Any], key: str, source: str, where: Callable[[int], str]
) -> list[Any]:
    try:
        return [r[key] for r in records]
    except (KeyError, TypeError, IndexError):
        for i, r in enumerate(records):  # slow path only to name the culprit
            if not isinstance(r, Mapping):
                raise ArenaError(
                    f"{source}, {where(i)}: expected a JSON object, got {type(r).__name__}",
                    hint=_FORMAT_HINT,
                ) from None
            if key not in r:
                raise ArenaError(
                    f"{source}, {where(i)}: missing field {key!r}", hint=_FORMAT_HINT
                ) from None
        raise


_NUMBER_TYPES: tuple[type, ...] = (float, int, np.integer, np.floating, type(None))


def _all_of_types(values: Sequence[Any], allowed: tuple[type, ...]) -> bool:
    """True if every value is an instance of ``allowed`` (bools are never numbers here)."""
    kinds = set(map(type, values))  # a handful of types even for millions of values
    return all(issubclass(k, allowed) and k is not bool for k in kinds)


def _encode_models(
    model_a: list[Any], model_b: list[Any], source: str, where: Callable[[int], str]
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Integer codes over the sorted union of names (hash-based, O(n))."""
    for column in (model_a, model_b):
        if not _all_of_types(column, (str,)):
            i = next(j for j, m in enumerate(column) if not isinstance(m, str))
            raise ArenaError(
                f"{source}, {where(i)}: model names must be strings, got {column[i]!r}",
                hint=_FORMAT_HINT,
            )
    codes, uniques = pd.factorize(np.array(model_a + model_b, dtype=object), sort=True)
    if uniques[0] == "":
        i = (model_a + model_b).index("") % len(model_a)
        raise ArenaError(f"{source}, {where(i)}: empty model name", hint=_FORMAT_HINT)
    codes = codes.astype(np.int32)
    n = len(model_a)
    return tuple(uniques.tolist()), codes[:n], codes[n:]


def _encode_winners(
    winner: list[Any], source: str, where: Callable[[int], str]
) -> np.ndarray:
    if not _all_of_types(winner, (str,)):
        i = next(j for j, w in enumerate(winner) if not isinstance(w, str))
        raise ArenaError(f"{source}, {where(i)}: unknown winner {winner[i]!r}", hint=_FORMAT_HINT)
    codes, uniques = pd.factorize(np.array(winner, dtype=object))
    lookup = np.empty(len(uniques), dtype=np.int8)
    for k, value in enumerate(uniques):
        if value not in WINNERS:
            i = int(np.flatnonzero(codes == k)[0])
            raise ArenaError(
                f"{source}, {where(i)}: unknown winner {value!r}", hint=_FORMAT_HINT
            )
        lookup[k] = WINNERS.index(value)  # type: ignore[arg-type]
    return lookup[codes]


def _tstamp_column(
    records: Sequence[Any], source: str, where: Callable[[int], str]
) -> np.ndarray:
    values = [r.get("tstamp") for r in records]
    if not _all_of_types(values, _NUMBER_TYPES):
        i = next(j for j, v in enumerate(values) if not _all_of_types([v], _NUMBER_TYPES))
        raise ArenaError(
            f"{source}, {where(i)}: tstamp must be a number (epoch seconds), got {values[i]!r}",
            hint=_FORMAT_HINT,
        )
    return np.array(values, dtype=np.float64)


def _optional_column(
    records: Sequence[Any],
    field: str,
    source: str,
    where: Callable[[int], str],
    allow_int: bool = False,
) -> np.ndarray | None:
    """The field (first alias present per record) as an object array, or None if absent."""
    first, *others = _ALIASES[field]
    values = [r.get(first) for r in records]
    for alias in others:  # fill gaps from the next alias, one pass per alias
        if None in values:
            values = [r.get(alias) if v is None else v for v, r in zip(values, records)]
    allowed = (str, type(None)) + ((int, np.integer) if allow_int else ())
    if set(map(type, values)) == {type(None)}:
        return None
    if not _all_of_types(values, allowed):
        i = next(j for j, v in enumerate(values) if not _all_of_types([v], allowed))
        raise ArenaError(
            f"{source}, {where(i)}: {field} must be a string, got {values[i]!r}",
            hint=_FORMAT_HINT,
        )
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


# ---------------------------------------------------------------- files


def read_battles(path: str | Path) -> Battles:
    """Read a FastChat battles file: a JSON list or JSON lines (detected from content)."""
    records, source, locate = read_battle_records(path)
    return battles_from_records(records, source=source, locate=locate)


def read_battle_records(path: str | Path) -> tuple[list[Any], str, Callable[[int], str]]:
    """The raw records of a battles file, its name for messages, and "item 6" / "line 7" per record index.

    A JSON list or JSON lines, detected from the content; shared by :func:`read_battles`
    and the FastChat importer (:mod:`evalsuite.arena.fastchat_format`), which keep
    different fields of the same records.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArenaError(
            f"cannot read battles file {path}: {exc.strerror}",
            hint="pass an existing FastChat battles file (.json list or .jsonl)",
        ) from exc
    text = raw.lstrip()
    if not text:
        raise ArenaError(f"{path}: file is empty", hint=_FORMAT_HINT)
    # Millions of freshly parsed dicts make every cyclic-GC pass crawl them all, for
    # nothing: they hold no cycles.  Pausing the collector makes reading ~2x faster.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if text[:1] == b"[":
            return _read_json_list(raw, path), str(path), lambda i: f"item {i}"
        records, line_numbers = _read_json_lines(raw, path)
        return records, str(path), lambda i: f"line {line_numbers[i]}"
    finally:
        if gc_was_enabled:
            gc.enable()


def _loads(data: bytes) -> Any:
    if _fastjson is not None:
        return _fastjson.loads(data)
    return _stdjson.loads(data)  # pragma: no cover


def _read_json_list(raw: bytes, path: Path) -> list[Any]:
    try:
        records = _loads(raw)
    except _JSONDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise ArenaError(
            f"{path}, line {line}: malformed JSON ({getattr(exc, 'msg', exc)})",
            hint="fix the JSON syntax at that line (or write one battle per line as .jsonl)",
        ) from exc
    if not isinstance(records, list):
        raise ArenaError(f"{path}: top-level JSON must be a list of battles", hint=_FORMAT_HINT)
    return records


def _read_json_lines(raw: bytes, path: Path) -> tuple[list[Any], list[int]]:
    records: list[Any] = []
    line_numbers: list[int] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(_loads(line))
        except _JSONDecodeError as exc:
            raise ArenaError(
                f"{path}, line {number}: malformed JSON ({getattr(exc, 'msg', exc)})",
                hint="each line of a .jsonl battles file must be one complete JSON object",
            ) from exc
        line_numbers.append(number)
    return records, line_numbers


def battles_to_records(battles: Battles) -> list[dict[str, Any]]:
    """Battles as FastChat-format dicts (optional fields only where known)."""
    names = np.array(battles.models, dtype=object)
    columns: dict[str, list[Any]] = {
        "model_a": names[battles.model_a].tolist(),
        "model_b": names[battles.model_b].tolist(),
        "winner": np.array(WINNERS, dtype=object)[battles.winner].tolist(),
    }
    ts = battles.tstamp
    columns["tstamp"] = [None if math.isnan(t) else t for t in ts.tolist()]
    for field in OPTIONAL_FIELDS:
        column = getattr(battles, field)
        if column is not None:
            columns[field] = column.tolist()
    for side in ("a", "b"):
        answers = getattr(battles, f"answer_{side}")
        if answers is not None:
            columns[f"answer_{side}"] = answers.tolist()
    if battles.style_a is not None and battles.style_b is not None:
        known = ~(np.isnan(battles.style_a).any(axis=1) | np.isnan(battles.style_b).any(axis=1))
        columns["conv_metadata"] = [
            to_metadata(a, b) if ok else None for a, b, ok in zip(battles.style_a, battles.style_b, known)
        ]
    keys = list(columns)
    return [
        {k: v for k, v in zip(keys, row) if v is not None}
        for row in zip(*columns.values())
    ]


def write_battles(battles: Battles, path: str | Path) -> None:
    """Write FastChat format: JSON lines for ``*.jsonl``, else a JSON list (:func:`write_battle_records`)."""
    write_battle_records(battles_to_records(battles), path)


def write_battle_records(records: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Write battle dicts as JSON lines for ``*.jsonl``, else as a JSON list.

    The JSON list holds one battle per line, so a reader's line numbers stay
    meaningful (item i is on line i + 2).
    """
    path = Path(path)
    dumps = _fastjson.dumps if _fastjson is not None else (lambda r: _stdjson.dumps(r).encode())
    lines = [dumps(r) for r in records]
    if path.suffix == ".jsonl":
        body = b"\n".join(lines) + b"\n"
    else:
        body = b"[\n" + b",\n".join(lines) + b"\n]\n"
    try:
        path.write_bytes(body)
    except OSError as exc:
        raise ArenaError(
            f"cannot write battles file {path}: {exc.strerror}",
            hint="choose a writable output path",
        ) from exc


# ---------------------------------------------------------------- filters

TimeBound = float | datetime | None


def filter_battles(
    battles: Battles,
    *,
    category: str | None = None,
    since: TimeBound = None,
    until: TimeBound = None,
    exclude_ties: bool = False,
    one_vote_per_voter: bool = False,
) -> Battles:
    """Apply the usual leaderboard filters, then drop models left without battles.

    Args:
        category: keep battles of this category only.
        since, until: keep ``since <= tstamp < until`` (epoch seconds or datetime);
            battles without a tstamp are dropped when a bound is given.
        exclude_ties: drop ``tie`` and ``tie (bothbad)``.
        one_vote_per_voter: drop replays -- a later vote with the same voter,
            ``battle_id`` and ordered model pair as an earlier one (see
            :func:`first_vote_mask`); a no-op when the battles carry no voter or no
            ``battle_id``.
    """
    keep = np.ones(len(battles), dtype=bool)
    if category is not None:
        keep &= _category_mask(battles, category)
    keep &= _time_mask(battles, since, until)
    if exclude_ties:
        keep &= battles.winner < TIE
    if one_vote_per_voter:
        keep &= first_vote_mask(battles)
    if keep.all():
        return battles
    selected = battles.take(keep)
    if len(selected) == 0:
        raise ArenaError(
            "no battles left after filtering",
            hint="widen the category or date range filters",
        )
    return selected.compact()


def _category_mask(battles: Battles, category: str) -> np.ndarray:
    if battles.category is None:
        raise ArenaError(
            f"cannot filter on category {category!r}: the battles have no category field",
            hint="drop the category filter, or add a category field to each battle",
        )
    return battles.category == category


def _epoch(bound: TimeBound) -> float | None:
    return bound.timestamp() if isinstance(bound, datetime) else bound


def _time_mask(battles: Battles, since: TimeBound, until: TimeBound) -> np.ndarray:
    lo, hi = _epoch(since), _epoch(until)
    mask = np.ones(len(battles), dtype=bool)
    with np.errstate(invalid="ignore"):  # NaN tstamps compare False: dropped
        if lo is not None:
            mask &= battles.tstamp >= lo
        if hi is not None:
            mask &= battles.tstamp < hi
    return mask


def first_vote_mask(battles: Battles) -> np.ndarray:
    """False only for replays: a vote repeating an earlier one's voter, battle_id and model pair.

    Guards against one person voting the same battle repeatedly (reloads, scripts)
    without ever dropping a distinct vote: two votes with one ``battle_id`` but
    different model pairs are different battles and both count, and ``question_id``
    (a FastChat conversation id, see the module docstring) plays no part.  Rows
    missing the voter or the battle_id are kept.
    """
    if battles.voter is None or battles.battle_id is None:
        return np.ones(len(battles), dtype=bool)
    frame = pd.DataFrame(
        {"voter": battles.voter, "battle_id": battles.battle_id, "model_a": battles.model_a, "model_b": battles.model_b}
    )
    known = frame["voter"].notna().to_numpy() & frame["battle_id"].notna().to_numpy()
    repeated = frame.duplicated(keep="first").to_numpy()
    return ~(repeated & known)
