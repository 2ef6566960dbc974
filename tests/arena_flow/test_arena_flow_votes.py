"""Battles and votes at the query level: issue, vote, replay, forgery, pairing, concurrent voters.

Every test runs on SQLite and on PostgreSQL (``db_url``). Every count is read back with plain
SQL (tests/raw_sql.py) straight from the database, not through the code under test.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from arena_flow_fixtures import VOTING_MODELS, fill_voting_db
from raw_sql import sql

from evalsuite.arena import voting
from evalsuite.errors import ArenaError
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database


@pytest.fixture
def voting_db(db_url: str) -> str:
    """The arena flow's voting database (three prompts, three models' fixed answers) on each engine."""
    fill_voting_db(db_url)  # type: ignore[arg-type]  # open_database takes a path or a URL
    return db_url


def _sql(db: str, query: str, **params: object) -> list[tuple]:
    return sql(db, query, **params)


def test_issued_battle_shows_two_different_answers_of_one_prompt_without_model_names(voting_db: str) -> None:
    with open_database(voting_db) as database:
        battle = voting.issue_battle(database, "voter-1", np.random.default_rng(0))
    (prompt_id, completion_a, completion_b, model_a, model_b, voter, voted), = _sql(
        voting_db, "SELECT prompt_id, completion_a_id, completion_b_id, model_a, model_b, voter, voted FROM battle WHERE token = :token",
        token=battle.token,
    )
    assert model_a != model_b and {model_a, model_b} <= set(VOTING_MODELS)
    texts = dict(_sql(voting_db, "SELECT id, text FROM completion"))
    assert (battle.answer_a, battle.answer_b) == (texts[completion_a], texts[completion_b])
    assert battle.prompt_id == prompt_id and voter == "voter-1" and voted == 0
    assert not any(name in repr(battle) for name in (model_a, model_b))  # the page learns no names
    assert len(battle.token) >= 32


def test_vote_reveals_the_stored_models_and_records_voter_time_position_category(voting_db: str) -> None:
    with open_database(voting_db) as database:
        battle = voting.issue_battle(database, "voter-1")
        vote = arena_queries.record_vote(database, battle.token, "b", "voter-1", position_a="left")
    stored = _sql(voting_db, "SELECT model_a, model_b FROM battle WHERE token = :token", token=battle.token)[0]
    assert (vote.model_a, vote.model_b) == stored
    row = _sql(voting_db, "SELECT model_a, model_b, outcome, voter, voter_kind, category, position_a, created_at, prompt_id FROM vote")
    category = _sql(voting_db, "SELECT category FROM prompt WHERE id = :id", id=battle.prompt_id)[0][0]
    assert row[0][:7] == (*stored, "b", "voter-1", "human", category, "left")
    assert row[0][7] and row[0][8] == battle.prompt_id
    assert _sql(voting_db, "SELECT voted FROM battle WHERE token = :token", token=battle.token) == [(True,)]


def test_second_vote_on_the_same_token_is_rejected_and_the_first_stands(voting_db: str) -> None:
    with open_database(voting_db) as database:
        battle = voting.issue_battle(database, "voter-1")
        arena_queries.record_vote(database, battle.token, "a", "voter-1")
        with pytest.raises(ArenaError, match="already has a vote"):
            arena_queries.record_vote(database, battle.token, "b", "voter-1")
    assert _sql(voting_db, "SELECT outcome FROM vote") == [("a",)]


def test_unknown_token_is_rejected_and_stores_nothing(voting_db: str) -> None:
    with open_database(voting_db) as database:
        with pytest.raises(ArenaError, match="unknown battle token"):
            arena_queries.record_vote(database, "forged-token-" + "x" * 20, "a", "voter-1")
    assert _sql(voting_db, "SELECT COUNT(*) FROM vote") == [(0,)]


def test_token_issued_to_one_voter_cannot_be_used_by_another(voting_db: str) -> None:
    with open_database(voting_db) as database:
        battle = voting.issue_battle(database, "voter-1")
        with pytest.raises(ArenaError, match="issued to another voter"):
            arena_queries.record_vote(database, battle.token, "a", "voter-2")
        vote = arena_queries.record_vote(database, battle.token, "tie", "voter-1")  # still usable by its owner
    assert vote.outcome == "tie"


@pytest.mark.parametrize(
    ("outcome", "kind", "position", "message"),
    [("A", "human", "left", "unknown vote outcome"), ("a", "robot", "left", "unknown voter kind"), ("a", "human", "top", "unknown position")],
)
def test_malformed_votes_are_rejected_before_touching_the_battle(
    voting_db: str, outcome: str, kind: str, position: str, message: str
) -> None:
    with open_database(voting_db) as database:
        battle = voting.issue_battle(database, "voter-1")
        with pytest.raises(ArenaError, match=message):
            arena_queries.record_vote(database, battle.token, outcome, "voter-1", voter_kind=kind, position_a=position)
    assert _sql(voting_db, "SELECT voted FROM battle") == [(0,)]


def test_a_model_cannot_battle_itself(voting_db: str) -> None:
    with open_database(voting_db) as database:
        with pytest.raises(ArenaError, match="cannot battle itself"):
            voting.issue_battle_for(database, "judge", 1, "alpha-7b", "alpha-7b")


def test_no_battle_without_two_answered_models(db_url: str) -> None:
    with open_database(db_url) as database:
        with pytest.raises(ArenaError, match="two different models"):
            voting.issue_battle(database, "voter-1")


@pytest.fixture
def sqlite_voting_db(tmp_path: Path) -> str:
    """The pairing test stays on SQLite: its 450 battles are pairing policy; the SQL it uses is covered above on both engines."""
    return str(fill_voting_db(tmp_path / "voting.db"))


def test_pairing_never_repeats_a_model_and_favours_the_under_voted_pair(sqlite_voting_db: str) -> None:
    voting_db = sqlite_voting_db
    with open_database(voting_db) as database:
        heavy = tuple(sorted(VOTING_MODELS[:2]))
        for _ in range(300):  # pile votes on one pair (through real battles)
            battle = voting.issue_battle_for(database, "seed-voter", 1, *heavy)
            arena_queries.record_vote(database, battle.token, "tie", "seed-voter")
        rng = np.random.default_rng(7)
        shown = Counter()
        for _ in range(150):
            voting.issue_battle(database, "voter-1", rng)
    for model_a, model_b in _sql(voting_db, "SELECT model_a, model_b FROM battle WHERE voter = 'voter-1'"):
        assert model_a != model_b
        shown[tuple(sorted((model_a, model_b)))] += 1
    # Weights (n + 50) ** -0.4: 300 votes -> 0.0961, 0 votes -> 0.209 (hand-computed), so
    # the heavy pair is expected in 150 * 0.0961 / (0.0961 + 2 * 0.209) = 28 of 150 draws.
    assert shown[heavy] < min(count for pair, count in shown.items() if pair != heavy)
    assert 12 <= shown[heavy] <= 45


def _vote_many(db: str, voter: str, votes: int, errors: list[Exception]) -> None:
    try:
        with open_database(db) as database:
            for _ in range(votes):
                battle = voting.issue_battle(database, voter)
                arena_queries.record_vote(database, battle.token, "a", voter)
    except Exception as error:  # noqa: BLE001  (any failure is reported to the main thread)
        errors.append(error)


def test_24_threads_voting_at_once_lose_no_vote(voting_db: str) -> None:
    threads_count, votes_each = 24, 5
    errors: list[Exception] = []
    barrier = threading.Barrier(threads_count)

    def voter(number: int) -> None:
        barrier.wait()
        _vote_many(voting_db, f"thread-{number}", votes_each, errors)

    threads = [threading.Thread(target=voter, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert _sql(voting_db, "SELECT COUNT(*), COUNT(DISTINCT battle_id) FROM vote") == [(threads_count * votes_each,) * 2]
    per_voter = dict(_sql(voting_db, "SELECT voter, COUNT(*) FROM vote GROUP BY voter"))
    assert per_voter == {f"thread-{n}": votes_each for n in range(threads_count)}


def _process_voter(db: str, voter: str, votes: int, failures: multiprocessing.Queue) -> None:
    errors: list[Exception] = []
    _vote_many(db, voter, votes, errors)
    failures.put(repr(errors[0]) if errors else "")


def test_20_processes_voting_at_once_lose_no_vote(voting_db: str) -> None:
    context = multiprocessing.get_context("fork")
    failures: multiprocessing.Queue = context.Queue()
    processes = [context.Process(target=_process_voter, args=(str(voting_db), f"proc-{n}", 3, failures)) for n in range(20)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
    reports = [failures.get(timeout=5) for _ in processes]
    assert all(process.exitcode == 0 for process in processes)
    assert reports == [""] * 20
    assert _sql(voting_db, "SELECT COUNT(*) FROM vote") == [(60,)]


def test_twenty_concurrent_votes_on_one_token_store_exactly_one(voting_db: str) -> None:
    with open_database(voting_db) as database:
        battle = voting.issue_battle(database, "voter-1")
        barrier = threading.Barrier(20)
        outcomes: list[str] = []

        def attempt() -> None:
            barrier.wait()
            try:
                arena_queries.record_vote(database, battle.token, "a", "voter-1")
                outcomes.append("stored")
            except ArenaError:
                outcomes.append("rejected")

        threads = [threading.Thread(target=attempt) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert Counter(outcomes) == {"stored": 1, "rejected": 19}
    assert _sql(voting_db, "SELECT COUNT(*) FROM vote") == [(1,)]
