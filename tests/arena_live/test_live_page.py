"""The live arena's battle page under AppTest with the two demo models in this process.

Each AppTest is one browser session: a battle of its own in ``st.session_state``. What the
page shows is checked against the rows in the SQLite file (read with sqlite3).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from rendered_answers import answer_texts
from served_app import REPO_ROOT
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from evalsuite.cli.app import app as cli_app
from evalsuite.errors import ArenaError

APP = REPO_ROOT / "leaderboard" / "app.py"
DEMO_CONTESTANTS = REPO_ROOT / "examples" / "arena_demo.yaml"
SESSIONS = 7  # with the three Chromium pages of test_live_browser.py: ten sessions


@pytest.fixture(scope="module")
def contestants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped demo file with a short prompt limit and two turns per battle (to reach both limits)."""
    path = tmp_path_factory.mktemp("arena") / "arena.yaml"
    path.write_text("arena:\n  prompt_chars: 200\n  turn_limit: 2\n" + DEMO_CONTESTANTS.read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.fixture
def live_env(tmp_path: Path, contestants: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "live.db"
    monkeypatch.setenv("EVALSUITE_DB", str(db))
    monkeypatch.setenv("EVALSUITE_ARENA_CONTESTANTS", str(contestants))
    yield db


def _sql(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def _session() -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=300).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _send(app: AppTest, prompt: str) -> AppTest:
    app.text_area(key="live_prompt").input(prompt)
    app.button(key="live_send").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _errors(app: AppTest) -> list[str]:
    return [error.value.replace("\\", "") for error in app.error]


def test_two_turns_vote_then_names(live_env: Path) -> None:
    app = _session()
    assert app.button(key="live_vote_model_a").disabled  # nothing to vote on yet
    _send(app, "Name a colour.")
    assert len(answer_texts(app)) == 2 and not app.button(key="live_vote_model_a").disabled
    assert [h.value for h in app.subheader] == ["Model A", "Model B"]  # anonymous before the vote
    _send(app, "And a fruit?")
    assert len(answer_texts(app)) == 4 and [m.value for m in app.chat_message[0].children.values()][0] == "Name a colour."
    app.button(key="live_vote_model_b").click().run()
    (model_a, model_b, outcome, kind), = _sql(live_env, "SELECT model_a, model_b, outcome, voter_kind FROM vote")
    assert (outcome, kind) == ("b", "human") and {model_a, model_b} == {"pico-s", "pico-m"}
    assert [h.value.replace("\\", "") for h in app.subheader] == [f"Model A: {model_a}", f"Model B: {model_b}"]
    assert all(app.button(key=f"live_vote_{w}").disabled for w in ("model_a", "model_b", "tie", "tie (bothbad)"))
    app.button(key="live_new_round").click().run()
    assert answer_texts(app) == [] and app.button(key="live_vote_model_a").disabled


def test_refusals_are_said_on_the_page_and_send_nothing(live_env: Path) -> None:
    app = _session()
    _send(app, "   ")
    assert any("the prompt is empty" in error for error in _errors(app))
    _send(app, "x" * 201)
    assert any("the limit is 200" in error for error in _errors(app))
    _send(app, "One.")
    _send(app, "Two.")
    _send(app, "Three.")
    assert any("limit of 2 turns" in error for error in _errors(app))
    assert len(answer_texts(app)) == 4  # two turns, both sides; the refused prompts reached no model


def test_sessions_see_only_their_own_conversation_and_each_vote_is_stored_once(live_env: Path) -> None:
    apps = [_send(_session(), f"Session {n}: say {n}.") for n in range(SESSIONS)]
    for n, app in enumerate(apps):
        prompts = [message.children[0].value for message in app.chat_message]
        assert prompts == [f"Session {n}: say {n}."]
    for app in apps:
        app.button(key="live_vote_tie").click().run()
    for app in apps:  # the buttons are off now, and a replayed vote (a forged event) is refused
        assert app.button(key="live_vote_tie").disabled
        with pytest.raises(ArenaError):
            app.session_state["live_battle"].vote("tie")
    votes = _sql(live_env, "SELECT live_battle_id, outcome FROM vote ORDER BY live_battle_id")
    assert len(votes) == SESSIONS and len({battle for battle, _ in votes}) == SESSIONS and {o for _, o in votes} == {"tie"}


def test_named_side_by_side_stores_the_vote_but_never_counts_it(live_env: Path) -> None:
    app = AppTest.from_file(str(APP), default_timeout=300)
    app.switch_page("views/arena_side_by_side.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert [box.value for box in app.selectbox] == ["pico-s", "pico-m"]
    app.selectbox(key="named_a").set_value("pico-m")
    app.selectbox(key="named_b").set_value("pico-s")
    _send(app, "Name a colour.")
    assert [h.value.replace("\\", "") for h in app.subheader] == ["Model A: pico-m", "Model B: pico-s"]  # named from the start
    app.button(key="live_vote_model_a").click().run()
    assert _sql(live_env, "SELECT anonymous, outcome, winner FROM live_battle") == [(0, "voted", "model_a")]
    assert _sql(live_env, "SELECT COUNT(*) FROM vote") == [(0,)]  # never a rated vote


def _ratings(db: Path) -> str:
    result = CliRunner().invoke(cli_app, ["arena", "ratings", "--db", str(db), "--json", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_direct_chat_stores_the_conversation_with_no_vote_and_leaves_the_ratings_alone(live_env: Path) -> None:
    for verdict in ("live_vote_model_a", "live_vote_tie"):  # two anonymous votes: a ratings table to compare
        _send(_session(), "Name a colour.").button(key=verdict).click().run()
    before = _ratings(live_env)
    app = AppTest.from_file(str(APP), default_timeout=300)
    app.switch_page("views/arena_direct_chat.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    app.selectbox(key="direct_model").set_value("pico-m")
    _send(app, "Name a colour.")
    assert [h.value.replace("\\", "") for h in app.subheader] == ["pico-m"] and len(answer_texts(app)) == 1
    assert not any(key.startswith("live_vote_") for key in (b.key for b in app.button))  # nothing to vote on
    _send(app, "And a fruit?")
    app.button(key="live_regenerate").click().run()
    assert not app.exception and len(answer_texts(app)) == 2
    shown = answer_texts(app)
    app.button(key="live_new_round").click().run()
    battles = _sql(live_env, "SELECT id, anonymous, model_a, model_b, turns, outcome, winner FROM live_battle WHERE NOT anonymous")
    (battle_id, anonymous, model_a, model_b, turns, outcome, winner), = battles
    assert (anonymous, model_a, model_b, turns, outcome, winner) == (0, "pico-m", "", 2, "abandoned", None)
    stored = _sql(live_env, f"SELECT turn, side, prompt, text FROM live_turn WHERE battle_id = {battle_id} AND NOT replaced ORDER BY turn")
    assert [(turn, side, prompt) for turn, side, prompt, _ in stored] == [(1, "a", "Name a colour."), (2, "a", "And a fruit?")]
    assert len(shown) == 2 and all(text.strip() for *_, text in stored)  # one answer per turn, turn 2 as regenerated
    assert _sql(live_env, f"SELECT COUNT(*) FROM live_turn WHERE battle_id = {battle_id} AND replaced") == [(1,)]
    assert _sql(live_env, f"SELECT COUNT(*) FROM vote WHERE live_battle_id = {battle_id}") == [(0,)]
    assert _sql(live_env, "SELECT COUNT(*) FROM vote") == [(2,)]
    assert _ratings(live_env) == before
