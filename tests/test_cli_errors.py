"""Bad input: each a one-line error with a hint, exit 1, no traceback, nothing stored as complete."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.store.db import open_database

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", *args])
    return result.exit_code, result.stderr


def _assert_clean_error(code: int, stderr: str, *fragments: str) -> None:
    assert code == 1, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "— hint:" in lines[0], stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


def _complete_runs(db: Path) -> int:
    if not db.exists():
        return 0
    return sqlite3.connect(db).execute("SELECT count(*) FROM run WHERE status = 'complete'").fetchone()[0]


def test_unknown_model_id_offline(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    code, err = _run("--model", "nobody/not-a-real-model-4242", "--tasks", "pubmedqa", "--limit", "2", "--db", str(db))
    _assert_clean_error(code, err, "nobody/not-a-real-model-4242")
    assert _complete_runs(db) == 0


def test_path_that_is_not_a_model(tmp_path: Path) -> None:
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    code, err = _run("--model", str(folder), "--tasks", "pubmedqa", "--db", str(tmp_path / "r.db"))
    _assert_clean_error(code, err, "not a model directory")


def test_unknown_task_suggests_closest(tmp_path: Path) -> None:
    code, err = _run("--model", "demo/pico-s", "--tasks", "pubmedq", "--db", str(tmp_path / "r.db"))
    _assert_clean_error(code, err, "pubmedq")
    assert "pubmedqa" in err


def test_unknown_suite(tmp_path: Path) -> None:
    code, err = _run("--model", "demo/pico-s", "--suite", "quik", "--db", str(tmp_path / "r.db"))
    _assert_clean_error(code, err, "quik")


def test_malformed_task_yaml(tmp_path: Path) -> None:
    tasks_dir = tmp_path / "my_tasks"
    tasks_dir.mkdir()
    (tasks_dir / "broken.yaml").write_text("task: my_broken_task\ndataset_path: json\n  doc_to_text: [unclosed\n")
    code, err = _run("--model", "demo/pico-s", "--tasks", "my_broken_task", "--include-path", str(tasks_dir), "--db", str(tmp_path / "r.db"))
    _assert_clean_error(code, err)
    assert "broken.yaml" in err or "my_broken_task" in err


def test_data_file_missing_required_fields(tmp_path: Path, shared_data: Path) -> None:
    data_dir = tmp_path / "data"
    arc = data_dir / "arc"
    arc.mkdir(parents=True)
    source = shared_data / "arc" / "ARC-Challenge-Test.jsonl"
    rows = [json.loads(line) for line in source.read_text().splitlines()[:5]]
    for row in rows:
        row.pop("answerKey")
    for split in ("Test", "Train", "Dev"):
        (arc / f"ARC-Challenge-{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    db = tmp_path / "r.db"
    code, err = _run("--model", "demo/pico-s", "--tasks", "arc_challenge", "--limit", "2", "--data-dir", str(data_dir), "--db", str(db))
    _assert_clean_error(code, err, "answerKey")
    assert _complete_runs(db) == 0


def test_negative_limit(tmp_path: Path) -> None:
    code, err = _run("--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "-3", "--db", str(tmp_path / "r.db"))
    _assert_clean_error(code, err, "--limit")


def test_database_path_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, err = _run("--model", "demo/pico-s", "--tasks", "pubmedqa", "--db", str(blocker / "sub" / "r.db"))
    _assert_clean_error(code, err, "cannot create the database folder")


def test_database_file_that_is_not_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    db.write_text("not a database")
    code, err = _run("--model", "demo/pico-s", "--tasks", "pubmedqa", "--db", str(db))
    _assert_clean_error(code, err, "not a SQLite database")
    assert db.read_text() == "not a database"


@pytest.mark.parametrize("command", [["results", "show", "999"], ["rescore", "999"]])
def test_unknown_run_id(tmp_path: Path, command: list[str]) -> None:
    open_database(tmp_path / "r.db").close()  # a database that exists, without that run
    result = runner.invoke(app, [*command, "--db", str(tmp_path / "r.db")])
    _assert_clean_error(result.exit_code, result.stderr, "no run with id 999")
