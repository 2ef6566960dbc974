"""The arena rating column: Bradley–Terry ratings from stored people's votes, when there are any.

The column appears only when the ``vote`` table has human votes and ``evalsuite.arena``
is importable. The ratings come from ``evalsuite.arena.pipeline.ratings_from_store`` with
`evalsuite arena ratings`'s defaults (people's votes, the identity-leak filter: votes on
answers that name their model or maker do not count), point ratings only; they are
recomputed only when the number of votes changes.
"""

from __future__ import annotations

import importlib.util

import streamlit as st

from evalsuite.errors import EvalsuiteError
from leaderboard.board_ui.common import database, database_url

BOOTSTRAP_ROUNDS = 0  # the board shows point ratings; the arena page shows intervals


@st.cache_data(show_spinner=False, max_entries=8)
def _ratings(url: str, votes: int) -> dict[str, float] | None:
    from evalsuite.arena.pipeline import RatingRequest, ratings_from_store
    from evalsuite.arena.report import ReportOptions

    request = RatingRequest(report=ReportOptions(bootstrap_rounds=BOOTSTRAP_ROUNDS, online_elo=False))
    try:
        report = ratings_from_store(database(), request)
    except EvalsuiteError:  # votes that cannot be rated (e.g. only judge votes): no column
        return None
    return report.table.ratings()


def arena_ratings() -> dict[str, float] | None:
    """Model name -> Bradley–Terry rating (Elo scale), or None without votes."""
    if importlib.util.find_spec("evalsuite.arena.ratings") is None:
        return None
    from evalsuite.store import arena_queries

    votes = arena_queries.vote_count(database(), voter_kind="human")
    if votes == 0:
        return None
    return _ratings(database_url(), votes)
