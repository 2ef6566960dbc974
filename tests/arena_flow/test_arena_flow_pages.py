"""The arena pages under streamlit.testing's AppTest: vote, reveal, next; the ratings page.

What the page shows is compared with the rows in the SQLite file (read with sqlite3)
and with ``compute_ratings`` on those rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from arena_flow_fixtures import APP, UNSAFE_ANSWER, VOTING_MODELS, cast_votes, vote_on
from rendered_answers import ANSWER_PREFIX, answer_texts, parse_answer
from streamlit.testing.v1 import AppTest

from evalsuite.arena import voting
from evalsuite.arena.battles import Battle, Battles
from evalsuite.arena.ratings import compute_ratings
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

# The fixture's UNSAFE_ANSWER as a reader sees it: Markdown rendered, raw HTML shown as text.
RENDERED_UNSAFE = "<script>alert(1)</script> bold link <b>html</b>"

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


def _shown(markdown: str) -> str:
    """Markdown as a reader sees it: the page escapes stored names, so drop the escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


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
    as_read = [RENDERED_UNSAFE if answers[c] == UNSAFE_ANSWER else answers[c] for c in (completion_a, completion_b)]
    assert prompt_text in shown and answer_texts(app) == as_read  # A left, B right (the unsafe answer as rendered)
    assert not any(model in text for text in shown + answer_texts(app) for model in (model_a, model_b))  # anonymous before the vote
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
    with open_database(voting_db) as database:
        arena_queries.record_vote(database, token, "a", voter)  # the same token used elsewhere first
    app.button(key="vote_tie").click().run()
    assert any("already has a vote" in error.value for error in app.error)
    assert _sql(voting_db, "SELECT outcome FROM vote") == [("a",)]


def test_answers_render_markdown_but_show_html_as_text(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_database(voting_db) as database:
        voting.issue_battle_for(database, "x", 1, VOTING_MODELS[0], VOTING_MODELS[2])
    for _ in range(12):  # draw until the HTML-answer model is on screen
        app = _app(voting_db, monkeypatch, VOTE_PAGE)
        if "<script>alert(1)</script> bold link <b>html</b>" in answer_texts(app):
            break
    (rendered,) = [parse_answer(m.value) for m in app.markdown if m.value.startswith(ANSWER_PREFIX) and "script" in m.value]
    assert rendered.text == RENDERED_UNSAFE
    assert {"strong", "a"} <= set(rendered.tags) and not {"script", "b", "img"} & set(rendered.tags)
    assert not any("<script>" in markdown.value for markdown in app.markdown)
    app.button(key="vote_a").click().run()
    assert any(text.endswith("gamma<i>3b</i>") for text in _texts(app))


def test_a_markdown_heading_in_an_answer_is_a_heading_not_hashes(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_database(voting_db) as database:
        arena_queries.add_completion(database, 1, "delta-1b", "#### Steps\n\n1. **mix**\n2. bake", {"source": "fixed test text"})
        battle = voting.issue_battle_for(database, "anon-x", 1, VOTING_MODELS[0], "delta-1b")
    monkeypatch.setenv("EVALSUITE_DB", str(voting_db))
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.switch_page(VOTE_PAGE)
    app.session_state["arena_voter"] = "anon-x"
    app.session_state["arena_battle"] = battle
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    rendered = parse_answer(next(m.value for m in app.markdown if m.value.startswith(ANSWER_PREFIX) and "Steps" in m.value))
    assert rendered.tags[:2] == ["div", "h4"] and rendered.tags.count("li") == 2 and "strong" in rendered.tags
    assert "####" not in rendered.text and "Steps" in rendered.text


def test_page_says_what_to_do_when_no_prompt_has_two_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path / "empty.db", monkeypatch, VOTE_PAGE)
    assert any("arena generate" in info.value for info in app.info)


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


def _human_rows(expected: list[dict]) -> list[dict]:
    """The table people read, worked out from the exact rows: whole points, CI as +a/−b."""
    return [
        {"Rank": row["rank"], "Model": row["model"], "Bradley–Terry": round(row["rating"]),
         "95% CI": f"+{round(row['upper'] - row['rating'])}/−{round(row['rating'] - row['lower'])}",
         "Battles": row["battles"], "Elo (online)": round(row["elo_online"])}
        for row in expected
    ]


def test_ratings_page_table_matches_compute_ratings_and_filters_by_voter_and_category(
    voting_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cast_votes(voting_db, 45, "human")
    cast_votes(voting_db, 30, "judge")
    app = _app(voting_db, monkeypatch, RATINGS_PAGE)
    expected = _expected(voting_db, "'human'")
    assert app.dataframe[0].value.to_dict("records") == _human_rows(expected)
    _assert_same_rows(app.dataframe[1].value.to_dict("records"), expected)  # the exact values, as --json
    assert not app.warning  # every model has at least 20 battles
    assert len(app.get("vega_lite_chart")) == 2  # the interval plot and the win-rate heatmap
    app.sidebar.radio(key="arena_voters").set_value("Both").run()
    assert app.dataframe[0].value["Battles"].sum() == 2 * 75
    app.sidebar.radio(key="arena_voters").set_value("People").run()
    app.sidebar.selectbox(key="arena_category").set_value("math").run()
    assert not app.exception
    expected = _expected(voting_db, "'human'", "AND category = 'math'")
    _assert_same_rows(app.dataframe[1].value.to_dict("records"), expected)


def test_win_rate_heatmap_has_one_cell_per_pair_and_a_height_per_model(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20 item 7: a fixed 120 px height went to the rotated opponent labels, leaving the rows none.

    The browser test (test_arena_flow_browser.py) measures the drawn cells; here the spec
    Streamlit sends: a height per model row, every model on both axes, a cell per pair that met.
    """
    from streamlit import dataframe_util

    cast_votes(voting_db, 45, "human")
    app = _app(voting_db, monkeypatch, RATINGS_PAGE)
    heatmap = app.get("vega_lite_chart")[1].proto
    spec = json.loads(heatmap.spec)
    assert isinstance(spec["height"], dict) and spec["height"]["step"] >= 20  # per model row, whatever the axes take
    layers = spec["layer"]
    for axis in ("x", "y"):
        assert sorted(layers[0]["encoding"][axis]["sort"]) == sorted(VOTING_MODELS)
    (dataset,) = heatmap.datasets
    cells = dataframe_util.convert_arrow_bytes_to_pandas_df(dataset.data.data)
    met = {pair for a, b in _sql(voting_db, "SELECT model_a, model_b FROM vote") for pair in ((a, b), (b, a))}
    assert sorted(zip(cells["model"], cells["opponent"])) == sorted(met)


def test_ratings_page_without_votes_explains_how_to_get_some(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(voting_db, monkeypatch, RATINGS_PAGE)
    info = _shown(app.info[0].value)
    assert len(app.info) == 1 and info.startswith("No votes by people yet.") and "arena judge" in info


def test_ratings_page_opens_on_judge_votes_when_no_person_has_voted(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cast_votes(voting_db, 80, "judge")
    app = _app(voting_db, monkeypatch, RATINGS_PAGE)
    assert app.sidebar.radio(key="arena_voters").value == "Model judges"
    assert not app.info and app.dataframe[0].value["Battles"].sum() == 2 * 80
    app.sidebar.radio(key="arena_voters").set_value("People").run()
    info = _shown(app.info[0].value)
    assert len(app.info) == 1 and info.startswith("No votes by people yet (80 votes by model judges are stored).")
    assert "arena judge" not in info and "Votes from" in info


def test_ratings_page_says_when_every_vote_involves_a_hidden_model(voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalsuite.store import admin_queries

    cast_votes(voting_db, 12, "human")
    with open_database(voting_db) as database:
        for model in VOTING_MODELS[:2]:  # with two of three hidden, every pair has a hidden model
            admin_queries.hide_model(database, model)
    app = _app(voting_db, monkeypatch, RATINGS_PAGE)
    info = _shown(app.info[0].value)
    assert len(app.info) == 1 and info.startswith(f"All 12 votes by people involve a hidden model ({VOTING_MODELS[0]}, {VOTING_MODELS[1]}).")
    assert "un-hide" in info and not app.dataframe


def test_ratings_page_with_two_votes_warns_and_shows_elo_while_bradley_terry_is_unbounded(
    voting_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20 (few votes) and issue 22: a newcomer's two votes give a table and warnings, not an error."""
    alpha, beta, gamma = VOTING_MODELS
    vote_on(voting_db, [(alpha, beta, "a"), (gamma, alpha, "b")])  # alpha never loses: no finite Bradley–Terry
    app = _app(voting_db, monkeypatch, RATINGS_PAGE)
    warnings = [_shown(warning.value) for warning in app.warning]
    assert any("Bradley–Terry ratings are not bounded yet" in w and "online Elo instead" in w for w in warnings), warnings
    assert any("3 of 3 models have fewer than 20 battles" in w for w in warnings), warnings
    table = app.dataframe[0].value
    assert list(table.columns) == ["Rank", "Model", "Elo (online)", "95% CI", "Battles", "Bradley–Terry"]
    assert table.set_index("Model")["Battles"].to_dict() == {alpha: 2, beta: 1, gamma: 1}
    assert set(table["Bradley–Terry"]) == {"not bounded yet"}
    # Online Elo by hand: K=4, both start at 1000, so each win moves 2 points; alpha's second game is at 1002 vs 1000.
    second = 4 * (1 - 1 / (1 + 10 ** ((1000 - 1002) / 400)))
    assert table.set_index("Model")["Elo (online)"].to_dict() == {alpha: round(1002 + second), beta: 998, gamma: round(1000 - second)}
