"""`evalsuite arena export --format fastchat` and `evalsuite arena import`, through CliRunner on real SQLite.

Expected values: FastChat's field names and winner spellings as its ``clean_battle_data.py``
writes them; vote, prompt and answer rows read straight from the database with plain SQL
(tests/raw_sql.py); ratings from `arena ratings --json` on the source database.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from arena_flow_fixtures import VOTING_MODELS, table_rows, vote_on
from raw_sql import sql
from typer.testing import CliRunner

from evalsuite.arena import voting
from evalsuite.cli.app import app
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

FASTCHAT_FIELDS = {"question_id", "model_a", "model_b", "winner", "judge", "conversation_a", "conversation_b", "turn",
                   "anony", "tstamp"}
WINNER_OF = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


def _cast_votes(db: Path, count: int, voter_kind: str = "human", seed: int = 5) -> None:
    """``count`` votes on battles the server draws, outcomes drawn evenly, from four people (or one judge)."""
    rng = np.random.default_rng(seed)
    with open_database(db) as database:
        for i in range(count):
            voter = "judge-model" if voter_kind == "judge" else f"anon-{i % 4}"
            battle = voting.issue_battle(database, voter, rng)
            outcome = ("a", "b", "tie", "both_bad")[int(rng.integers(4))]
            arena_queries.record_vote(database, battle.token, outcome, voter, voter_kind=voter_kind)


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_fastchat_export_writes_clean_battle_data_fields_from_the_stored_rows(voting_db: Path, tmp_path: Path) -> None:
    _cast_votes(voting_db, 12)
    _cast_votes(voting_db, 3, voter_kind="judge")
    output = tmp_path / "battles.json"
    _invoke("arena", "export", "--format", "fastchat", "--output", str(output), "--db", str(voting_db))
    records = json.loads(output.read_text(encoding="utf-8"))
    rows = sql(voting_db, """
        SELECT v.model_a, v.model_b, v.outcome, v.voter, v.category, v.prompt_id, p.text, ca.text, cb.text
        FROM vote v JOIN battle b ON b.id = v.battle_id JOIN prompt p ON p.id = v.prompt_id
        JOIN completion ca ON ca.id = b.completion_a_id JOIN completion cb ON cb.id = b.completion_b_id
        WHERE v.voter_kind = 'human' ORDER BY v.id""")
    assert len(records) == len(rows) == 12
    for record, (model_a, model_b, outcome, voter, category, prompt_id, prompt, answer_a, answer_b) in zip(records, rows):
        assert FASTCHAT_FIELDS <= set(record) and "voter" not in record and "voter_kind" not in record
        assert (record["model_a"], record["model_b"], record["winner"]) == (model_a, model_b, WINNER_OF[outcome])
        assert record["judge"] == "arena_user_" + hashlib.sha256(voter.encode()).hexdigest()[:16]
        assert record["conversation_a"] == [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer_a}]
        assert record["conversation_b"] == [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer_b}]
        assert (record["turn"], record["anony"], record["category"]) == (1, True, category)
        assert record["question_id"] == f"prompt-{prompt_id}"
    assert len({record["judge"] for record in records}) == 4  # four people, four anonymous ids
    with_judges = json.loads(_invoke("arena", "export", "--format", "fastchat", "--include-judges", "--db", str(voting_db)))
    judged = [record for record in with_judges if record.get("voter_kind") == "judge"]
    assert len(with_judges) == 15 and len(judged) == 3 and {r["judge"] for r in judged} == {"judge-model"}


def test_fastchat_export_rates_as_the_database_it_came_from(voting_db: Path, tmp_path: Path) -> None:
    """The leak filter reads the exported conversations as it reads the stored answers (one model's answer leaks)."""
    _cast_votes(voting_db, 40)
    output = tmp_path / "battles.jsonl"
    _invoke("arena", "export", "--format", "fastchat", "-o", str(output), "--db", str(voting_db))
    options = ("--json", "--bootstrap", "20", "--method", "elo")
    from_db = json.loads(_invoke("arena", "ratings", *options, "--db", str(voting_db)))
    from_file = json.loads(_invoke("arena", "ratings", *options, "--battles", str(output)))
    assert from_file == from_db and {row["model"] for row in from_db} <= set(VOTING_MODELS)


def test_unknown_export_format_is_an_error_with_a_hint(voting_db: Path) -> None:
    result = CliRunner().invoke(app, ["arena", "export", "--format", "csv", "--db", str(voting_db)])
    assert result.exit_code == 1 and "unknown export format 'csv'" in result.output and "fastchat" in result.output


def test_a_newcomers_first_one_and_two_votes_give_a_table_with_bradley_terry_not_bounded(voting_db: Path) -> None:
    """Issue 22: one model never lost, so Bradley–Terry has no finite maximum; the table shows counts, Elo, and why."""
    alpha, beta, _ = VOTING_MODELS
    for votes in (1, 2):
        vote_on(voting_db, [(alpha, beta, "a")])
        result = CliRunner().invoke(app, ["arena", "ratings", "--db", str(voting_db)], env={"COLUMNS": "250"})
        assert result.exit_code == 0, result.output
        rows = table_rows(result.stdout)
        assert rows["Model"] == ["Rank", "Model", "Elo (online)", "95% CI", "Battles", "Bradley–Terry"]
        elo = {alpha: 1000.0, beta: 1000.0}
        for _ in range(votes):  # online Elo by hand: K = 4, scale 400, alpha wins each time
            delta = 4 * (1 - 1 / (1 + 10 ** ((elo[beta] - elo[alpha]) / 400)))
            elo = {alpha: elo[alpha] + delta, beta: elo[beta] - delta}
        assert {model: (cells[2], cells[4], cells[5]) for model, cells in rows.items() if model != "Model"} == {
            model: (str(round(elo[model])), str(votes), "not bounded yet") for model in (alpha, beta)}
        warnings = " ".join(result.stderr.split())
        assert "Bradley–Terry ratings are not bounded yet: the models split into 2 groups" in warnings
        assert f"{alpha} never lost to another group; {beta} never beat another group" in warnings


def _ratings(db: Path, method: str) -> list[dict]:
    return json.loads(_invoke("arena", "ratings", "--json", "--bootstrap", "20", "--method", method, "--db", str(db)))


def test_export_then_import_into_a_fresh_database_gives_the_same_ratings_and_reimport_adds_nothing(
    voting_db: Path, tmp_path: Path,
) -> None:
    _cast_votes(voting_db, 60)
    exported = tmp_path / "battles.json"
    _invoke("arena", "export", "--format", "fastchat", "-o", str(exported), "--db", str(voting_db))
    fresh = tmp_path / "fresh.db"
    first = _invoke("arena", "import", str(exported), "--db", str(fresh))
    assert "imported 60 battles" in first and "60 counted" in first and "0 already stored" in first
    for method in ("bt", "elo"):
        assert _ratings(fresh, method) == _ratings(voting_db, method)
    again = _invoke("arena", "import", str(exported), "--db", str(fresh))
    assert "imported 0 battles" in again and "60 already stored" in again
    assert sql(fresh, "SELECT count(*) FROM vote") == [(60,)] and sql(fresh, "SELECT count(*) FROM live_battle") == [(60,)]
    assert _ratings(fresh, "bt") == _ratings(voting_db, "bt")
    reexported = tmp_path / "again.json"
    _invoke("arena", "export", "--format", "fastchat", "-o", str(reexported), "--db", str(fresh))
    strip = ("question_id",)  # FastChat's conversation id names the source database's prompt; the rest is the same
    assert [{k: v for k, v in r.items() if k not in strip} for r in json.loads(reexported.read_text(encoding="utf-8"))] == [
        {k: v for k, v in r.items() if k not in strip} for r in json.loads(exported.read_text(encoding="utf-8"))]


# FastChat's public release (lmsys/chatbot_arena_conversations) as its dataset card shows a record, with the
# release's other fields (turn, anony, language, tstamp, openai_moderation, toxic_chat_tag); a second record
# from a named (not anonymous) battle, and a two-turn one with a tie.
PUBLIC_RECORDS = [
    {"question_id": "c0fc42c6f5f14f2aa5a89f71f8553730", "model_a": "vicuna-13b", "model_b": "koala-13b",
     "winner": "model_a", "judge": "arena_user_973",
     "conversation_a": [{"content": "Count from 1 to 10 with step = 3", "role": "user"},
                        {"content": "1, 4, 7, 10\n\nCounting with a step of 3 means that you will increase the number by 3 "
                                    "each time. So, the first number is 1, the next is 4 (1 + 3), the next is 7 (4 + 3), "
                                    "and so on.", "role": "assistant"}],
     "conversation_b": [{"content": "Count from 1 to 10 with step = 3", "role": "user"},
                        {"content": "1, 4, 7, 10", "role": "assistant"}],
     "turn": 1, "anony": True, "language": "English", "tstamp": 1682351591.1322,
     "openai_moderation": {"categories": {"hate": False}, "flagged": False}, "toxic_chat_tag": {"roberta-large": {"flagged": False}}},
    {"question_id": "a1", "model_a": "koala-13b", "model_b": "alpaca-13b", "winner": "model_b", "judge": "arena_user_12",
     "conversation_a": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}],
     "conversation_b": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hi there."}],
     "turn": 1, "anony": False, "language": "English", "tstamp": 1682351600.5},
    {"question_id": "b2", "model_a": "alpaca-13b", "model_b": "vicuna-13b", "winner": "tie", "judge": "arena_user_973",
     "conversation_a": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
                        {"role": "user", "content": "and 3+3?"}, {"role": "assistant", "content": "6"}],
     "conversation_b": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "Four."},
                        {"role": "user", "content": "and 3+3?"}, {"role": "assistant", "content": None}],
     "turn": 2, "anony": True, "language": "English", "tstamp": 1682351700.0},
]


def test_fastchat_public_records_import_named_battles_stored_not_counted(tmp_path: Path) -> None:
    source = tmp_path / "clean_battle_conv.json"
    source.write_text(json.dumps(PUBLIC_RECORDS), encoding="utf-8")
    db = tmp_path / "arena.db"
    output = _invoke("arena", "import", str(source), "--db", str(db))
    assert "imported 3 battles" in output and "2 counted" in output and "1 named battles stored but not counted" in output
    assert sql(db, "SELECT anonymous, winner, turns FROM live_battle ORDER BY id") == [(1, "model_a", 1), (0, "model_b", 1), (1, "tie", 2)]
    assert sql(db, "SELECT side, turn, prompt, text FROM live_turn WHERE battle_id = 3 ORDER BY side, turn") == [
        ("a", 1, "2+2?", "4"), ("a", 2, "and 3+3?", "6"), ("b", 1, "2+2?", "Four."), ("b", 2, "and 3+3?", "")]
    assert sql(db, "SELECT model_a, model_b, outcome, voter FROM vote ORDER BY id") == [
        ("vicuna-13b", "koala-13b", "a", "arena_user_973"), ("alpaca-13b", "vicuna-13b", "tie", "arena_user_973")]
    rows = json.loads(_invoke("arena", "ratings", "--json", "--method", "elo", "--bootstrap", "0", "--db", str(db)))
    assert {row["model"]: row["battles"] for row in rows} == {"vicuna-13b": 2, "koala-13b": 1, "alpaca-13b": 1}


def test_import_names_the_item_at_fault_and_stores_nothing(tmp_path: Path) -> None:
    bad = [PUBLIC_RECORDS[0], {**PUBLIC_RECORDS[1], "winner": "leftvote"}]
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(bad), encoding="utf-8")
    result = CliRunner().invoke(app, ["arena", "import", str(source), "--db", str(tmp_path / "arena.db")])
    assert result.exit_code == 1 and "item 1: unknown winner 'leftvote'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "arena.db").exists()
