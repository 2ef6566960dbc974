"""Named side by side: the person picks both models; the vote is stored but never counted in the ratings."""

from __future__ import annotations

import streamlit as st

from leaderboard.board_ui import live_page

st.title("Side by side")
st.caption("Pick two models and compare them. These votes are kept apart: they never count in the arena ratings.")
names = live_page.contestant_names()
left, right = st.columns(2)
left.selectbox("Model A", names, key="named_a")
right.selectbox("Model B", names, index=min(1, len(names) - 1), key="named_b")
live_page.render("named", ("named_a", "named_b"))
