"""Charts of the chosen board view: per-column bars, models × columns heatmap, suite score vs size."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalsuite.board import rules as board
from leaderboard.board_ui import charts
from leaderboard.board_ui.common import filter_sidebar, pick_view


def main() -> None:
    st.title("Charts")
    view = pick_view(filter_sidebar())
    long = charts.long_frame(view)
    if long.empty:
        st.info("No scores match the filters.")
        return
    columns = [column.label for column in view.columns if column.label in set(long["column"])]
    st.subheader("Per column")
    column = st.selectbox("Score", columns, key="charts_column")
    if column is not None:
        st.altair_chart(charts.task_bars(long, column), width="stretch")
        st.caption("Scores as on the board (× 100 where a fraction). Error bars: 95 % normal interval, value ± 1.96 · stderr.")
    st.subheader("Models × columns")
    chosen = st.multiselect("Columns in the heatmap", columns, default=columns[:30], key="charts_heatmap_columns")
    if chosen:
        st.altair_chart(charts.heatmap(long, chosen), width="stretch")
        st.caption("Each column is coloured on its own scale, worst to best (lower is better for perplexities), "
                   "so scores of different units never share a colour scale; the cells show the scores.")
    if view.score_label:
        st.subheader("Suite score vs model size")
        frame = pd.DataFrame(
            {board.MODEL: [r.model for r in view.ranked], view.score_label: [r.score for r in view.ranked],
             board.PARAMS: [r.params for r in view.ranked]}
        )
        st.altair_chart(charts.score_vs_size(frame, board.MODEL, view.score_label, board.PARAMS), width="stretch")
        st.caption("Ranked models only; models without a known size are left out.")


main()
