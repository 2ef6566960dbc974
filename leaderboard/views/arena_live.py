"""The live arena: type a prompt, two anonymous contestants answer side by side, vote, then see their names."""

from __future__ import annotations

import streamlit as st

from leaderboard.board_ui import live_page

st.title("Chatbot arena")
st.caption("Ask anything. Two anonymous models answer; keep chatting, then vote. Their names appear after your vote.")
live_page.render("anony")
