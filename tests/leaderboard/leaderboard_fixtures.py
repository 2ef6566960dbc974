"""Constants and helpers shared by the leaderboard tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from evalsuite.store import queries
from evalsuite.store.db import open_database
from evalsuite.store.schema import MetricRecord, SampleRecord

REPO_ROOT = Path(__file__).resolve().parents[2]
LEADERBOARD_DIR = REPO_ROOT / "leaderboard"
APP = LEADERBOARD_DIR / "app.py"
DEMO_MODELS = ("demo/pico-s", "demo/pico-m")
DEMO_TASK = "pubmedqa"
DEMO_LIMIT = 20
MIXED_TASKS = ("perplexity", "wmt22_en_de", "arc_easy_200")  # with the demo's pubmedqa: the quick suite's tasks
MIXED_LIMIT = 2
UNSAFE_TEXT = "<script>alert(1)</script> ![x](http://example.invalid/x.png)"
UNSAFE_MODEL = "evil<script>alert(1)</script>![x](http://example.invalid/m.png)"


@dataclass(frozen=True)
class DemoDatabase:
    path: Path
    run_ids: dict[str, int]  # model name -> run id


def evalsuite_run(model: str, db: Path, *args: str) -> None:
    """A real `evalsuite run` in a subprocess (default: the demo task, limited); ``args`` replace the task options."""
    options = list(args) or ["--tasks", DEMO_TASK, "--limit", str(DEMO_LIMIT)]
    command = [
        sys.executable, "-m", "evalsuite.cli.app", "run", "--model", model, *options,
        "--db", str(db), "--device", "cpu", "--seed", "0",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise AssertionError(f"evalsuite run {model} {options} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def fill_unsafe(path: Path) -> int:
    """Add a complete run whose model name and every sample carry HTML/Markdown; returns its id."""
    with open_database(path) as database:
        model = queries.get_or_create_model(database, name=UNSAFE_MODEL, source="test", weights_sha256="0" * 64)
        run = queries.create_run(
            database, model_id=model.id, backend="transformers", config={"model": UNSAFE_TEXT}, config_hash="unsafe",
            tasks=["unsafe_task"], suite=None,
        )
        run_id = int(run.id or 0)
        metric = MetricRecord(run_id=run_id, task="unsafe_task", metric="acc", value=0.5, stderr=0.1, higher_is_better=True)
        samples = [
            SampleRecord(
                run_id=run_id, task="unsafe_task", doc_id=doc, prompt=f"{doc}: {UNSAFE_TEXT}", target=UNSAFE_TEXT,
                responses=[UNSAFE_TEXT], metrics={"acc": float(doc % 2)}, correct=bool(doc % 2),
            )
            for doc in range(4)
        ]
        queries.save_task_results(database, run_id, ["unsafe_task"], [metric], samples)
        queries.finish_run(database, run_id, computed=4, cached=0)
    return run_id


def run_app(db: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, **params: str) -> AppTest:
    """The leaderboard app under AppTest on ``db``, optionally on ``page`` with query parameters."""
    monkeypatch.setenv("EVALSUITE_DB", str(db))
    app = AppTest.from_file(str(APP), default_timeout=120)
    if page:
        app.switch_page(page)
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite database (backup API: WAL content included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target
