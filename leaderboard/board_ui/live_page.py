"""The live arena's pages (anonymous battle, named side by side, direct chat): one renderer, three modes.

A person types a prompt; the engine (``evalsuite.arena.live``, built beside this page)
starts both contestants streaming in its own threads and keeps each side's text, done
flag, error and time to first token. This page only *reads* that state: it redraws both
columns from it every :data:`POLL_S` seconds, both at once, until both sides are done
or one failed, then reruns so the vote buttons are enabled (never before both are
complete). Everything a session has — its battle, its voter id — is in
``st.session_state``, so no session ever sees another's conversation.

The engine is reached through :class:`LiveBattleView` (what this page needs of it) and
:func:`_engine_module`; refusals (empty, too long, moderation, turn limit) and a
contestant failing are :class:`~evalsuite.errors.EvalsuiteError` s whose message and hint
are shown as they are.
"""

from __future__ import annotations

import importlib
import secrets
import time
from collections.abc import Sequence
from typing import Any, Protocol

import streamlit as st

from evalsuite import settings
from evalsuite.errors import ConfigError, EvalsuiteError
from leaderboard.board_ui.answer_markdown import show_answer
from leaderboard.board_ui.common import database, escape_markdown

POLL_S = 0.1  # how often the columns are redrawn while answers stream
CURSOR = " ▌"  # shown after a side's text while it is still coming
VOTER_KEY = "live_voter"
BATTLE_KEY = "live_battle"
BATTLE_FOR_KEY = "live_battle_for"  # (mode, picked models) the session's battle was made for
MESSAGE_KEY = "live_message"
RESULT_KEY = "live_result"
VOTES = (("👈 A is better", "model_a"), ("👉 B is better", "model_b"), ("🤝 Tie", "tie"), ("👎 Both are bad", "tie (bothbad)"))
MODES = {"anony": "anonymous battle", "named": "named side by side", "direct": "direct chat"}


class SideView(Protocol):
    """One contestant's current answer as the engine keeps it while it streams."""

    @property
    def text(self) -> str: ...
    @property
    def done(self) -> bool: ...
    @property
    def error(self) -> str | None: ...


class LiveBattleView(Protocol):
    """What the page needs of the engine's battle (one per session)."""

    @property
    def sides(self) -> Sequence[SideView]: ...
    @property
    def history(self) -> Sequence[tuple[str, Sequence[str]]]: ...  # finished turns: (prompt, one answer per side)
    def ask(self, prompt: str) -> None: ...
    def regenerate(self) -> None: ...
    def new_round(self) -> None: ...
    def vote(self, winner: str) -> Sequence[str]: ...  # the contestants' names, revealed


def _engine_module() -> Any:
    """The live arena engine; a clear error where this installation lacks it."""
    try:
        return importlib.import_module("evalsuite.arena.live")
    except ModuleNotFoundError as exc:
        raise ConfigError("this installation has no live arena engine (evalsuite.arena.live)", "reinstall evalsuite") from exc


@st.cache_resource(show_spinner=False)
def _pool(path: str) -> Any:
    """The contestants, loaded once per server process (in-process models load once, for every session)."""
    return _engine_module().ContestantPool.from_file(path)


def pool() -> Any:
    path = settings.ARENA_CONTESTANTS.read()
    if path is None:
        raise ConfigError("the live arena is not being served", "start it with `evalsuite arena serve --contestants arena.yaml`")
    return _pool(str(path))


def voter_id() -> str:
    if VOTER_KEY not in st.session_state:
        st.session_state[VOTER_KEY] = f"anon-{secrets.token_hex(8)}"
    return str(st.session_state[VOTER_KEY])


def _battle(mode: str, names: Sequence[str] | None) -> LiveBattleView:
    """This session's battle, made on first use and again when the page (mode) or the picked models change."""
    wanted = (mode, tuple(names or ()))
    battle = st.session_state.get(BATTLE_KEY)
    if battle is None or st.session_state.get(BATTLE_FOR_KEY) != wanted:
        battle = _engine_module().LiveBattle(pool(), database(), voter=voter_id(), mode=mode, names=names)
        st.session_state[BATTLE_KEY] = battle
        st.session_state[BATTLE_FOR_KEY] = wanted
        st.session_state.pop(RESULT_KEY, None)
    return battle  # type: ignore[no-any-return]


def _act(action: str, *args: Any) -> None:
    """A button's work, its refusal (if any) kept for the next render."""
    battle = st.session_state.get(BATTLE_KEY)
    if battle is None:
        return
    st.session_state.pop(MESSAGE_KEY, None)
    try:
        outcome = getattr(battle, action)(*args)
    except EvalsuiteError as error:
        st.session_state[MESSAGE_KEY] = f"{error.message} — {error.hint}"
        return
    if action == "vote":
        st.session_state[RESULT_KEY] = (args[0], list(outcome))
    if action == "new_round":
        st.session_state.pop(RESULT_KEY, None)


def _send() -> None:
    prompt = str(st.session_state.get("live_prompt") or "")
    _act("ask", prompt)
    if MESSAGE_KEY not in st.session_state:
        st.session_state["live_prompt"] = ""


def _finished(side: SideView) -> bool:
    return side.done or side.error is not None


def _draw(battle: LiveBattleView, slots: Sequence[Any]) -> None:
    for side, slot in zip(battle.sides, slots):
        with slot.container():
            show_answer(side.text + ("" if _finished(side) else CURSOR))
            if side.error is not None:
                st.error(escape_markdown(side.error))


def _stream(battle: LiveBattleView, slots: Sequence[Any]) -> None:
    """Redraw both sides until both are finished; then rerun, so the buttons see the finished state."""
    streaming = not all(_finished(side) for side in battle.sides)
    _draw(battle, slots)
    while not all(_finished(side) for side in battle.sides):
        time.sleep(POLL_S)
        _draw(battle, slots)
    if streaming:
        st.rerun()


def _labels(mode: str, revealed: Sequence[str] | None, picked: Sequence[str] | None) -> list[str]:
    if mode != "anony":
        return list(picked or [])
    return [f"Model {side}" + (f": {name}" if revealed else "") for side, name in zip("AB", revealed or ("", ""))]


def _history(battle: LiveBattleView, labels: Sequence[str]) -> None:
    for prompt, answers in battle.history:
        st.chat_message("user").text(prompt)
        for column, label, answer in zip(st.columns(len(answers)), labels, answers):
            with column:
                st.caption(escape_markdown(label))
                show_answer(answer)


def _vote_buttons(battle: LiveBattleView, complete: bool) -> None:
    voted = RESULT_KEY in st.session_state
    for column, (label, winner) in zip(st.columns(len(VOTES)), VOTES):
        column.button(label, key=f"live_vote_{winner}", on_click=_act, args=("vote", winner), disabled=not complete or voted, width="stretch")


def render(mode: str, picked: Sequence[str] | None = None) -> None:
    """One live page: the conversation so far, the answers streaming, the prompt box and the buttons."""
    try:
        battle = _battle(mode, picked)
    except EvalsuiteError as error:
        st.error(escape_markdown(f"{error.message} — {error.hint}"))
        return
    result = st.session_state.get(RESULT_KEY)
    labels = _labels(mode, result[1] if result else None, picked)
    _history(battle, labels)
    slots = [column.empty() for column in st.columns(len(battle.sides))] if battle.sides else []
    _stream(battle, slots)
    complete = bool(battle.sides) and all(side.done and side.error is None for side in battle.sides)
    if mode != "direct":
        _vote_buttons(battle, complete)
    if result:
        st.success(escape_markdown(f"Vote recorded. {' · '.join(labels)}"))
    if st.session_state.get(MESSAGE_KEY):
        st.error(escape_markdown(st.session_state[MESSAGE_KEY]))
    st.text_area("Your prompt", key="live_prompt", disabled=result is not None)
    send, regenerate, new_round = st.columns(3)
    send.button("Send", key="live_send", on_click=_send, type="primary", disabled=result is not None)
    regenerate.button("Regenerate", key="live_regenerate", on_click=_act, args=("regenerate",), disabled=not complete or result is not None)
    new_round.button("New round", key="live_new_round", on_click=_act, args=("new_round",))
