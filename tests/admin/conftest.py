"""Fixtures of the admin tests: a filled database on both engines, a clean Streamlit cache, no operator token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from admin_fixtures import Filled, fill


@pytest.fixture
def filled(db_url: str) -> Filled:
    """The admin fixture database (admin_fixtures.fill) on SQLite and on PostgreSQL."""
    return fill(db_url)


@pytest.fixture(autouse=True)
def no_operator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the operator's variables it means to test; none leak in from the shell."""
    monkeypatch.delenv("EVALSUITE_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("EVALSUITE_VOTES_PER_MINUTE", raising=False)


@pytest.fixture
def app_env() -> Iterator[None]:
    """AppTest runs share Streamlit's process-wide caches: start each test with them empty."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
