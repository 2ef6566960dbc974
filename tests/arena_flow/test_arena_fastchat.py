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
