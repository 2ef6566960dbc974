"""`evalsuite arena ratings` and `arena export` through CliRunner.

Expected values: ``compute_ratings`` on battles read from the same file (the CLI must
add nothing of its own), and vote rows read straight from the database with plain SQL
(tests/raw_sql.py) for the export; ratings from stored votes are checked on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from arena_flow_fixtures import VOTING_MODELS, fill_voting_db, table_rows, vote_on
from raw_sql import sql
from typer.testing import CliRunner

from evalsuite.arena import voting
from evalsuite.arena.battles import Battle, Battles, read_battles, write_battles
from evalsuite.arena.ratings import compute_ratings
from evalsuite.cli.app import app
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

PASSWORD = "s3cret-pw"
WINNER_OF = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


def _battles_file(path: Path, count: int = 400) -> Path:
    """Seeded battles among four models of clearly different strength."""
    rng = np.random.default_rng(3)
    strength = {"m-low": 0.0, "m-mid": 0.6, "m-high": 1.2, "m-top": 1.8}
    names = list(strength)
    battles = []
    for i in range(count):
        a, b = rng.choice(len(names), 2, replace=False)
        p = 1 / (1 + np.exp(strength[names[b]] - strength[names[a]]))
        draw = rng.random()
        winner = "tie" if draw < 0.1 else "model_a" if draw < 0.1 + 0.9 * p else "model_b"
        battles.append(Battle(names[a], names[b], winner, tstamp=1.7e9 + i, category=("math", "code")[i % 2]))
    write_battles(Battles.from_battles(battles), path)
    return path


def _json(result: object) -> list[dict]:
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return json.loads(result.stdout)  # type: ignore[attr-defined]


def test_ratings_json_from_a_battles_file_equals_compute_ratings(tmp_path: Path) -> None:
    file = _battles_file(tmp_path / "battles.json")
    rows = _json(CliRunner().invoke(app, ["arena", "ratings", "--battles", str(file), "--json", "--bootstrap", "30"]))
    assert rows == compute_ratings(read_battles(file), "bt", bootstrap_rounds=30, seed=0).to_json_rows()
    assert set(rows[0]) == {"model", "rating", "lower", "upper", "rank", "battles", "elo_online"}
    assert [row["model"] for row in rows] == ["m-top", "m-high", "m-mid", "m-low"]


def test_ratings_json_elo_with_anchor_and_category_equals_compute_ratings(tmp_path: Path) -> None:
    from evalsuite.arena.battles import filter_battles

    file = _battles_file(tmp_path / "battles.jsonl")
    args = ["arena", "ratings", "--battles", str(file), "--json", "--method", "elo", "--bootstrap", "20",
            "--anchor", "m-low=800", "--category", "math", "--seed", "5"]
    rows = _json(CliRunner().invoke(app, args))
    expected = compute_ratings(
        filter_battles(read_battles(file), category="math"), "elo", bootstrap_rounds=20, seed=5, anchor={"m-low": 800.0}
    )
    assert rows == expected.to_json_rows()
    assert next(row for row in rows if row["model"] == "m-low")["rating"] == pytest.approx(800.0)
    assert sum(row["battles"] for row in rows) == 2 * 200


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"model_a": "x", "model_b": "y", "winner": "x"}]', "item 0: unknown winner 'x'"),
        ('{"model_a": "x", "model_b": "y", "winner": "model_a"}\n{"model_a": "x", "model_b": "x", "winner": "tie"}\n',
         "line 2: model 'x' battles itself"),
        ("", "file is empty"),
    ],
)
def test_ratings_on_a_bad_battles_file_prints_one_error_line(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text(content)
    result = CliRunner().invoke(app, ["arena", "ratings", "--battles", str(file)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output


def test_ratings_bad_anchor_is_an_error(tmp_path: Path) -> None:
    file = _battles_file(tmp_path / "battles.json", 50)
    result = CliRunner().invoke(app, ["arena", "ratings", "--battles", str(file), "--anchor", "m-low"])
    assert result.exit_code == 1 and "--anchor expects MODEL=RATING" in result.output


def _cast_votes(db: Path | str, count: int, voter_kind: str = "human") -> None:
    with open_database(db) as database:
        rng = np.random.default_rng(11)
        for i in range(count):
            voter = "judge-model" if voter_kind == "judge" else f"anon-{i % 4}"
            battle = voting.issue_battle(database, voter, rng)
            outcome = ("a", "b", "tie", "both_bad")[int(rng.integers(4))]
            arena_queries.record_vote(database, battle.token, outcome, voter, voter_kind=voter_kind)


def _vote_rows(db: Path | str, kinds: tuple[str, ...]) -> list[tuple]:
    marks = ",".join(f":k{n}" for n in range(len(kinds)))
    query = f"SELECT model_a, model_b, outcome, created_at, category, voter, battle_id FROM vote WHERE voter_kind IN ({marks}) ORDER BY id"
    return sql(db, query, **{f"k{n}": kind for n, kind in enumerate(kinds)})


def _epoch(stored: str | datetime) -> float:
    """A stored UTC time (SQLite hands back text, PostgreSQL a timestamp without zone) as epoch seconds."""
    moment = stored if isinstance(stored, datetime) else datetime.fromisoformat(stored)
    return moment.replace(tzinfo=UTC).timestamp()


@pytest.fixture
def voting_db_on_each_engine(db_url: str) -> str:
    """The voting database (tests/arena_flow/conftest.py's) on SQLite and on PostgreSQL."""
    fill_voting_db(db_url)  # type: ignore[arg-type]  # open_database takes a path or a URL
    return db_url


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_export_round_trips_through_read_battles(voting_db: Path, tmp_path: Path, suffix: str) -> None:
    _cast_votes(voting_db, 30)
    _cast_votes(voting_db, 5, voter_kind="judge")
    output = tmp_path / f"export{suffix}"
    result = CliRunner().invoke(app, ["arena", "export", "--output", str(output), "--db", str(voting_db)])
    assert result.exit_code == 0, result.output
    exported = list(read_battles(output))
    rows = _vote_rows(voting_db, ("human",))
    assert [(b.model_a, b.model_b, b.winner, b.category, b.voter, b.battle_id) for b in exported] == [
        (a, b, WINNER_OF[outcome], category, voter, battle_id) for a, b, outcome, _, category, voter, battle_id in rows
    ]
    assert [b.tstamp for b in exported] == pytest.approx([_epoch(row[3]) for row in rows], abs=1e-3)
    with_judges = tmp_path / f"all{suffix}"
    CliRunner().invoke(app, ["arena", "export", "-o", str(with_judges), "--include-judges", "--db", str(voting_db)])
    assert len(read_battles(with_judges)) == 35


def test_export_to_stdout_is_a_fastchat_json_list(voting_db: Path) -> None:
    _cast_votes(voting_db, 6)
    result = CliRunner().invoke(app, ["arena", "export", "--db", str(voting_db)])
    records = json.loads(result.stdout)
    assert len(records) == 6 and {"model_a", "model_b", "winner", "tstamp"} <= set(records[0])


def test_ratings_from_the_database_leave_judge_votes_out_unless_asked(voting_db_on_each_engine: str) -> None:
    voting_db = voting_db_on_each_engine
    _cast_votes(voting_db, 40)
    _cast_votes(voting_db, 25, voter_kind="judge")
    runner = CliRunner()
    humans = _json(runner.invoke(app, ["arena", "ratings", "--json", "--bootstrap", "10", "--db", str(voting_db)]))
    everyone = _json(runner.invoke(app, ["arena", "ratings", "--json", "--bootstrap", "10", "--include-judges", "--db", str(voting_db)]))
    for kinds, rows in ((("human",), humans), (("human", "judge"), everyone)):
        battles = Battles.from_battles(
            Battle(a, b, WINNER_OF[outcome], tstamp=_epoch(created)) for a, b, outcome, created, *_ in _vote_rows(voting_db, kinds)
        )
        assert rows == compute_ratings(battles, "bt", bootstrap_rounds=10, seed=0).to_json_rows()
    assert sum(r["battles"] for r in humans) == 2 * 40 and sum(r["battles"] for r in everyone) == 2 * 65


def test_ratings_table_output_names_every_model(voting_db: Path) -> None:
    _cast_votes(voting_db, 30)
    result = CliRunner().invoke(app, ["arena", "ratings", "--bootstrap", "10", "--db", str(voting_db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Bradley–Terry ratings from 30 battles" in result.output
    for model in ("alpha-7b", "beta-13b", "gamma<i>3b</i>"):
        assert model in result.output


def test_ratings_table_shows_whole_points_a_plus_minus_ci_and_plain_headers(tmp_path: Path) -> None:
    """Issue 20: 4 decimals and a raw `elo_online` header; now Chatbot Arena's integers and "95% CI" as +a/−b."""
    file = _battles_file(tmp_path / "battles.json")
    result = CliRunner().invoke(app, ["arena", "ratings", "--battles", str(file), "--bootstrap", "30"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    assert rows["Model"] == ["Rank", "Model", "Bradley–Terry", "95% CI", "Battles", "Elo (online)"]
    for row in compute_ratings(read_battles(file), "bt", bootstrap_rounds=30, seed=0).rows:
        plus, minus = round(row.upper - row.rating), round(row.rating - row.lower)
        assert row.elo_online is not None
        assert rows[row.model] == [str(row.rank), row.model, str(round(row.rating)), f"+{plus}/−{minus}", str(row.battles),
                                   str(round(row.elo_online))]
    assert "elo_online" not in result.stdout and "warning" not in result.output  # 200 battles per model: no caution


def test_ratings_after_two_votes_print_a_table_with_warnings_not_an_error(voting_db: Path) -> None:
    """Issue 20 (two votes, an interval of −1483 … 3483 and no warning) and issue 22 (one model never lost: an error exit)."""
    alpha, beta, gamma = VOTING_MODELS
    vote_on(voting_db, [(alpha, beta, "a"), (beta, alpha, "a")])  # one win each: bounded, but only two votes
    result = CliRunner().invoke(app, ["arena", "ratings", "--db", str(voting_db)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "warning: 2 of 2 models have fewer than 20 battles" in " ".join(result.stderr.split())
    assert set(table_rows(result.stdout)) == {"Model", alpha, beta}
    vote_on(voting_db, [(gamma, alpha, "b")])  # gamma has only lost: Bradley–Terry has no finite maximum
    result = CliRunner().invoke(app, ["arena", "ratings", "--db", str(voting_db)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    assert rows["Model"] == ["Rank", "Model", "Elo (online)", "95% CI", "Battles", "Bradley–Terry"]
    assert {model: (cells[4], cells[5]) for model, cells in rows.items() if model != "Model"} == {
        alpha: ("3", "not bounded yet"), beta: ("2", "not bounded yet"), gamma: ("1", "not bounded yet")}
    warnings = " ".join(result.stderr.split())
    assert "warning: Bradley–Terry ratings are not bounded yet" in warnings and "3 of 3 models have fewer than 20" in warnings
    strict = CliRunner().invoke(app, ["arena", "ratings", "--json", "--db", str(voting_db)])  # an API: no silent switch
    assert strict.exit_code == 1 and "Bradley–Terry ratings are unbounded" in strict.output


def test_ratings_say_why_there_is_nothing_to_rate(voting_db_on_each_engine: str) -> None:
    """Issue 20: after `admin hide-model`, `arena ratings --include-judges` told the user to pass --include-judges."""
    from sqlalchemy.engine import make_url

    db = voting_db_on_each_engine
    _cast_votes(db, 6, voter_kind="judge")
    if "://" in db:  # the test server trusts every login, so a password may ride along; it must never be printed
        db = make_url(db).set(password=PASSWORD).render_as_string(hide_password=False)
    runner = CliRunner()
    people = runner.invoke(app, ["arena", "ratings", "--db", db])
    assert people.exit_code == 1 and PASSWORD not in people.output
    assert "no votes by people yet (6 votes by model judges are stored)" in people.output and "--include-judges" in people.output
    for model in VOTING_MODELS[:2]:  # with two of three hidden, every pair has a hidden model
        assert runner.invoke(app, ["admin", "hide-model", model, "--db", db]).exit_code == 0
    hidden = runner.invoke(app, ["arena", "ratings", "--include-judges", "--db", db])
    assert hidden.exit_code == 1 and PASSWORD not in hidden.output
    line = " ".join(hidden.output.split())
    assert f"all 6 votes by people or model judges involve a hidden model ({VOTING_MODELS[0]}, {VOTING_MODELS[1]})" in line
    assert "unhide-model" in line and "--include-judges" not in line
