"""The live arena's pages (anonymous battle, named side by side, direct chat): one renderer, three modes.

A person types a prompt; the engine (``evalsuite.arena.live``, built beside this page)
starts both contestants streaming in its own threads and keeps each side's text, done
flag, error and time to first token. This page only *reads* that state: it redraws both
columns from it every :data:`POLL_S` seconds, both at once, until both sides are done
or one failed, then reruns so the vote buttons are enabled (never before both are
complete). Everything a session has — its battle, its voter id — is in
``st.session_state``, so no session ever sees another's conversation.

The engine is ``evalsuite.arena.live`` (its ``LiveBattle`` holds a session's state); refusals (empty, too long, moderation, turn limit) and a
contestant failing are :class:`~evalsuite.errors.EvalsuiteError` s whose message and hint
are shown as they are. A direct chat (mode ``direct``, one picked model) is the same page
with one column and no vote buttons: the engine's battle has one side.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

import streamlit as st

from evalsuite import settings
from evalsuite.arena.live import ContestantPool, LiveBattle, client_address, load_contestants
from evalsuite.arena.live.session import Side
from evalsuite.errors import ConfigError, EvalsuiteError
from leaderboard.board_ui.answer_markdown import show_answer
from leaderboard.board_ui.common import database, escape_markdown

LOOPBACK = "127.0.0.1"
POLL_S = 0.1  # how often the columns are redrawn while answers stream
CURSOR = " ▌"  # shown after a side's text while it is still coming
VOTER_KEY = "live_voter"
BATTLE_KEY = "live_battle"
BATTLE_FOR_KEY = "live_battle_for"  # (mode, picked models) the session's battle was made for
MESSAGE_KEY = "live_message"
PROMPT_KEY = "live_current_prompt"  # the prompt of the turn in progress, shown above its answers
VOTES = (("A is better", "model_a"), ("B is better", "model_b"), ("Tie", "tie"), ("Both are bad", "tie (bothbad)"))


def _client_address() -> str:
    """The visitor's address for the per-address vote limit, a trusted proxy's X-Forwarded-For honoured.

    Streamlit reports a loopback peer as None; it is still a peer (a reverse proxy on the
    same host, which the operator lists in ``EVALSUITE_TRUSTED_PROXIES`` as 127.0.0.1).
    """
    peer = st.context.ip_address or LOOPBACK
    return client_address(peer, st.context.headers.get("X-Forwarded-For"))


@st.cache_resource(show_spinner=False)
def _pool(path: str) -> ContestantPool:
    """The contestants, loaded once per server process (in-process models load once, for every session)."""
    return load_contestants(path)


def pool() -> ContestantPool:
    path = settings.ARENA_CONTESTANTS.read()
    if path is None:
        raise ConfigError("the live arena is not being served", "start it with `evalsuite arena serve --contestants arena.yaml`")
    return _pool(str(path))


def contestant_names() -> list[str]:
    """The contestants a person may pick (side by side, direct chat); the page stops with the reason when there are none."""
    try:
        return list(pool().names())
    except EvalsuiteError as error:
        st.error(escape_markdown(f"{error.message} — {error.hint}"))
        st.stop()


def voter_id() -> str:
    if VOTER_KEY not in st.session_state:
        st.session_state[VOTER_KEY] = f"anon-{secrets.token_hex(8)}"
    return str(st.session_state[VOTER_KEY])


def _battle(mode: str, pick_keys: Sequence[str]) -> LiveBattle:
    """This session's battle, made on first use and again when the page (mode) or the picked models change.

    The picks are read from their widgets' state (``pick_keys``), not passed in: a callback
    (Send) runs before the page and must already see the models picked in the same click.
    A battle left for another pair is ended as the engine ends it on New round.
    """
    names = tuple(str(st.session_state[key]) for key in pick_keys)
    wanted = (mode, names)
    battle = st.session_state.get(BATTLE_KEY)
    if battle is None or st.session_state.get(BATTLE_FOR_KEY) != wanted:
        if battle is not None:
            battle.new_round()  # stored as abandoned if it had begun
        named = names if mode in ("named", "direct") else None
        battle = LiveBattle(pool(), database(), voter=voter_id(), address=_client_address(), anonymous=mode == "anony", names=named)
        st.session_state[BATTLE_KEY] = battle
        st.session_state[BATTLE_FOR_KEY] = wanted
    return battle  # type: ignore[no-any-return]


def _act(action: str, *args: Any) -> None:
    """A button's work; its refusal (if any) kept for the next render."""
    battle = st.session_state.get(BATTLE_KEY)
    if battle is None:
        return
    st.session_state.pop(MESSAGE_KEY, None)
    try:
        getattr(battle, action)(*args)
    except EvalsuiteError as error:
        st.session_state[MESSAGE_KEY] = f"{error.message} — {error.hint}"


def _send(mode: str, pick_keys: Sequence[str]) -> None:
    prompt = str(st.session_state.get("live_prompt") or "")
    try:
        _battle(mode, pick_keys)
    except EvalsuiteError as error:
        st.session_state[MESSAGE_KEY] = f"{error.message} — {error.hint}"
        return
    _act("ask", prompt)
    if MESSAGE_KEY not in st.session_state:
        st.session_state[PROMPT_KEY] = prompt
        st.session_state["live_prompt"] = ""


def _draw(battle: LiveBattle, slots: Sequence[Any]) -> None:
    for side, slot in zip(battle.sides, slots):
        view = battle.view(side)
        with slot.container():
            show_answer(view.text + ("" if view.done else CURSOR))
            if view.error is not None:
                st.error(escape_markdown(view.error))


def _label(battle: LiveBattle, side: Side) -> str:
    name = battle.view(side).name
    if len(battle.sides) == 1:
        return name or "Model"
    return f"Model {side.upper()}" + (f": {name}" if name else "")


def _history(battle: LiveBattle) -> None:
    """The finished turns, the sides side by side (each side saw only its own history)."""
    conversations = [battle.conversation(side) for side in battle.sides]
    for index in range(0, len(conversations[0]), 2):
        st.chat_message("user").text(conversations[0][index]["content"])
        for column, conversation in zip(st.columns(len(conversations)), conversations):
            with column:
                show_answer(conversation[index + 1]["content"])


def _current_turn(battle: LiveBattle) -> None:
    """The turn in progress (or the one that failed), redrawn from the engine until every side finishes."""
    views = [battle.view(side) for side in battle.sides]
    if not battle.busy and all(view.error is None for view in views):
        return  # a finished turn is already in the conversation
    st.chat_message("user").text(str(st.session_state.get(PROMPT_KEY) or ""))
    slots = [column.empty() for column in st.columns(len(battle.sides))]
    streaming = battle.busy
    _draw(battle, slots)
    while battle.busy:
        time.sleep(POLL_S)
        _draw(battle, slots)
    if streaming:
        st.rerun()  # both finished: render again so the buttons see it


def render(mode: str, pick_keys: Sequence[str] = ()) -> None:
    """One live page: the conversation so far, the answers streaming, the buttons and the prompt box."""
    try:
        battle = _battle(mode, pick_keys)
    except EvalsuiteError as error:
        st.error(escape_markdown(f"{error.message} — {error.hint}"))
        return
    labels = st.columns(len(battle.sides))
    for column, side in zip(labels, battle.sides):
        column.subheader(escape_markdown(_label(battle, side)))
    _history(battle)
    _current_turn(battle)
    if battle.round_over == "failed":
        st.warning("This round ended because a model failed; nothing was counted. Start a new round.")
    if len(battle.sides) == 2:  # a direct chat has nothing to vote on
        _vote_buttons(battle)
    if st.session_state.get(MESSAGE_KEY):
        st.error(escape_markdown(st.session_state[MESSAGE_KEY]))
    open_round = battle.round_over is None
    st.text_area("Your prompt", key="live_prompt", disabled=not open_round)
    send, regenerate, new_round = st.columns(3)
    send.button("Send", key="live_send", on_click=_send, args=(mode, tuple(pick_keys)), type="primary", disabled=not open_round)
    regenerate.button("Regenerate", key="live_regenerate", on_click=_act, args=("regenerate",), disabled=not battle.turn_complete)
    new_label = "New conversation" if mode == "direct" else "New round"
    new_round.button(new_label, key="live_new_round", on_click=_act, args=("new_round",))


def _vote_buttons(battle: LiveBattle) -> None:
    """The four verdicts, enabled once both answers are complete; the names once voted."""
    for column, (label, winner) in zip(st.columns(len(VOTES)), VOTES):
        column.button(label, key=f"live_vote_{winner}", on_click=_act, args=("vote", winner), disabled=not battle.can_vote, width="stretch")
    if battle.round_over == "voted":
        st.success(escape_markdown("Vote recorded. " + " · ".join(_label(battle, side) for side in battle.sides)))
