"""Data-parallel replicas on a real Ray cluster (tests/ray/conftest.py): equal to one process, placed apart, a lost node costs nothing.

The reference is the same run in one process (``--executor local``). Replicas and the reference
share the model identity (executor and replicas are not in the cache key), so their request-cache
rows carry the same keys and are compared answer by answer. The backend is ``hf`` (lm-eval's
HFLM) with ``--batch-size 1``: each request is scored on its own, so splitting the requests
across replicas regroups no computation. (evalsuite's ``transformers`` backend packs several
questions into one row; another split packs other neighbours and moves a log-likelihood by float32
rounding of its sum, up to 2.4e-6 on -16.6 measured here: relative 1.5e-7.) The replicated runs
store into PostgreSQL: the cluster has three nodes, where a SQLite file is refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from raw_sql import sql as sql_rows

from evalsuite.execution import runner
from evalsuite.identity.run_config import RunConfig
from evalsuite.store import queries
from evalsuite.store.db import open_database

pytestmark = pytest.mark.slow

TASKS = ("pubmedqa", "perplexity")


def _run(db: str, *, report: Any = None, tasks: tuple[str, ...] = TASKS, **controls: Any) -> runner.RunOutcome:
    config = RunConfig.from_flat(
        model="demo/pico-s", backend="hf", tasks=tasks, limit=20, batch_size="1", db=db, show_progress=False, **controls
    )
    return runner.run(config, report=report or (lambda line: None))


def _answers(db: str) -> dict[str, list[Any]]:
    rows = sql_rows(db, "SELECT key, response FROM request_cache")
    return {key: response if isinstance(response, list) else json.loads(response) for key, response in rows}  # PostgreSQL: JSON parsed


def _metrics(db: str) -> dict[tuple[str, str], float]:
    return {(task, metric): value for task, metric, value in sql_rows(db, "SELECT task, metric, value FROM metric")}


def _assert_equal_answers(replicated: str, reference: str) -> None:
    """Same request keys; log-likelihoods within 1e-6 (greedy flags and generations equal); the metrics identical."""
    got, want = _answers(replicated), _answers(reference)
    assert got.keys() == want.keys() and len(want) == 68  # 20 pubmedqa documents x 3 choices + 8 perplexity documents
    for key, answer in want.items():
        assert got[key][0] == pytest.approx(answer[0], abs=1e-6), key
        assert got[key][1:] == answer[1:], key
    assert _metrics(replicated) == _metrics(reference)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The run in one process, no Ray (SQLite)."""
    db = str(tmp_path_factory.mktemp("reference") / "one.db")
    _run(db)
    return db


def test_two_replicas_on_two_nodes_equal_one_process_in_one_run_row(ray_cluster: Any, reference: str, cluster_db: str) -> None:
    db = cluster_db
    outcome = _run(db, executor="ray", ray_address=ray_cluster.address, replicas=2)
    _assert_equal_answers(db, reference)
    with open_database(db) as database:
        runs = queries.list_runs(database)
        (attempt,) = queries.run_attempts(database, outcome.run_id)
    assert [run.status for run in runs] == ["complete"]
    placed = attempt.hardware["replicas"]
    assert sorted(entry["replica"] for entry in placed) == [1, 2]
    assert len({entry["node"] for entry in placed}) == 2  # each replica on its own worker: one logical GPU per node
    assert {entry["node"] for entry in placed} <= {node.node_id for node in ray_cluster.workers}
    assert "replicas_lost" not in attempt.hardware
    assert outcome.computed == 68 and outcome.cached == 0


def test_a_node_removed_after_its_first_committed_chunk_costs_nothing(
    ray_cluster: Any, reference: str, cluster_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One answer per commit, so the lost replica has committed some of its share and not all of it."""
    monkeypatch.setenv("EVALSUITE_CACHE_CHUNK", "1")
    removed: list[str] = []

    def remove_first_committer(line: str) -> None:
        if line.endswith("first answers committed") and not removed and "perplexity" in seen:
            node = ray_cluster.worker_with_id(line.split(" on node ")[1].split(":")[0])
            removed.append(node.node_id)
            ray_cluster.remove(node)
        if line.startswith("task perplexity"):
            seen.add("perplexity")

    seen: set[str] = set()
    db = cluster_db
    try:
        outcome = _run(db, report=remove_first_committer, executor="ray", replicas=2, tasks=("perplexity",))
    finally:
        ray_cluster.replace_worker()
    assert removed, "no replica reported its first commit"
    with open_database(db) as database:
        (attempt,) = queries.run_attempts(database, outcome.run_id)
        assert [run.status for run in queries.list_runs(database)] == ["complete"]
    (lost,) = attempt.hardware["replicas_lost"]
    assert lost["node"] == removed[0] and lost["share"] == 4 and 1 <= lost["committed"] < 4, lost
    reference_rolling = {k: v for k, v in _answers(reference).items() if len(v) == 1}
    got = _answers(db)
    assert got.keys() == reference_rolling.keys()
    for key, answer in reference_rolling.items():
        assert got[key][0] == pytest.approx(answer[0], abs=1e-6)
    assert {k: v for k, v in _metrics(db).items()} == {k: v for k, v in _metrics(reference).items() if k[0] == "perplexity"}
