"""No command, log line or stored error shows a password or token (issue 20, item 5).

Every command that takes ``--db`` is run against a PostgreSQL URL with a password and no
server behind it (port 1 refuses at once), so each reaches its database error path; the
password must not appear in anything it prints. The stored error of a failed run and the
log records of any library go through the same masking.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.redact import mask_secrets
from evalsuite.store import queries
from evalsuite.store.db import open_database

PASSWORD = "S3cretPassw0rd"
URL = f"postgresql://alice:{PASSWORD}@127.0.0.1:1/x"
runner = CliRunner()

# Required arguments of each command, so that it gets as far as its database.
ARGUMENTS = {
    "run_id": "1", "run_a": "1", "run_b": "2", "path": ".", "output": "out", "repo": "org/repo", "model": "demo/pico-s",
    "judge_model": "demo/pico-s", "name": "demo/pico-s", "file": "battles.json",
    "contestants": "arena.yaml",
}  # fmt: skip
EXTRA = {
    ("run",): ["--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "1"], ("arena", "prompts", "add"): ["--mt-bench"],
    ("metrics", "agreement"): ["--dataset", "arena"],  # the arena's agreement reads the database (SummEval's reads files)
}
# Files a command reads before its database: written in the test's folder first.
FILES = {
    ("arena", "import"): ("battles.json", json.dumps([{
        "model_a": "a", "model_b": "b", "winner": "model_a", "judge": "arena_user_1", "anony": True, "tstamp": 1.0, "turn": 1,
        "conversation_a": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}],
        "conversation_b": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "y"}],
    }])),
    ("arena", "serve"): ("arena.yaml", (Path(__file__).resolve().parents[1] / "examples" / "arena_demo.yaml").read_text(encoding="utf-8")),
}
# Commands that do more than read or write the database before opening it (covered by their own tests).
NOT_HERE = {("leaderboard",), ("runpod", "launch"), ("results", "pull"), ("results", "import")}


def _commands_with_db(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.extend(_commands_with_db(command, (*prefix, name)))
        elif any("--db" in getattr(p, "opts", []) for p in command.params):
            found.append(((*prefix, name), command))
    return found


def _argv(path: tuple[str, ...], command: Any) -> list[str]:
    args = [*path]
    for param in command.params:
        if param.required and param.param_type_name == "argument":
            args.append(ARGUMENTS[param.name])
        elif param.required:
            args += [param.opts[0], ARGUMENTS[param.name]]
    return [*args, *EXTRA.get(path, []), "--db", URL]


COMMANDS = [(path, command) for path, command in _commands_with_db(typer.main.get_command(app)) if path not in NOT_HERE]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(path) for path, _ in COMMANDS])
def test_no_command_prints_the_database_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: tuple[str, ...], command: Any) -> None:
    monkeypatch.chdir(tmp_path)
    if path in FILES:
        name, content = FILES[path]
        (tmp_path / name).write_text(content, encoding="utf-8")
    result = runner.invoke(app, _argv(path, command))
    printed = result.stdout + result.stderr
    assert result.exit_code == 1, printed
    assert "error:" in printed and "alice:***@127.0.0.1:1" in printed, printed  # the URL is shown, masked
    assert PASSWORD not in printed


def test_the_database_url_from_the_environment_is_masked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALSUITE_DB", URL)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["results", "list"])
    assert result.exit_code == 1 and "alice:***@" in result.stderr and PASSWORD not in result.stdout + result.stderr


def test_the_leaderboard_launcher_masks_the_password(tmp_path: Path) -> None:
    """`evalsuite leaderboard` replaces its process with Streamlit, so it runs as a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "evalsuite.cli.app", "leaderboard", "--db", URL, "--port", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "alice:***@" in done.stderr and PASSWORD not in done.stdout + done.stderr


def test_a_stored_error_is_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error kept on a failed run is shown by `results show`, the board and exports: it is masked when stored."""
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnopqrstuvwxyz")
    with open_database(tmp_path / "r.db") as database:
        model = queries.get_or_create_model(database, name="m", source="s", weights_sha256="0" * 64)
        run = queries.create_run(database, model_id=model.id, backend="transformers", config={}, config_hash="h", tasks=["t"])
        queries.fail_run(database, run.id, f"cannot reach {URL} (token hf_abcdefghijklmnopqrstuvwxyz, password={PASSWORD})")
        stored = queries.get_run(database, run.id).run.error
    assert stored == "cannot reach postgresql://alice:***@127.0.0.1:1/x (token ***, password=***)"


def test_log_records_of_any_library_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    """After any command starts, a library's log line with a URL or a secret variable's value is masked."""
    runner.invoke(app, ["tasks", "--help"])  # the root callback runs before every command's help
    runner.invoke(app, ["--version"])
    result = runner.invoke(app, ["results", "list", "--db", URL])
    assert result.exit_code == 1
    with caplog.at_level(logging.WARNING, logger="sqlalchemy.pool"):
        logging.getLogger("sqlalchemy.pool").warning("reconnecting to %s", URL)
    assert caplog.records[-1].getMessage() == "reconnecting to postgresql://alice:***@127.0.0.1:1/x"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql+psycopg://alice:pw%40x@h:5432/db", "postgresql+psycopg://alice:***@h:5432/db"),
        ("host=h user=alice password=hunter22 dbname=x", "host=h user=alice password=*** dbname=x"),
        ("https://h/v1?api_key=sk-abc&x=1", "https://h/v1?api_key=***&x=1"),
        ("key sk-proj-0123456789abcdefghijKLMN used", "key *** used"),
        ("sqlite:////tmp/a b/r.db and no secret", "sqlite:////tmp/a b/r.db and no secret"),
    ],
)
def test_mask_secrets_by_form(text: str, masked: str) -> None:
    assert mask_secrets(text, env={}) == masked


def test_mask_secrets_by_value_of_secret_variables() -> None:
    env = {"RUNPOD_API_KEY": "rp-key-123456", "MY_SERVICE_TOKEN": "tok-987654", "PATH": "/usr/bin"}
    assert mask_secrets("key rp-key-123456, token tok-987654, path /usr/bin", env) == "key ***, token ***, path /usr/bin"
