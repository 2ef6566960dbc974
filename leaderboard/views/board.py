"""The leaderboard: one row per model, one column per task score, averages and arena rating."""

from __future__ import annotations

from typing import Any

import streamlit as st
from board_ui import tables
from board_ui.arena import arena_ratings
from board_ui.common import RUN_PAGE, cached_filter_options, database, database_url, filter_sidebar

from evalsuite.store import leaderboard_queries as lq


@st.cache_data(show_spinner=False, max_entries=64)
def _board(
    url: str, board_filter: lq.BoardFilter, arena: dict[str, float] | None, version: tuple[float, ...]
) -> tables.BoardTable:
    """Cached as the finished table (a DataFrame pickles far faster than 40k cells) until the data changes."""
    return tables.build_board(lq.leaderboard_cells(database(), board_filter), arena)


def _column_config(board: tables.BoardTable) -> dict[str, Any]:
    config: dict[str, Any] = {
        tables.MODEL: st.column_config.TextColumn(tables.MODEL, pinned=True),
        tables.AVERAGE: st.column_config.NumberColumn(tables.AVERAGE, format="%.4f", help="mean of higher-is-better scores"),
        tables.NORMALISED: st.column_config.NumberColumn(tables.NORMALISED, format="%.2f"),
        tables.ARENA: st.column_config.NumberColumn(tables.ARENA, format="%.0f", help="Bradley–Terry, Elo scale"),
        tables.PARAMS: st.column_config.NumberColumn(tables.PARAMS, format="localized"),
    }
    for column in board.score_columns:
        config[column] = st.column_config.NumberColumn(column, format="%.4f")
        config[tables.STDERR_PREFIX + column] = st.column_config.NumberColumn(
            tables.STDERR_PREFIX + column, format="%.4f", help="standard error of the score to its left"
        )
    return config


def _run_links(board: tables.BoardTable) -> None:
    """Plain links (not table cells) so every run is one click away, also for keyboard and tests."""
    if not board.latest_run:
        return
    labels = sorted(board.latest_run)
    model = st.selectbox("Open the latest run of", labels, key="board_open_model")
    if model is not None:
        run_id = board.latest_run[model]
        st.page_link(RUN_PAGE, label=f"Run #{run_id} details", query_params={"run": str(run_id)})


def main() -> None:
    st.title("Leaderboard")
    board_filter = filter_sidebar()
    if not cached_filter_options(database_url()).tasks:
        st.info("No results yet. Score a model with `evalsuite run --model demo/pico-s --tasks pubmedqa`.")
        return
    board = _board(database_url(), board_filter, arena_ratings(), lq.board_version(database()))
    st.caption(
        f"{len(board.frame)} models · latest complete run per model and task (or the runs chosen in the sidebar) · "
        "± columns are standard errors · Average = mean of higher-is-better scores"
    )
    st.dataframe(board.frame, hide_index=True, column_config=_column_config(board), key="board_table")
    st.download_button("Download CSV", tables.to_csv(board), file_name="leaderboard.csv", mime="text/csv")
    _run_links(board)


main()
