"""evalsuite leaderboard: `evalsuite leaderboard --db results/evalsuite.db` starts it.

Reads the database named by env ``EVALSUITE_DB`` (default ``results/evalsuite.db``).
Pages (views/): the leaderboard, charts, one run (config, metrics, samples), and a
paired comparison of two runs; the arena's voting and ratings pages, metric agreement (SummEval,
the arena's judges), and the Admin page only where the operator set ``EVALSUITE_ADMIN_TOKEN``. Under
`evalsuite arena serve` (``EVALSUITE_ARENA_CONTESTANTS`` set) the live arena's pages come
first and the anonymous battle is the page a visitor lands on.
The pages import ``leaderboard.board_ui`` from the installed package, like any other import.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from evalsuite import settings
from evalsuite.board.admin import web_admin_enabled

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="evalsuite leaderboard", layout="wide")

# Pages live in views/, not pages/: while a pages/ folder exists, Streamlit serves a fresh
# server's first direct request (e.g. /run?run=3) in its old pages-folder mode, which skips
# this script (no navigation, no page config).

live = settings.ARENA_CONTESTANTS.read() is not None
live_pages = [
    st.Page(VIEWS / "arena_live.py", title="Chatbot arena", default=True),
    st.Page(VIEWS / "arena_side_by_side.py", title="Side by side"),
    st.Page(VIEWS / "arena_direct_chat.py", title="Direct chat"),
]
navigation = st.navigation(
    [
        *(live_pages if live else []),
        st.Page(VIEWS / "board.py", title="Leaderboard", default=not live),
        st.Page(VIEWS / "plots.py", title="Charts"),
        st.Page(VIEWS / "run.py", title="Run"),
        st.Page(VIEWS / "compare.py", title="Compare runs"),
        st.Page(VIEWS / "arena_vote.py", title="Arena"),
        st.Page(VIEWS / "arena_ratings.py", title="Arena ratings"),
        st.Page(VIEWS / "agreement.py", title="Metric agreement"),
        # Only where the operator set EVALSUITE_ADMIN_TOKEN: every other page is read-only but for votes.
        *([st.Page(VIEWS / "admin.py", title="Admin")] if web_admin_enabled() else []),
    ]
)
navigation.run()
