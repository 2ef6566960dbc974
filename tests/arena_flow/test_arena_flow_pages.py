"""The arena pages under streamlit.testing's AppTest: vote, reveal, next; the ratings page.

What the page shows is compared with the rows in the SQLite file (read with sqlite3)
and with ``compute_ratings`` on those rows.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from arena_flow_fixtures import APP, UNSAFE_ANSWER, VOTING_MODELS
from streamlit.testing.v1 import AppTest

from evalsuite.arena import voting
from evalsuite.arena.battles import Battle, Battles
from evalsuite.arena.ratings import compute_ratings
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

pytestmark = pytest.mark.usefixtures("app_env")
VOTE_PAGE = "views/arena_vote.py"
RATINGS_PAGE = "views/arena_ratings.py"


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    monkeypatch.setenv("EVALSUITE_DB", str(db))
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _sql(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def _texts(app: AppTest) -> list[str]:
    return [element.value for element in app.text]


def test_vote_reveal_next_stores_one_vote_and_draws_a_new_battle(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(voting_db, monkeypatch, VOTE_PAGE)
    (token, prompt_id, model_a, model_b, completion_a, completion_b), = _sql(
        voting_db, "SELECT token, prompt_id, model_a, model_b, completion_a_id, completion_b_id FROM battle"
    )
    answers = dict(_sql(voting_db, "SELECT id, text FROM completion"))
    prompt_text, category = _sql(voting_db, f"SELECT text, category FROM prompt WHERE id = {prompt_id}")[0]
    shown = _texts(app)
    assert prompt_text in shown and answers[completion_a] in shown and answers[completion_b] in shown
    assert shown.index(answers[completion_a]) < shown.index(answers[completion_b])  # A left, B right
    assert not any(model in text for text in shown for model in (model_a, model_b))  # anonymous before the vote
    assert [button.label for button in app.button] == ["A is better", "B is better", "Tie", "Both are bad"]

    app.button(key="vote_b").click().run()
    assert not app.exception
    assert f"A: {model_a}" in _texts(app) and f"B: {model_b}" in _texts(app)
    assert all(app.button(key=f"vote_{o}").disabled for o in ("a", "b", "tie", "both_bad"))
    (vote,) = _sql(voting_db, "SELECT model_a, model_b, outcome, voter, voter_kind, position_a, category FROM vote")
    assert vote[:3] == (model_a, model_b, "b") and vote[4:] == ("human", "left", category)
    assert vote[3] == app.session_state["arena_voter"] and vote[3].startswith("anon-")
    assert _sql(voting_db, "SELECT voted FROM battle") == [(1,)]

    app.button(key="arena_next").click().run()
    assert not app.exception
    battles = _sql(voting_db, "SELECT token, voted FROM battle ORDER BY id")
    assert len(battles) == 2 and battles[0] == (token, 1) and battles[1][0] != token and battles[1][1] == 0
    assert not any(text.startswith("A: ") for text in _texts(app))
    assert not app.button(key="vote_a").disabled


def test_a_replayed_battle_in_the_session_is_refused_on_screen(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(voting_db, monkeypatch, VOTE_PAGE)
    token, voter = _sql(voting_db, "SELECT token, voter FROM battle")[0]
    database = open_database(voting_db)
    arena_queries.record_vote(database, token, "a", voter)  # the same token used elsewhere first
    database.close()
    app.button(key="vote_tie").click().run()
    assert any("already has a vote" in error.value for error in app.error)
    assert _sql(voting_db, "SELECT outcome FROM vote") == [("a",)]


def test_answers_with_html_and_markdown_render_as_literal_text(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = open_database(voting_db)
    voting.issue_battle_for(database, "x", 1, VOTING_MODELS[0], VOTING_MODELS[2])
    database.close()
    for _ in range(12):  # draw until the HTML-answer model is on screen
        app = _app(voting_db, monkeypatch, VOTE_PAGE)
        if UNSAFE_ANSWER in _texts(app):
            break
    assert UNSAFE_ANSWER in _texts(app)
    assert not any("<script>" in markdown.value for markdown in app.markdown)
    app.button(key="vote_a").click().run()
    assert any(text.endswith("gamma<i>3b</i>") for text in _texts(app))


def test_page_says_what_to_do_when_no_prompt_has_two_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path / "empty.db", monkeypatch, VOTE_PAGE)
    assert any("arena generate" in info.value for info in app.info)


def _cast(db: Path, count: int, kind: str) -> None:
    database = open_database(db)
    for i in range(count):
        voter = "judge" if kind == "judge" else f"anon-{i}"
        battle = voting.issue_battle(database, voter)
        arena_queries.record_vote(database, battle.token, ("a", "b", "tie")[i % 3], voter, voter_kind=kind)
    database.close()


def _expected(db: Path, kinds: str, where: str = "") -> list[dict]:
    winners = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}
    rows = _sql(db, f"SELECT model_a, model_b, outcome, created_at FROM vote WHERE voter_kind IN ({kinds}) {where} ORDER BY id")
    battles = Battles.from_battles(
        Battle(a, b, winners[o], tstamp=datetime.fromisoformat(t).replace(tzinfo=UTC).timestamp()) for a, b, o, t in rows
    )
    return compute_ratings(battles, "bt", bootstrap_rounds=100, seed=0).to_json_rows()


def _assert_same_rows(shown: list[dict], expected: list[dict]) -> None:
    assert [row["model"] for row in shown] == [row["model"] for row in expected]
    for got, want in zip(shown, expected, strict=True):
        assert set(got) == set(want)
        for key, value in want.items():
            assert got[key] == (value if isinstance(value, str) else pytest.approx(value, abs=1e-9)), key


def test_ratings_page_table_matches_compute_ratings_and_filters_by_voter_and_category(
    voting_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cast(voting_db, 45, "human")
    _cast(voting_db, 30, "judge")
    app = _app(voting_db, monkeypatch, RATINGS_PAGE)
    frame = app.dataframe[0].value
    _assert_same_rows(frame.to_dict("records"), _expected(voting_db, "'human'"))
    assert len(app.get("vega_lite_chart")) == 2  # the interval plot and the win-rate heatmap
    app.sidebar.radio(key="arena_voters").set_value("Both").run()
    assert app.dataframe[0].value["battles"].sum() == 2 * 75
    app.sidebar.radio(key="arena_voters").set_value("People").run()
    app.sidebar.selectbox(key="arena_category").set_value("math").run()
    assert not app.exception
    expected = _expected(voting_db, "'human'", "AND category = 'math'")
    _assert_same_rows(app.dataframe[0].value.to_dict("records"), expected)


def test_ratings_page_without_votes_explains_how_to_get_some(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(voting_db, monkeypatch, RATINGS_PAGE)
    assert any("No votes" in info.value for info in app.info)
