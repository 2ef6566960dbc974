"""Arena prompt files: JSON lines with a prompt text and an optional category.

A prompt file has one JSON object per line::

    {"prompt": "Write a haiku about SQLite.", "category": "writing"}
    {"text": "What is 17 * 23?"}

``prompt`` and ``text`` are synonyms (``prompt`` wins when both are present);
blank lines are skipped; every other field is ignored. Mistakes raise
:class:`~evalsuite.errors.ArenaError` naming the file and the line, because a
half-loaded prompt set would silently skew which questions the arena asks.

The shipped default set is MT-Bench's 80 questions (first turn of each, with its
category), read by the judged task's reader (``evalsuite.judged.mt_bench``) from
``tasks/arena/mt_bench_questions.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalsuite.errors import ArenaError
from evalsuite.judged.mt_bench import load_questions
from evalsuite.store.arena_queries import PromptInput

MT_BENCH_SOURCE = "mt-bench"
_FILE_HINT = 'write one JSON object per line, e.g. {"prompt": "Explain TCP slow start.", "category": "stem"}'


def read_prompt_file(path: str | Path) -> list[PromptInput]:
    """Read a JSONL prompt file; every problem names the file and line."""
    path = Path(path)
    try:
        # Split at "\n" only: str.splitlines() also cuts at U+2028 and U+0085, which JSON strings may hold raw.
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ArenaError(f"cannot read prompt file {path}: {reason}", hint="pass an existing UTF-8 .jsonl file") from exc
    prompts = [
        _prompt_from_line(line, path, number)
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]
    if not prompts:
        raise ArenaError(f"{path}: the prompt file is empty", hint=_FILE_HINT)
    return prompts


def _prompt_from_line(line: str, path: Path, number: int) -> PromptInput:
    try:
        record: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ArenaError(f"{path}, line {number}: malformed JSON ({exc.msg})", hint=_FILE_HINT) from exc
    if not isinstance(record, dict):
        raise ArenaError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}", hint=_FILE_HINT)
    text = record.get("prompt", record.get("text"))
    if not isinstance(text, str) or not text.strip():
        raise ArenaError(f"{path}, line {number}: no prompt text (a non-empty 'prompt' or 'text' field)", hint=_FILE_HINT)
    category = record.get("category")
    if category is not None and not isinstance(category, str):
        raise ArenaError(f"{path}, line {number}: category must be a string, got {category!r}", hint=_FILE_HINT)
    for name, value in (("prompt text", text), ("category", category or "")):
        _check_storable(value, name, path, number)
    return PromptInput(text=text.strip(), category=category or None, source=path.name)


def _check_storable(value: str, name: str, path: Path, number: int) -> None:
    """Refuse what JSON escapes allow but no database stores: NUL (PostgreSQL) and lone surrogates (UTF-8)."""
    try:
        value.encode("utf-8")
        storable = "\x00" not in value
    except UnicodeEncodeError:
        storable = False
    if not storable:
        raise ArenaError(
            f"{path}, line {number}: the {name} holds a NUL character or an unpaired surrogate (\\u0000, \\ud800-\\udfff)",
            hint="remove those escapes from that line",
        )


def mt_bench_prompts() -> list[PromptInput]:
    """MT-Bench's 80 questions (:func:`evalsuite.judged.mt_bench.load_questions`): the first turn is the prompt, the category is kept."""
    return [
        PromptInput(text=question.turns[0].strip(), category=question.category, source=f"{MT_BENCH_SOURCE}:{question.question_id}")
        for question in load_questions()
    ]
