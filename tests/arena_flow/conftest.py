"""Fixtures of the arena flow tests.

``voting_db`` holds fixed answer texts from three model names (one full of HTML and
Markdown): enough to test battles, votes and pages, which never look at how an
answer was made. ``generated_db`` holds real answers from demo/pico-s and
demo/pico-m, produced by `evalsuite arena generate`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from arena_flow_fixtures import (
    DEMO_MODELS,
    SMALL_PROMPTS,
    fill_voting_db,
    require_demo_models,
    write_jsonl,
)


@pytest.fixture
def voting_db(tmp_path: Path) -> Path:
    return fill_voting_db(tmp_path / "voting.db")


@pytest.fixture
def app_env() -> Iterator[None]:
    """AppTest runs share Streamlit's process-wide caches: start each test with them empty."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="session")
def generated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`evalsuite arena generate` for both demo models on the three small prompts (24 tokens each)."""
    from typer.testing import CliRunner

    from evalsuite.cli.app import app

    require_demo_models()
    folder = tmp_path_factory.mktemp("arena-generated")
    db = folder / "generated.db"
    prompts = write_jsonl(folder / "prompts.jsonl", SMALL_PROMPTS)
    runner = CliRunner()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    steps = [["arena", "prompts", "add", str(prompts)]] + [
        ["arena", "generate", "--model", model, "--max-tokens", "24", "--limit", "3", "--device", "cpu"] for model in DEMO_MODELS
    ]
    for step in steps:
        result = runner.invoke(app, [*step, "--db", str(db)])
        assert result.exit_code == 0, (step, result.output)
    return db


