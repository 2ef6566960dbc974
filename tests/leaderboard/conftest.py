"""Fixtures of the leaderboard tests.

``demo_db``: filled by real ``evalsuite run`` subprocesses on the two demo models
(pubmedqa, 20 documents each). ``mixed_db``: the demo runs plus real runs with mixed scales
(perplexity, BLEU, accuracy), a full and a limited run of one task; pico-m misses tasks.
``group_db``: a real run of the MMLU group (57 subtasks) on the shared local copy.
``unsafe_db``: a database whose model name and samples carry HTML and Markdown that
must render as inert text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from leaderboard_fixtures import DEMO_MODELS, MIXED_LIMIT, MIXED_TASKS, DemoDatabase, copy_database, evalsuite_run, fill_unsafe

from evalsuite.identity.models import demo_models
from evalsuite.store import queries
from evalsuite.store.db import open_database


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> DemoDatabase:
    missing = [name for name in DEMO_MODELS if name not in demo_models()]
    if missing:
        pytest.skip(f"demo models {missing} are not shipped in evalsuite/demo_models/ yet")
    path = tmp_path_factory.mktemp("leaderboard-demo") / "demo.db"
    for model in DEMO_MODELS:
        evalsuite_run(model, path)
    with open_database(path) as database:
        runs = {summary.model: summary.id for summary in queries.list_runs(database)}
    return DemoDatabase(path=path, run_ids=runs)


@pytest.fixture(scope="session")
def mixed_db(demo_db: DemoDatabase, tmp_path_factory: pytest.TempPathFactory) -> DemoDatabase:
    """The demo runs (pubmedqa, 20 documents, both models), then for pico-s: perplexity in full (8 articles) and
    perplexity, WMT22 and ARC-Easy limited to 2 documents. pico-m lacks all but pubmedqa."""
    path = copy_database(demo_db.path, tmp_path_factory.mktemp("leaderboard-mixed") / "mixed.db")
    evalsuite_run("demo/pico-s", path, "--tasks", "perplexity")
    evalsuite_run("demo/pico-s", path, "--tasks", ",".join(MIXED_TASKS), "--limit", str(MIXED_LIMIT))
    with open_database(path) as database:
        runs = {f"{summary.model} #{summary.id}": summary.id for summary in queries.list_runs(database)}
    return DemoDatabase(path=path, run_ids=runs)


@pytest.fixture(scope="session")
def group_db(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The MMLU group (4 sub-groups, 57 subtasks), one document each, 0-shot, from the shared local copy."""
    path = tmp_path_factory.mktemp("leaderboard-group") / "group.db"
    evalsuite_run("demo/pico-s", path, "--tasks", "mmlu", "--num-fewshot", "0", "--limit", "1", "--data-dir", str(shared_data))
    return path


@pytest.fixture
def unsafe_db(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "unsafe.db"
    return path, fill_unsafe(path)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """AppTest runs share Streamlit's process-wide caches: start each test with them empty."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
