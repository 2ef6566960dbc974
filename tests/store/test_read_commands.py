"""Commands that only read never create a database: a --db typo is an error, not a new empty file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.errors import DatabaseError
from evalsuite.store.db import open_database

READERS = [
    ("results", "list"),
    ("results", "show", "1"),
    ("results", "export"),
    ("arena", "ratings"),
    ("arena", "export"),
    ("arena", "prompts", "list"),
    ("leaderboard",),
]


@pytest.mark.parametrize("command", READERS, ids=[" ".join(c) for c in READERS])
def test_read_command_on_a_missing_database_fails_and_creates_nothing(tmp_path: Path, command: tuple[str, ...]) -> None:
    typo = tmp_path / "no-such-folder" / "typo.db"
    result = CliRunner().invoke(app, [*command, "--db", str(typo)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: no database at {typo} — hint: check --db (or EVALSUITE_DB); `evalsuite run` creates a new database"]
    assert not typo.parent.exists()


def test_results_list_on_a_missing_database_in_an_existing_folder_leaves_no_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["results", "list", "--db", str(tmp_path / "typo.db")])
    assert result.exit_code == 1
    assert list(tmp_path.iterdir()) == []


def test_empty_file_is_not_a_database_for_readers(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(DatabaseError, match=r"the database file .*empty\.db is empty \(0 bytes\): it holds no runs yet"):
        open_database(empty, create=False)
    assert empty.stat().st_size == 0


def test_results_list_reads_an_existing_database(tmp_path: Path) -> None:
    db = tmp_path / "there.db"
    open_database(db).close()  # a writer made it
    result = CliRunner().invoke(app, ["results", "list", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "runs in" in result.output
