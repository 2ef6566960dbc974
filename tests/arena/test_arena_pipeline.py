"""One store -> ratings pipeline: the CLI, the Python API, the ratings page and the board's column agree.

The votes are written through the store (people, a model judge, a hidden model, an
answer that names its maker); each reader is driven as a user drives it (CliRunner,
``evalsuite.ratings``, the Streamlit page under AppTest, the board's column) and their
tables must be identical, value for value. The counts the CLI prints are checked against
the vote table read with sqlite3.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import evalsuite
from evalsuite.arena import voting
from evalsuite.cli.app import app
from evalsuite.store import admin_queries, arena_queries
from evalsuite.store.db import open_database

MODELS = ("alpha", "beta", "gamma", "delta")
HIDDEN = "delta"
ROUNDS = 20
APP = Path(__file__).resolve().parents[2] / "leaderboard" / "app.py"


def _stored_votes(db: Path) -> None:
    """Four prompts answered by four models; 45 people's votes, 15 judge votes; ``HIDDEN`` hidden afterwards."""
    database = open_database(db)
    try:
        arena_queries.add_prompts(database, [arena_queries.PromptInput(f"question {i}", ("math", "code")[i % 2]) for i in range(4)])
        for prompt in arena_queries.list_prompts(database):
            for model in MODELS:
                text = f"{model} answers {prompt.id}" + (" -- as trained by OpenAI" if (model, prompt.id) == ("beta", 1) else "")
                arena_queries.add_completion(database, prompt.id, model, text)
        rng = np.random.default_rng(7)
        for i in range(60):
            kind, voter = ("judge", "judge-x") if i % 4 == 3 else ("human", f"person-{i % 5}")
            battle = voting.issue_battle(database, voter, rng)
            arena_queries.record_vote(database, battle.token, ("a", "b", "tie", "a")[i % 4], voter, voter_kind=kind)
        assert admin_queries.hide_model(database, HIDDEN)
    finally:
        database.close()


@pytest.fixture
def votes_db(tmp_path: Path) -> Iterator[Path]:
    import streamlit as st

    db = tmp_path / "arena.db"
    _stored_votes(db)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db
    st.cache_data.clear()
    st.cache_resource.clear()


def _cli_rows(db: Path, *extra: str) -> list[dict]:
    result = CliRunner().invoke(app, ["arena", "ratings", "--db", str(db), "--json", "--bootstrap", str(ROUNDS), *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _page_rows(db: Path, monkeypatch: pytest.MonkeyPatch, voters: str) -> list[dict]:
    """The page's "Exact values" frame (the rows `arena ratings --json` prints), votes from ``voters``."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EVALSUITE_DB", str(db))
    page = AppTest.from_file(str(APP), default_timeout=120)
    page.switch_page("views/arena_ratings.py")
    page.session_state["arena_rounds"] = ROUNDS
    page.session_state["arena_voters"] = voters
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    (frame,) = [f.value for f in page.dataframe if "elo_online" in f.value.columns]
    return frame.to_dict("records")


def _sql_count(db: Path, query: str) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute(query).fetchone()[0])


@pytest.mark.parametrize(("include_judges", "voters"), [(False, "People"), (True, "Both")])
def test_cli_api_and_page_rate_the_same_stored_votes_identically(
    votes_db: Path, monkeypatch: pytest.MonkeyPatch, include_judges: bool, voters: str,
) -> None:
    cli = _cli_rows(votes_db, *(["--include-judges"] if include_judges else []))
    api = evalsuite.ratings(db=str(votes_db), bootstrap=ROUNDS, include_judges=include_judges).to_dict("records")
    page = _page_rows(votes_db, monkeypatch, voters)
    assert cli == api == page
    assert sorted(row["model"] for row in cli) == ["alpha", "beta", "gamma"]  # the hidden model is rated nowhere
    kinds = "('human', 'judge')" if include_judges else "('human')"
    rated = _sql_count(votes_db, f"SELECT count(*) FROM vote WHERE voter_kind IN {kinds} AND '{HIDDEN}' NOT IN (model_a, model_b)")
    leaked = json.loads(CliRunner().invoke(
        app, ["arena", "ratings", "--db", str(votes_db), "--json", "--bootstrap", "0", "--style-control",
              *(["--include-judges"] if include_judges else [])],
    ).stdout)["leaks"]["excluded"]
    assert leaked > 0 and sum(row["battles"] for row in cli) == 2 * (rated - leaked)  # each battle counts for both models


def test_the_boards_arena_column_is_the_clis_point_rating(votes_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bradley–Terry point ratings do not depend on the bootstrap: the board's column equals the CLI's ratings."""
    from leaderboard.board_ui.arena import arena_ratings

    monkeypatch.setenv("EVALSUITE_DB", str(votes_db))
    assert arena_ratings() == {row["model"]: row["rating"] for row in _cli_rows(votes_db)}


def test_the_cli_counts_the_votes_it_rated_per_kind(votes_db: Path) -> None:
    """With a hidden model's judge votes stored, "N by people" counted people's votes minus every judge vote."""
    result = CliRunner().invoke(app, ["arena", "ratings", "--db", str(votes_db), "--include-judges", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    visible = f"'{HIDDEN}' NOT IN (model_a, model_b)"
    people = _sql_count(votes_db, f"SELECT count(*) FROM vote WHERE voter_kind = 'human' AND {visible}")
    judges = _sql_count(votes_db, f"SELECT count(*) FROM vote WHERE voter_kind = 'judge' AND {visible}")
    hidden_judged = _sql_count(votes_db, f"SELECT count(*) FROM vote WHERE voter_kind = 'judge' AND NOT {visible}")
    assert hidden_judged > 0  # the case the old count got wrong
    assert f"{people} by people, {judges} by model judges" in " ".join(result.output.split())
