"""README.md's "Running a public arena" commands, run as written (CliRunner) on a small database.

The `evalsuite admin` and `arena prompts add` lines of that section's bash block run in
order with the token exported as the README does; the server line is left out.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from admin_fixtures import REPO_ROOT, fill, sql
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.store import arena_queries, queries
from evalsuite.store.db import open_database

TOKEN = "readme-operator-token"


def readme_admin_commands() -> list[list[str]]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### Running a public arena\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [shlex.split(line.replace('"$EVALSUITE_ADMIN_TOKEN"', TOKEN), comments=True) for line in block.splitlines()]
    return [words[1:] for words in lines if words and words[0] == "evalsuite" and words[1] != "leaderboard"]


def test_readme_public_arena_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "readme.db")
    filled = fill(db)
    with open_database(db) as database:
        arena_queries.add_completion(database, 1, "demo/pico-m", "pico-m answers")  # the README hides demo/pico-m
        queries.finish_run(database, filled.run_ids["gamma"], computed=0, cached=0)  # and deletes run 3
    (tmp_path / "my_prompts.jsonl").write_text('{"prompt": "A prompt from the README"}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    commands = readme_admin_commands()
    assert [words[:2] for words in commands] == [
        ["admin", "hide-model"], ["admin", "unhide-model"], ["admin", "delete-run"], ["arena", "prompts"]
    ]
    for words in commands:
        result = CliRunner().invoke(app, [*words, "--db", db], env={"EVALSUITE_ADMIN_TOKEN": TOKEN})
        assert result.exit_code == 0, (words, result.output)
        refused = CliRunner().invoke(app, [*words[:-2], "--db", db], env={"EVALSUITE_ADMIN_TOKEN": TOKEN})
        assert refused.exit_code == 1 and "requires the admin token" in refused.output  # the same line without the token
    assert sql(db, "SELECT COUNT(*) FROM hidden_model") == [(0,)]
    assert sql(db, "SELECT COUNT(*) FROM run WHERE id = 3") == [(0,)]
    assert sql(db, "SELECT text FROM prompt ORDER BY id DESC LIMIT 1") == [("A prompt from the README",)]
