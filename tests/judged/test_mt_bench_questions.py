"""One MT-Bench question reader: the judged task and the arena get the same questions from it.

Expected values come from FastChat's own ``question.jsonl`` (``../shared/data/mt_bench/``),
read here with ``json``; the second test points the reader at another file and checks that
both users follow it, so neither can keep a lookup of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalsuite.arena.prompts import mt_bench_prompts
from evalsuite.judged import mt_bench


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _arena(prompts: list[Any]) -> list[tuple[int, str | None, str]]:
    return [(int(p.source.removeprefix("mt-bench:")), p.category, p.text) for p in prompts]


def test_the_judged_task_and_the_arena_get_the_same_questions(shared_data: Path) -> None:
    fastchat = _jsonl(shared_data / "mt_bench" / "question.jsonl")
    judged = mt_bench.load_questions()
    assert len(fastchat) == len(judged) == len(mt_bench_prompts()) == mt_bench.MTBench().available() == 80
    assert [(q.question_id, q.category, q.turns) for q in judged] == [
        (row["question_id"], row["category"], tuple(row["turns"])) for row in fastchat
    ]
    assert _arena(mt_bench_prompts()) == [(row["question_id"], row["category"], row["turns"][0].strip()) for row in fastchat]


def test_both_users_follow_the_one_reader_to_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        {"question_id": 81, "category": "writing", "turns": ["  A new first turn. ", "A new second turn."]},
        {"question_id": 119, "category": "math", "turns": ["What is 2 + 2?", "And 3 + 3?"]},  # 119 has a reference answer
    ]
    questions = tmp_path / "question.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    monkeypatch.setattr(mt_bench, "QUESTIONS_FILE", questions)
    assert mt_bench.MTBench().available() == 2
    assert [q.turns for q in mt_bench.load_questions()] == [tuple(row["turns"]) for row in rows]
    assert _arena(mt_bench_prompts()) == [(81, "writing", "A new first turn."), (119, "math", "What is 2 + 2?")]
