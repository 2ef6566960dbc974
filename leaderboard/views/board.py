"""The leaderboard: one view per suite (its score first, ranked where comparable) and an "all tasks" view.

Layout only: every rule (which runs are comparable, suite scores, ranking, number
formats) comes from ``evalsuite.board.rules``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from evalsuite.board import rules as board
from evalsuite.tasks.suites import suites
from leaderboard.board_ui import tables
from leaderboard.board_ui.arena import arena_ratings
from leaderboard.board_ui.common import RUN_PAGE, cached_filter_options, database_url, filter_sidebar, pick_view


def _column_config(view: board.BoardView) -> dict[str, Any]:
    config: dict[str, Any] = {
        board.MODEL: st.column_config.TextColumn(board.MODEL, pinned=True),
        board.RANK: st.column_config.NumberColumn(board.RANK, format="%d", help="among models with every score of this view"),
        tables.ARENA: st.column_config.NumberColumn(tables.ARENA, format="%.0f", help="Bradley–Terry, Elo scale"),
        board.PARAMS: st.column_config.NumberColumn(board.PARAMS, format="localized"),
    }
    if view.score_label:
        config[view.score_label] = st.column_config.TextColumn(view.score_label, help=_score_help(view.name))
    for column in view.columns:
        config[column.label] = st.column_config.TextColumn(column.label, help=column.describe())
    return config


def _score_help(suite: str) -> str:
    spec = suites().get(suite)
    return spec.description if spec is not None else "the suite's score as the suite defines it"


def _run_links(view: board.BoardView) -> None:
    """Plain links (not table cells) so every run is one click away, also for keyboard and tests."""
    runs = {row.model: max(row.runs) for row in view.rows if row.runs}
    if not runs:
        return
    model = st.selectbox("Open the latest run of", sorted(runs), key="board_open_model")
    if model is not None:
        st.page_link(RUN_PAGE, label=f"Run #{runs[model]} details", query_params={"run": str(runs[model])})


def _tables(view: board.BoardView, arena: dict[str, float] | None) -> None:
    config = _column_config(view)
    if not view.score_label:  # no score: every model in one table, none ranked
        st.dataframe(tables.display_frame(view, view.rows, arena, with_lacks=view.name != board.ALL_TASKS),
                     hide_index=True, column_config=config, key="board_table")
        return
    if view.ranked:
        st.dataframe(tables.display_frame(view, view.ranked, arena), hide_index=True, column_config=config, key="board_table")
    else:
        st.info(f"No model has every score of {view.name} under the same settings yet, so none is ranked.")
    if view.unranked:
        st.subheader("Not ranked")
        st.caption("These models lack a score of this view, or have it only under other settings (see Lacks).")
        unranked = tables.display_frame(view, view.unranked, arena, with_lacks=True)
        st.dataframe(unranked.drop(columns=[board.RANK, view.score_label]), hide_index=True, column_config=config,
                     key="board_unranked")


def main() -> None:
    st.title("Leaderboard")
    board_filter = filter_sidebar()
    if not cached_filter_options(database_url()).tasks:
        st.info("No results yet. Score a model with `evalsuite run --model demo/pico-s --tasks pubmedqa`.")
        return
    view = pick_view(board_filter)
    for note in view.notes:
        st.caption(note)
    st.caption(
        f"{len(view.rows)} model{'' if len(view.rows) == 1 else 's'} · scores × 100 where the metric is a fraction · value ± standard error · "
        "a column holds one setting only (shots, documents, task version, chat template): see Column settings"
    )
    _tables(view, arena_ratings())
    with st.expander("Column settings"):
        st.dataframe(tables.legend_frame(view), hide_index=True, key="board_legend")
    st.download_button("Download CSV", tables.to_csv(view), file_name=f"leaderboard-{view.name.replace(' ', '-')}.csv",
                       mime="text/csv")
    _run_links(view)


main()
