"""Several `evalsuite run` processes and 50 arena voters on one database at once: nothing lost, no error shown.

Runs on both engines (``db_url``: a SQLite file, a PostgreSQL database). The runs are real
processes on demo/pico-s started together on a *new* database, so they also race to create
the schema, the model row and the request-cache rows (what tests/test_concurrent_starts.py
checked before this test took it over); they beat their heartbeat every 0.2 s. The voters are
threads of this process calling what the arena page calls (``voting.issue_battle``, then
``arena_queries.record_vote``) — one process with many sessions, like the Streamlit server —
and keep voting until every run has finished, so their writes overlap the runs' writes.

Every stored row is read back with plain SQL (tests/raw_sql.py), not through the store.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from raw_sql import sql

from evalsuite.arena import voting
from evalsuite.store import arena_queries
from evalsuite.store.arena_queries import PromptInput
from evalsuite.store.db import open_database

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNS = 3
VOTERS = 50
MIN_VOTES = 2  # per voter, even if the runs finish first
MAX_VOTES = 30  # per voter: bounds the test's time if the runs are slow
LIMIT = 2  # PubMedQA documents per run: three choices each
MODELS = ("alpha", "beta", "gamma")
COLLISION_WORDS = ("database is locked", "could not serialize", "deadlock detected", "Traceback")


def _fill_arena(db_url: str) -> None:
    with open_database(db_url) as database:
        arena_queries.add_prompts(database, [PromptInput(f"Prompt {n}?", "load") for n in range(5)])
        for prompt in arena_queries.list_prompts(database):
            for model in MODELS:
                arena_queries.add_completion(database, prompt.id, model, f"{model} answers prompt {prompt.id}")


def _start_runs(db_url: str) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "EVALSUITE_HEARTBEAT_S": "0.2"}
    command = [sys.executable, "-m", "evalsuite.cli.app", "run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", str(LIMIT), "--db", db_url]
    return [
        subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(RUNS)
    ]


class Voters:
    """VOTERS threads, each issuing battles and voting on them until told to stop; what each vote returned."""

    def __init__(self, db_url: str) -> None:
        self.database = open_database(db_url)
        self.stop = threading.Event()
        self.recorded: dict[int, str] = {}  # battle id -> outcome sent, for every vote record_vote returned
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._vote, args=(f"voter-{n}",)) for n in range(VOTERS)]

    def _vote(self, voter: str) -> None:
        chooser = random.Random(voter)
        try:
            for count in range(MAX_VOTES):
                if count >= MIN_VOTES and self.stop.is_set():
                    return
                battle = voting.issue_battle(self.database, voter)
                outcome = chooser.choice(("a", "b", "tie", "both_bad"))
                vote = arena_queries.record_vote(self.database, battle.token, outcome, voter)
                with self._lock:
                    self.recorded[vote.battle_id] = outcome
                time.sleep(chooser.uniform(0.5, 1.5))  # a person reads two answers between votes
        except BaseException as exc:  # noqa: BLE001 (reported by the test, not swallowed)
            with self._lock:
                self.errors.append(exc)

    def __enter__(self) -> Voters:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
        self.database.close()


@pytest.mark.slow
def test_runs_and_fifty_voters_on_one_database_store_every_row_and_show_no_error(db_url: str) -> None:
    runs = _start_runs(db_url)  # on a new database: they race each other (and the voters) to create the schema
    _fill_arena(db_url)
    with Voters(db_url) as voters:
        outputs = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    assert voters.errors == [], repr(voters.errors[:3])
    for code, stdout, stderr in outputs:
        assert code == 0, stderr[-3000:]
        assert not [word for word in COLLISION_WORDS if word in stdout + stderr], stderr[-3000:]

    stored_votes = dict(sql(db_url, "SELECT battle_id, outcome FROM vote"))
    assert len(voters.recorded) >= VOTERS * MIN_VOTES
    assert stored_votes == voters.recorded
    assert sql(db_url, "SELECT count(*) FROM battle WHERE voted = :yes", yes=True) == [(len(voters.recorded),)]

    statuses = sql(db_url, "SELECT id, status FROM run ORDER BY id")
    assert [status for _, status in statuses] == ["complete"] * RUNS
    assert sql(db_url, "SELECT count(*) FROM model") == [(1,)]
    assert sql(db_url, "SELECT count(*) FROM run_attempt") == [(RUNS,)]
    assert sql(db_url, "SELECT count(*) FROM request_cache") == [(LIMIT * 3,)]  # two questions, three choices: stored once
    metrics = sql(db_url, "SELECT run_id, task, metric, filter, value, n_samples FROM metric ORDER BY run_id, metric")
    per_run = {run_id: [row[1:] for row in metrics if row[0] == run_id] for run_id, _ in statuses}
    first = per_run[statuses[0][0]]
    assert {metric for _, metric, *_ in first} >= {"acc"} and all(row[-1] == LIMIT for row in first)
    assert all(rows == first for rows in per_run.values())  # the same model on the same documents: the same rows in every run
    printed = [line for line in outputs[0][1].splitlines() if line.count("│") >= 6 and "pubmedqa" in line]
    assert len(printed) == len(first)  # every metric the run printed is a stored row
