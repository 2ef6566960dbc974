"""`evalsuite arena prompts add/list` through typer's CliRunner, checked against the database itself (plain SQL).

Storing and de-duplicating prompts runs on SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from arena_flow_fixtures import SMALL_PROMPTS, write_jsonl
from raw_sql import sql
from typer.testing import CliRunner

from evalsuite.cli.app import app

MT_BENCH_SOURCE = Path("/work/shared/data/mt_bench/question.jsonl")


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def _rows(db: Path | str) -> list[tuple]:
    return sql(db, "SELECT text, category, source FROM prompt ORDER BY id")


def test_prompts_add_stores_prompt_and_text_fields_with_categories(tmp_path: Path, db_url: str) -> None:
    db = db_url
    file = write_jsonl(tmp_path / "prompts.jsonl", SMALL_PROMPTS)
    result = _invoke("arena", "prompts", "add", str(file), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "added 3 prompts (0 already stored); 3 prompts in total"
    assert _rows(db) == [
        ("What is 12 plus 7?", "math", "prompts.jsonl"),
        ("Name three colours.", "writing", "prompts.jsonl"),
        ("Why is the sky blue?", None, "prompts.jsonl"),
    ]


def test_prompts_add_twice_skips_texts_already_stored(tmp_path: Path, db_url: str) -> None:
    db = db_url
    file = write_jsonl(tmp_path / "prompts.jsonl", SMALL_PROMPTS)
    _invoke("arena", "prompts", "add", str(file), "--db", str(db))
    more = write_jsonl(tmp_path / "more.jsonl", [SMALL_PROMPTS[0], {"prompt": "A new one."}])
    result = _invoke("arena", "prompts", "add", str(more), "--db", str(db))
    assert result.output.strip() == "added 1 prompts (1 already stored); 4 prompts in total"
    assert len(_rows(db)) == 4


def test_prompts_add_mt_bench_loads_the_80_first_turns_in_8_categories(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    result = _invoke("arena", "prompts", "add", "--mt-bench", "--db", str(db))
    assert result.exit_code == 0, result.output
    questions = [json.loads(line) for line in MT_BENCH_SOURCE.read_text().splitlines() if line.strip()]
    rows = _rows(db)
    assert [(text, category) for text, category, _ in rows] == [(q["turns"][0], q["category"]) for q in questions]
    assert Counter(category for _, category, _ in rows) == {c: 10 for c in {q["category"] for q in questions}}
    assert len(Counter(category for _, category, _ in rows)) == 8
    assert rows[0][2] == f"mt-bench:{questions[0]['question_id']}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the prompt file is empty"),
        ("\n  \n", "the prompt file is empty"),
        ('{"prompt": "fine"}\n{"category": "math"}\n', "line 2: no prompt text (a non-empty 'prompt' or 'text' field)"),
        ('{"prompt": "fine"}\n{"prompt": "   "}\n', "line 2: no prompt text (a non-empty 'prompt' or 'text' field)"),
        ('{"prompt": "fine"}\n\n{"prompt": "broken"\n', "line 3: malformed JSON (Expecting ',' delimiter)"),
        ('["a list"]\n', "line 1: expected a JSON object, got list"),
        ('{"prompt": "x", "category": 7}\n', "line 1: category must be a string, got 7"),
    ],
)
def test_prompts_add_rejects_bad_files_with_one_line_naming_the_line(tmp_path: Path, content: str, message: str) -> None:
    db = tmp_path / "arena.db"
    file = tmp_path / "bad.jsonl"
    file.write_text(content)
    result = _invoke("arena", "prompts", "add", str(file), "--db", str(db))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {file}"), result.output
    assert message in lines[0] and "hint:" in lines[0]
    assert not db.exists() or _rows(db) == []  # nothing half-loaded


def test_prompts_add_without_file_or_mt_bench_is_an_error(tmp_path: Path) -> None:
    result = _invoke("arena", "prompts", "add", "--db", str(tmp_path / "arena.db"))
    assert result.exit_code == 1
    assert result.output.startswith("error: no prompts given")


def test_prompts_add_missing_file_is_an_error(tmp_path: Path) -> None:
    result = _invoke("arena", "prompts", "add", str(tmp_path / "nope.jsonl"), "--db", str(tmp_path / "arena.db"))
    assert result.exit_code == 1
    assert "cannot read prompt file" in result.output


def test_prompts_list_shows_categories_and_answer_counts(voting_db: Path) -> None:
    result = CliRunner().invoke(app, ["arena", "prompts", "list", "--db", str(voting_db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "3 arena prompts" in result.output
    for line, category in zip(
        [line for line in result.output.splitlines() if "│" in line], ("math", "writing", "stem"), strict=True
    ):
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        assert cells[1] == category and cells[2] == "3"
