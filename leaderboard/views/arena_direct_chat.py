"""Direct chat: the person picks one model and talks to it; the conversation is stored, nothing is voted or counted."""

from __future__ import annotations

import streamlit as st

from leaderboard.board_ui import live_page

st.title("Direct chat")
st.caption("Pick a model and talk to it yourself. The conversation is kept; there is no vote and it never counts in the ratings.")
names = live_page.contestant_names()
st.selectbox("Model", names, key="direct_model")
live_page.render("direct", ("direct_model",))
