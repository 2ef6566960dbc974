"""The model queue on Ray (`evalsuite run --executor ray`): one Ray task per model, all in one database, failures recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.errors import ConfigError
from evalsuite.execution.ray_queue import check_fits, task_resources
from evalsuite.execution.resolve import resolve
from evalsuite.identity.run_config import RunConfig
from evalsuite.store import queries
from evalsuite.store.db import open_database
from tests.queue_helpers import mismatched_copy, summary_rows

QUEUE_TASK = ("--tasks", "pubmedqa", "--limit", "1")
DEMOS = ["demo/pico-s", "demo/pico-m", "demo/pico-judge"]




def _queue(models: list[str], *extra: str) -> list[str]:
    return ["run", "--executor", "ray", *(part for model in models for part in ("--model", model)), *QUEUE_TASK, *extra]


def test_queue_on_the_cluster_runs_each_model_once_on_its_own_node_and_records_a_failure(
    ray_cluster: Any, postgres_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three demo models and a broken one on two worker nodes of one logical GPU each: three complete, one failed, one run row each."""
    import ray

    monkeypatch.chdir(tmp_path)  # a short relative path keeps the broken model's summary row on one line
    broken = str(mismatched_copy(Path(".")))
    db = postgres_server.create_database()
    try:
        result = CliRunner().invoke(app, _queue([*DEMOS, broken], "--ray-address", ray_cluster.address, "--db", db))
        assert result.exit_code == 1, result.output
        assert f"3 of 4 models complete; failed: {broken}" in result.stderr
        with open_database(db, create=False) as database:
            runs = queries.list_runs(database)
            details = {run.model: queries.get_run(database, run.id) for run in runs}
    finally:
        postgres_server.drop_database(db)
    assert sorted(run.model for run in runs) == sorted([*DEMOS, broken])  # each model once, all in the one database
    assert {run.model: run.status for run in runs} == {**dict.fromkeys(DEMOS, "complete"), broken: "failed"}
    assert "does not match its weights" in (details[broken].run.error or "")
    rows = summary_rows(result.stdout)
    assert list(rows) == [*DEMOS, broken]
    for model in DEMOS:
        run_id, status, _seconds, _placed, numbers = rows[model]
        acc = next(m for m in details[model].metrics if m.metric == "acc")
        assert (run_id, status, numbers) == (str(details[model].run.id), "complete", f"pubmedqa acc {acc.value:.4f}")
    gpu_nodes = {node["NodeID"][:8] for node in ray.nodes() if node["Alive"] and node["Resources"].get("GPU")}
    placed = {model: cells[3] for model, cells in rows.items()}
    assert all(where.startswith("node ") and where.endswith(" GPU 0") for where in placed.values()), placed
    # Four tasks of one GPU on two one-GPU workers (the head offers none): both workers were used, nothing else.
    assert {where.split()[1] for where in placed.values()} == gpu_nodes
    for model in DEMOS:  # Ray gave each run its GPU, as the stored hardware says
        assert details[model].run.hardware["cuda_visible_devices"] == "0"


def test_sqlite_is_refused_on_a_multi_node_cluster_before_anything_starts(ray_cluster: Any, tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    result = CliRunner().invoke(app, _queue(DEMOS[:2], "--ray-address", ray_cluster.address, "--db", str(db)))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: the Ray cluster has 3 nodes, and workers on the other nodes cannot reach the SQLite database"), result.stderr
    assert "hint: store the runs in a database every node reaches: --db postgresql://" in result.stderr
    assert "Traceback" not in result.output and not db.exists()


def test_sqlite_is_refused_for_replicas_on_a_multi_node_cluster_before_a_run_is_stored(ray_cluster: Any, tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    args = ["run", "--model", DEMOS[0], *QUEUE_TASK, "--executor", "ray", "--replicas", "2"]
    result = CliRunner().invoke(app, [*args, "--ray-address", ray_cluster.address, "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: the Ray cluster has 3 nodes, and workers on the other nodes cannot reach the SQLite database"), result.stderr
    assert "Traceback" not in result.output and not db.exists()  # refused, not stored as a failed run


def test_a_model_no_node_can_hold_is_refused_before_anything_starts(ray_cluster: Any) -> None:
    import ray

    def vllm(*args: tuple[str, str]) -> RunConfig:
        return resolve(RunConfig.from_flat(model="demo/pico-s", tasks=("pubmedqa",), backend="vllm", backend_args=args))

    nodes = [node for node in ray.nodes() if node["Alive"]]
    assert task_resources(vllm(("tensor_parallel_size", "2"), ("pipeline_parallel_size", "2")), 3) == {"num_cpus": 1, "num_gpus": 4}
    assert task_resources(vllm(("tensor_parallel_size", "2")), 0) == {"num_cpus": 1}  # no GPU in the cluster: the CPU build
    assert task_resources(vllm(("tensor_parallel_size", "2"), ("distributed_executor_backend", "ray")), 3) == {"num_cpus": 1}  # its engine asks Ray itself
    assert task_resources(resolve(RunConfig.from_flat(model="demo/pico-s", tasks=("pubmedqa",), device="cpu")), 3) == {"num_cpus": 1}
    check_fits([vllm()], nodes)
    with pytest.raises(ConfigError, match="demo/pico-s asks for 2 GPUs .* no node of the Ray cluster has more than 1"):
        check_fits([vllm(), vllm(("tensor_parallel_size", "2"))], nodes)


def test_queue_on_a_local_ray_instance_stores_into_sqlite(tmp_path: Path) -> None:
    """No --ray-address: one node started for the run, SQLite as without Ray; the same numbers as the local queue."""
    ray_db, local_db = tmp_path / "ray.db", tmp_path / "local.db"
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "evalsuite.cli.app", *_queue(DEMOS[:2], "--db", str(ray_db))]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "2 of 2 models complete" in completed.stderr
    local = CliRunner().invoke(app, ["run", *(p for m in DEMOS[:2] for p in ("-m", m)), *QUEUE_TASK, "--db", str(local_db)])
    assert local.exit_code == 0, local.output

    def scores(db: Path) -> dict[str, list[tuple[str, str, float | None]]]:
        with open_database(str(db), create=False) as database:
            return {run.model: sorted((m.task, m.metric, m.value) for m in queries.get_run(database, run.id).metrics) for run in queries.list_runs(database)}

    assert scores(ray_db) == scores(local_db) and sorted(scores(ray_db)) == sorted(DEMOS[:2])

