"""Charts of the filtered leaderboard: per-task bars, models × tasks heatmap, score vs size."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from board_ui import charts, tables
from board_ui.common import database, database_url, filter_sidebar

from evalsuite.store import leaderboard_queries as lq


@st.cache_data(show_spinner=False, max_entries=64)
def _frames(
    url: str, board_filter: lq.BoardFilter, version: tuple[float, ...]
) -> tuple[pd.DataFrame, tables.BoardTable]:
    long = tables.cells_frame(lq.leaderboard_cells(database(), board_filter))
    return long, tables.build_board(long)


def main() -> None:
    st.title("Charts")
    long, board = _frames(database_url(), filter_sidebar(), lq.board_version(database()))
    if long.empty:
        st.info("No scores match the filters.")
        return
    columns = board.score_columns
    st.subheader("Per task")
    column = st.selectbox("Score", columns, key="charts_column")
    if column is not None:
        st.altair_chart(charts.task_bars(long, column), width="stretch")
        st.caption("Error bars: 95 % normal interval, value ± 1.96 · stderr.")
    st.subheader("Models × tasks")
    default = [c for c in columns if board.higher_is_better.get(c)] or columns
    chosen = st.multiselect("Scores in the heatmap", columns, default=default, key="charts_heatmap_columns")
    if chosen:
        st.altair_chart(charts.heatmap(long, chosen), width="stretch")
    st.subheader("Score vs model size")
    st.altair_chart(
        charts.score_vs_size(board.frame, tables.MODEL, tables.AVERAGE, tables.PARAMS), width="stretch"
    )
    st.caption("Average of higher-is-better scores against parameter count; models without a known size are left out.")


main()
