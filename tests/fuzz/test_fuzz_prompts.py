"""Fuzz the arena prompt-file reader (``read_prompt_file``) and ``evalsuite arena prompts add FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fuzz_support import (
    MAX_EXAMPLES,
    cli_fails_cleanly,
    dumps,
    encode,
    file_bytes,
    json_values,
    succeeds_or_project_error,
    text,
    trial,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalsuite.arena.prompts import read_prompt_file

# Prompt texts a person may really write: any printable unicode, including JSON-legal line
# separators (U+2028, U+0085) that Python's str.splitlines() would cut a line at.
prompt_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\u2028\u2029\x85\t"), min_size=1, max_size=40).filter(
    lambda t: t.strip() != ""
)


@st.composite
def valid_prompt(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {draw(st.sampled_from(["prompt", "text"])): draw(prompt_text)}
    if draw(st.booleans()):
        record["category"] = draw(st.sampled_from(["writing", "stem", "数学"]))
    if draw(st.booleans()):
        record["turns"] = draw(st.lists(st.text(max_size=5), max_size=2))  # ignored
    return record


BREAKERS = ("no_text", "blank_text", "text_wrong_type", "category_wrong_type", "not_object", "malformed", "unsafe_text")


@st.composite
def broken_line(draw: st.DrawFn) -> str:
    record = draw(valid_prompt())
    key = "prompt" if "prompt" in record else "text"
    breaker = draw(st.sampled_from(BREAKERS))
    if breaker == "no_text":
        del record[key]
    elif breaker == "blank_text":
        record[key] = draw(st.sampled_from(["", " ", "\n\t", "\u2028"]))
    elif breaker == "text_wrong_type":
        record[key] = draw(st.one_of(st.none(), st.booleans(), st.integers(), st.lists(st.integers(), max_size=2), st.just({"a": "b"})))
    elif breaker == "category_wrong_type":
        record["category"] = draw(st.one_of(st.booleans(), st.integers(), st.lists(text, max_size=2), st.just({})))
    elif breaker == "not_object":
        return dumps(draw(st.one_of(st.integers(), text, st.lists(st.integers(), max_size=2))))
    elif breaker == "malformed":
        line = dumps(record)
        return line[: draw(st.integers(min_value=1, max_value=len(line) - 1))]
    else:  # text no database can store: NUL (PostgreSQL) or a lone surrogate (any UTF-8 store)
        record[key] = draw(prompt_text) + draw(st.sampled_from(["\x00", "\ud800", "\udfff"]))
    return dumps(record)


def _jsonl(records: list[Any]) -> str:
    return "\n".join(dumps(r) for r in records) + "\n"


any_document = st.lists(st.one_of(valid_prompt(), json_values), max_size=5).map(_jsonl) | st.lists(broken_line(), max_size=3).map("\n".join)


@pytest.fixture(scope="module")
def prompts_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-prompts") / "prompts.jsonl"


@settings(max_examples=MAX_EXAMPLES["prompts"])
@given(data=file_bytes(any_document))
def test_any_prompt_file_is_read_or_refused_with_a_hint(prompts_path: Path, data: bytes) -> None:
    prompts_path.write_bytes(data)
    with trial("prompts"):
        outcome = succeeds_or_project_error(lambda: read_prompt_file(prompts_path))
    if isinstance(outcome, list):
        assert outcome and all(p.text.strip() == p.text and p.text for p in outcome)
        assert all("\x00" not in p.text and p.text.encode("utf-8") for p in outcome)  # storable anywhere


@settings(max_examples=MAX_EXAMPLES["prompts"] // 3)
@given(records=st.lists(valid_prompt(), min_size=1, max_size=5))
def test_valid_prompt_files_are_read_exactly(prompts_path: Path, records: list[dict[str, Any]]) -> None:
    """The control: every well-formed line comes back, text and category as written."""
    prompts_path.write_bytes(encode(_jsonl(records), "utf-8"))
    with trial("prompts"):
        prompts = read_prompt_file(prompts_path)
    assert [(p.text, p.category) for p in prompts] == [
        (r.get("prompt", r.get("text")).strip(), r.get("category")) for r in records
    ]


@settings(max_examples=MAX_EXAMPLES["prompts"] // 3)
@given(good=st.lists(valid_prompt(), max_size=3), bad=broken_line(), position=st.integers(0, 3))
def test_cli_prompts_add_refuses_a_file_with_one_broken_line(
    prompts_path: Path, tmp_path_factory: pytest.TempPathFactory, good: list[dict[str, Any]], bad: str, position: int
) -> None:
    lines = [dumps(r) for r in good]
    lines.insert(position, bad)
    prompts_path.write_bytes(encode("\n".join(lines) + "\n", "utf-8"))
    db = prompts_path.parent / "never-created.db"
    with trial("prompts"):
        output = cli_fails_cleanly(["arena", "prompts", "add", str(prompts_path), "--db", str(db)])
    assert prompts_path.name in output
    assert not db.exists()  # refused before anything is stored


# A long prompt that does not compress (PostgreSQL indexes a unique text column's compressed value).
LONG_PROMPT = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(3000))


# One database for all the examples of a run (db_url is per test): prompts accumulate, and the check is inclusion.
@settings(max_examples=MAX_EXAMPLES["prompts"] // 10, suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture])
@given(records=st.lists(valid_prompt(), min_size=1, max_size=4), long_text=st.sampled_from(["", "x" * 3000, LONG_PROMPT]))
def test_cli_prompts_add_stores_any_valid_file(prompts_path: Path, db_url: str, records: list[dict[str, Any]], long_text: str) -> None:
    """The control through the store, on SQLite and PostgreSQL: every accepted prompt is stored as read
    (any unicode; a long text too, though the prompt text is a unique column)."""
    from typer.testing import CliRunner

    from evalsuite.cli.app import app
    from evalsuite.store import arena_queries
    from evalsuite.store.db import open_database

    if long_text:
        records = [*records, {"prompt": long_text}]
    prompts_path.write_bytes(encode(_jsonl(records), "utf-8"))
    with trial("prompts"):
        result = CliRunner().invoke(app, ["arena", "prompts", "add", str(prompts_path), "--db", db_url])
    with open_database(db_url, create=False) as database:
        stored = {row.text for row in arena_queries.list_prompts(database)}
    texts = {r.get("prompt", r.get("text")).strip() for r in records}
    if long_text == LONG_PROMPT and db_url.startswith("postgresql"):  # 9 KB do not fit its unique index: refused, all of it
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code == 1 and len(errors) == 1 and "too long for PostgreSQL" in errors[0], result.output
        assert LONG_PROMPT not in stored
        return
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert texts <= stored
