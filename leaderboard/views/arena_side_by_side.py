"""Named side by side: the person picks both models; the vote is stored but never counted in the ratings."""

from __future__ import annotations

import streamlit as st

from evalsuite.errors import EvalsuiteError
from leaderboard.board_ui import live_page
from leaderboard.board_ui.common import escape_markdown

st.title("Side by side")
st.caption("Pick two models and compare them. These votes are kept apart: they never count in the arena ratings.")
try:
    names = list(live_page.pool().names())
except EvalsuiteError as error:
    st.error(escape_markdown(f"{error.message} — {error.hint}"))
    st.stop()
left, right = st.columns(2)
left.selectbox("Model A", names, key="named_a")
right.selectbox("Model B", names, index=min(1, len(names) - 1), key="named_b")
live_page.render("named", ("named_a", "named_b"))
