"""What every page shares: the cached database, the filter sidebar, safe text helpers.

Model outputs and model names are data, not markup. Pages show them with
``st.text``, ``st.code``, ``st.json`` or dataframe cells; anything that must pass
through Markdown (headers, widget labels) goes through :func:`escape_markdown` first.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from evalsuite import settings
from evalsuite.board import rules as board
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store.db import Database, open_database

RUN_PAGE = "views/run.py"
COMPARE_PAGE = "views/compare.py"

# Every character CommonMark (and Streamlit's Markdown extensions) treats as syntax.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])")


def escape_markdown(text: Any) -> str:
    """Backslash-escape Markdown syntax so ``text`` renders literally (no links, images, HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def database_url() -> str:
    return settings.default_db()


@st.cache_resource(show_spinner=False)
def _open(url: str) -> Database:
    return open_database(url)


def database() -> Database:
    """The app's database, opened once per server process and URL."""
    return _open(database_url())


@st.cache_data(ttl=30, show_spinner=False)
def cached_filter_options(url: str) -> lq.FilterOptions:
    return lq.filter_options(_open(url))


@st.cache_data(ttl=30, show_spinner=False)
def cached_run_choices(url: str, complete_only: bool = True) -> list[lq.RunChoice]:
    return lq.run_choices(_open(url), complete_only=complete_only)


def run_label(choice: lq.RunChoice) -> str:
    """Plain-text label of a run for select boxes (options are never Markdown)."""
    suite = f", suite {choice.suite}" if choice.suite else ""
    return f"#{choice.id} · {choice.model} · {choice.backend}{suite} · {choice.started_at:%Y-%m-%d %H:%M}"


_FILTER_KEYS = ("filter_suites", "filter_tasks", "filter_backends", "filter_model", "filter_pinned", "board_view", "board_expand")


def _keep_filter_state() -> None:
    """Streamlit drops a widget's state when a page without it runs; re-store it to keep filters across pages."""
    for key in _FILTER_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def filter_sidebar() -> lq.BoardFilter:
    """The leaderboard filters, in the sidebar, shared by the board and chart pages."""
    _keep_filter_state()
    options = cached_filter_options(database_url())
    sidebar = st.sidebar
    sidebar.header("Filters")
    suites = sidebar.multiselect("Suite", options.suites, key="filter_suites")
    tasks = sidebar.multiselect("Task", options.tasks, key="filter_tasks")
    backends = sidebar.multiselect("Backend", options.backends, key="filter_backends")
    model = sidebar.text_input("Model name contains", key="filter_model")
    runs = cached_run_choices(database_url())
    labels = {choice.id: run_label(choice) for choice in runs}
    pinned = sidebar.multiselect(
        "Use these runs instead of the latest", list(labels), format_func=labels.__getitem__, key="filter_pinned"
    )
    return lq.BoardFilter(
        suites=tuple(suites), tasks=tuple(tasks), backends=tuple(backends), model_search=model, pinned_runs=tuple(pinned)
    )


def query_int(name: str) -> int | None:
    """An integer query parameter (``?run=12``), or None when absent or malformed."""
    raw = st.query_params.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


@st.cache_data(show_spinner=False, max_entries=64)
def cached_views(
    url: str, board_filter: lq.BoardFilter, expand_groups: bool, version: tuple[float, ...]
) -> dict[str, board.BoardView]:
    """The board's views (``evalsuite.board.rules``), cached until ``version`` (the data) changes."""
    from evalsuite.tasks.suites import suites

    cells = list(lq.leaderboard_cells(_open(url), board_filter))
    return board.views(cells, suites(), expand_groups=expand_groups)


def default_view(views: dict[str, board.BoardView]) -> str:
    """The first suite that has a score (e.g. open-llm-v1), else "all tasks"."""
    scored = [name for name, view in views.items() if view.score_label]
    return (scored or [board.ALL_TASKS])[0]


def pick_view(board_filter: lq.BoardFilter) -> board.BoardView:
    """The view chosen above the page's table (kept across pages), built on the filtered data."""
    expand = bool(st.session_state.get("board_expand", False))
    views = cached_views(database_url(), board_filter, expand, lq.board_version(database()))
    names = [name for name in views if name != board.ALL_TASKS] + [board.ALL_TASKS]
    if st.session_state.get("board_view") not in names:
        st.session_state["board_view"] = default_view(views)
    name = st.radio("View", names, key="board_view", horizontal=True, help="a suite's scores, or every stored score")
    if name == board.ALL_TASKS:
        st.toggle("Show the subtasks of groups", key="board_expand", help="e.g. MMLU's 57 subjects beside its aggregate")
    return views[name or board.ALL_TASKS]
