"""`evalsuite arena serve`: refuses a missing contestants file, serves the app on a fresh database, lands on the live page."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from served_app import REPO_ROOT, free_port, wait_healthy
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from evalsuite.cli.app import app

APP = REPO_ROOT / "leaderboard" / "app.py"


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """AppTest runs share Streamlit's process-wide caches: start and end empty."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_serve_refuses_a_missing_contestants_file_and_creates_no_database(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    result = CliRunner().invoke(app, ["arena", "serve", "--contestants", str(tmp_path / "nope.yaml"), "--db", str(db)])
    assert result.exit_code == 1
    assert f"error: no contestants file at {tmp_path / 'nope.yaml'}" in result.output and "hint: pass --contestants" in result.output
    assert "Traceback" not in result.output and not db.exists()


def test_serve_creates_the_database_and_hands_the_contestants_file_to_the_app(tmp_path: Path) -> None:
    contestants = tmp_path / "arena.yaml"
    contestants.write_text("contestants: []\n", encoding="utf-8")  # read by the pages, not by the launcher
    db, port = tmp_path / "fresh.db", free_port()
    command = [sys.executable, "-m", "evalsuite.cli.app", "arena", "serve", "--contestants", "arena.yaml", "--db", str(db),
               "--port", str(port), "--host", "127.0.0.1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("EVALSUITE_ARENA_CONTESTANTS", None)
    process = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        served_env = dict(item.split(b"=", 1) for item in Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0") if b"=" in item)
        assert served_env[b"EVALSUITE_ARENA_CONTESTANTS"] == str(contestants.resolve()).encode()  # absolute: cwd may differ
        assert served_env[b"EVALSUITE_DB"] == str(db).encode() and db.is_file()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.usefixtures("fresh_caches")
def test_the_app_lands_on_the_live_arena_only_when_serving_contestants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALSUITE_DB", str(tmp_path / "board.db"))
    monkeypatch.delenv("EVALSUITE_ARENA_CONTESTANTS", raising=False)
    from evalsuite.store.db import open_database

    open_database(tmp_path / "board.db").close()
    board = AppTest.from_file(str(APP), default_timeout=120).run()
    assert "Chatbot arena" not in [title.value for title in board.title]
    contestants = tmp_path / "arena.yaml"
    contestants.write_text("contestants: []\n", encoding="utf-8")
    monkeypatch.setenv("EVALSUITE_ARENA_CONTESTANTS", str(contestants))
    live = AppTest.from_file(str(APP), default_timeout=120).run()
    assert [title.value for title in live.title] == ["Chatbot arena"]
