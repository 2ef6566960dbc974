"""Arena voting: one prompt, two anonymous answers "A" and "B", four buttons, then the reveal.

The server issues each battle (``arena_queries.issue_battle``) and this page keeps
only its token and the two texts; the vote sends the token and the verdict, and
the model names shown afterwards come back from the stored battle. Which model is
on the left is random (``choose_pair``); "A" is always the left answer, so every
vote from this page records ``position_a = "left"``.

Votes are limited per voter (``EVALSUITE_VOTES_PER_MINUTE``, default 20; counted in the
store, so the limit holds across sessions and servers sharing the database); a vote over
it is refused with how long to wait, and the battle stays open to vote on later.

Each browser session gets an anonymous voter id in ``st.session_state``; prompts and
model names are shown with ``st.text``; answers render as Markdown through
``board_ui.answer_markdown`` (raw HTML shown as text, no image loaded).
"""

from __future__ import annotations

import secrets

import streamlit as st

from evalsuite.arena import voting
from evalsuite.errors import ArenaError, EvalsuiteError
from evalsuite.settings import votes_per_minute
from evalsuite.store import arena_queries
from leaderboard.board_ui.answer_markdown import show_answer
from leaderboard.board_ui.common import database, escape_markdown

VOTER_KEY = "arena_voter"
BATTLE_KEY = "arena_battle"
RESULT_KEY = "arena_result"
ERROR_KEY = "arena_error"
BUTTONS = (("A is better", "a"), ("B is better", "b"), ("Tie", "tie"), ("Both are bad", "both_bad"))
VERDICTS = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both are bad"}


def voter_id() -> str:
    """This browser session's anonymous voter id, made once."""
    if VOTER_KEY not in st.session_state:
        st.session_state[VOTER_KEY] = f"anon-{secrets.token_hex(8)}"
    return str(st.session_state[VOTER_KEY])


def _vote(outcome: str) -> None:
    battle = st.session_state.get(BATTLE_KEY)
    if battle is None or st.session_state.get(RESULT_KEY) is not None:
        return
    try:
        st.session_state[RESULT_KEY] = arena_queries.record_vote(
            database(), battle.token, outcome, voter_id(), voter_kind="human", position_a="left",
            votes_per_minute=votes_per_minute(),
        )
    except EvalsuiteError as error:  # a used token, the rate limit ("wait N s"), a bad EVALSUITE_VOTES_PER_MINUTE
        st.session_state[ERROR_KEY] = f"{error.message} — {error.hint}"


def _next_battle() -> None:
    for key in (BATTLE_KEY, RESULT_KEY, ERROR_KEY):
        st.session_state.pop(key, None)


def _answer(label: str, text: str) -> None:
    st.subheader(f"Answer {label}")
    show_answer(text)


def main() -> None:
    st.title("Arena")
    st.caption("Two anonymous models answered the same prompt. Pick the better answer; the models are revealed after your vote.")
    if BATTLE_KEY not in st.session_state:
        try:
            st.session_state[BATTLE_KEY] = voting.issue_battle(database(), voter_id())
        except ArenaError as error:
            st.info(escape_markdown(f"{error.message}. {error.hint}"))
            return
    battle = st.session_state[BATTLE_KEY]
    result = st.session_state.get(RESULT_KEY)
    st.subheader("Prompt")
    if battle.category:
        st.text(f"Category: {battle.category}")
    st.text(battle.prompt)
    left, right = st.columns(2)
    with left:
        _answer("A", battle.answer_a)
    with right:
        _answer("B", battle.answer_b)
    for column, (label, outcome) in zip(st.columns(len(BUTTONS)), BUTTONS):
        column.button(label, key=f"vote_{outcome}", on_click=_vote, args=(outcome,), disabled=result is not None, width="stretch")
    if st.session_state.get(ERROR_KEY):
        st.error(escape_markdown(st.session_state[ERROR_KEY]))
    if result is not None:
        st.success(f"Vote recorded: {VERDICTS[result.outcome]}.")
        reveal_a, reveal_b = st.columns(2)
        reveal_a.text(f"A: {result.model_a}")
        reveal_b.text(f"B: {result.model_b}")
        st.button("Next", key="arena_next", on_click=_next_battle, type="primary")


main()
