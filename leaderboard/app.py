"""evalsuite leaderboard: `evalsuite leaderboard --db results/evalsuite.db` starts it.

Reads the database named by env ``EVALSUITE_DB`` (default ``results/evalsuite.db``).
Pages (views/): the leaderboard, charts, one run (config, metrics, samples), and a
paired comparison of two runs; the arena's voting and ratings pages are added below.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # the pages import board_ui from here, however the app is started
    sys.path.insert(0, str(_HERE))

st.set_page_config(page_title="evalsuite leaderboard", layout="wide")

# Pages live in views/, not pages/: while a pages/ folder exists, Streamlit serves a fresh
# server's first direct request (e.g. /run?run=3) in its old pages-folder mode, which skips
# this script (no navigation, no page config).

navigation = st.navigation(
    [
        st.Page(_HERE / "views" / "board.py", title="Leaderboard", default=True),
        st.Page(_HERE / "views" / "charts.py", title="Charts"),
        st.Page(_HERE / "views" / "run.py", title="Run"),
        st.Page(_HERE / "views" / "compare.py", title="Compare runs"),
        st.Page(_HERE / "views" / "arena_vote.py", title="Arena"),
        st.Page(_HERE / "views" / "arena_ratings.py", title="Arena ratings"),
    ]
)
navigation.run()
