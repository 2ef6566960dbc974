"""Admin: the operator's writes (delete a run, hide or show a model, add arena prompts) behind the admin token.

It also shows the live arena's outage list: each contestant that failed or stalled in the
last :data:`OUTAGE_MINUTES` minutes, how often and why last (FastChat's outage list).

Off unless the operator set ``EVALSUITE_ADMIN_TOKEN`` (the app then leaves this page out
of its navigation, and the page itself refuses). With it, nothing is offered until the
token typed here matches, and every write checks the token again in ``evalsuite.board.admin``,
so a stale session or a forged widget event writes nothing. Every other page is read-only,
apart from the arena's vote buttons.

Names and texts are shown with ``st.text`` or as widget options (never Markdown).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from evalsuite.board import admin
from evalsuite.errors import EvalsuiteError
from evalsuite.store import admin_queries, live_queries
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store.arena_queries import PromptInput
from leaderboard.board_ui.common import database, escape_markdown, run_label

TOKEN_KEY = "admin_token"
MESSAGE_KEY = "admin_message"
OUTAGE_MINUTES = 60


def _token() -> str:
    return str(st.session_state.get(TOKEN_KEY) or "")


def _act(action: Callable[[], str]) -> None:
    """Run one write, keep its outcome for the next render, and drop cached reads so every page shows it."""
    try:
        st.session_state[MESSAGE_KEY] = ("success", action())
    except EvalsuiteError as error:
        st.session_state[MESSAGE_KEY] = ("error", f"{error.message} — {error.hint}")
    st.cache_data.clear()


def _delete_run() -> str:
    run_id = st.session_state.get("admin_run")
    if run_id is None:
        return "no run chosen"
    deleted = admin.delete_run(database(), _token(), int(run_id), force=bool(st.session_state.get("admin_force")), web=True)
    return f"Deleted run {deleted.run_id} ({deleted.model}): {deleted.metrics} metrics, {deleted.samples} samples."


def _hide() -> str:
    name = str(st.session_state.get("admin_hide_name") or "")
    changed = admin.hide_model(database(), _token(), name, web=True)
    return f"Hid {name}." if changed else f"{name} was already hidden."


def _unhide() -> str:
    name = str(st.session_state.get("admin_unhide_name") or "")
    changed = admin.unhide_model(database(), _token(), name, web=True)
    return f"{name} is shown again." if changed else f"{name} was not hidden."


def _add_prompts() -> str:
    category = str(st.session_state.get("admin_prompt_category") or "").strip() or None
    lines = str(st.session_state.get("admin_prompts") or "").splitlines()
    prompts = [PromptInput(line.strip(), category, "admin page") for line in lines if line.strip()]
    added = admin.add_prompts(database(), _token(), prompts, web=True)
    return f"Added {added.added} prompts ({added.already_present} already stored)."


def _runs_section() -> None:
    st.subheader("Delete a run")
    runs = lq.run_choices(database(), complete_only=False, include_hidden=True)
    labels = {choice.id: run_label(choice) for choice in runs}
    st.selectbox("Run", list(labels), format_func=labels.__getitem__, key="admin_run", index=None, placeholder="choose a run")
    st.checkbox("Delete it even if it is still running", key="admin_force")
    st.button("Delete run", key="admin_delete_run", on_click=_act, args=(_delete_run,), disabled=not labels)


def _models_section() -> None:
    st.subheader("Hide or show a model")
    hidden = admin_queries.hidden_models(database())
    visible = [name for name in admin_queries.known_model_names(database()) if name not in hidden]
    st.selectbox("Model to hide", visible, key="admin_hide_name", index=None, placeholder="choose a model")
    st.button("Hide model", key="admin_hide", on_click=_act, args=(_hide,), disabled=not visible)
    st.selectbox("Hidden model to show again", hidden, key="admin_unhide_name", index=None, placeholder="choose a model")
    st.button("Show model again", key="admin_unhide", on_click=_act, args=(_unhide,), disabled=not hidden)


def _prompts_section() -> None:
    st.subheader("Add arena prompts")
    st.text_area("Prompts, one per line", key="admin_prompts")
    st.text_input("Category (optional)", key="admin_prompt_category")
    st.button("Add prompts", key="admin_add_prompts", on_click=_act, args=(_add_prompts,))


def _outages_section() -> None:
    st.subheader(f"Live arena: contestants that failed in the last {OUTAGE_MINUTES} minutes")
    outages = live_queries.outages(database(), live_queries.since_minutes(OUTAGE_MINUTES))
    if not outages:
        st.text("No contestant failed.")
        return
    rows = [
        {"contestant": o.contestant, "failures": o.failures, "last failure (UTC)": f"{o.last_at:%Y-%m-%d %H:%M:%S}", "last reason": o.last_reason}
        for o in outages
    ]
    st.dataframe(rows, hide_index=True)


def main() -> None:
    st.title("Admin")
    if not admin.web_admin_enabled():
        st.info(f"Admin is off on this server: the operator turns it on by setting {escape_markdown(admin.ENV_ADMIN_TOKEN)}.")
        return
    st.text_input("Admin token", type="password", key=TOKEN_KEY)
    if not _token():
        st.info("Enter the operator's admin token to delete runs, hide models and add arena prompts.")
        return
    try:
        admin.require_admin(_token(), web=True)
    except EvalsuiteError as error:
        st.error(escape_markdown(f"{error.message} — {error.hint}"))
        return
    outcome = st.session_state.pop(MESSAGE_KEY, None)
    if outcome is not None:
        kind, text = outcome
        (st.success if kind == "success" else st.error)(escape_markdown(text))
    _runs_section()
    _models_section()
    _prompts_section()
    _outages_section()


main()
