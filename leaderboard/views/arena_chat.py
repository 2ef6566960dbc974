"""Direct chat with one model ("the most reliable evaluation is to use the model yourself"); nothing is voted."""

from __future__ import annotations

import streamlit as st

from evalsuite.errors import EvalsuiteError
from leaderboard.board_ui import live_page
from leaderboard.board_ui.common import escape_markdown

st.title("Direct chat")
try:
    names = list(live_page.pool().names)
except EvalsuiteError as error:
    st.error(escape_markdown(f"{error.message} — {error.hint}"))
    st.stop()
model = st.selectbox("Model", names, key="direct_model")
live_page.render("direct", [str(model)])
