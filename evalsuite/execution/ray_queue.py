"""The model queue on Ray: one Ray task per model, placed by its resource request.

`evalsuite run --executor ray --model A --model B` (or ``--models-file F``) submits every
model at once as its own Ray task asking for what its run needs (GPUs = tensor x pipeline
parallel size for a local model on a cluster that has GPUs; one CPU otherwise), so a
cluster evaluates as many models at the same time as it has room for and Ray starts the
next when one finishes. This replaces the worker pool of GPU sets evalsuite had before:
Ray knows every node's GPUs, sets each task's ``CUDA_VISIBLE_DEVICES`` and can place work
on another machine, which threads and subprocesses could not.

Each task runs one model in a fresh worker process (``max_calls=1``: a model's memory,
vLLM's engine and CUDA caches, is only reliably returned when its process exits) through
the same :func:`evalsuite.execution.queue.run_one` as the local queue, so a failing model
is recorded and the others go on. A task is not retried (``max_retries=0``): a retried
model would be a second run row; a model whose worker or node died is reported failed
(its stored run is then marked interrupted and can be resumed with ``--resume``).

All runs land in the one database. Workers on other nodes cannot reach a SQLite file on
this one, so a cluster of more than one alive node needs PostgreSQL
(:func:`check_database_for_cluster`, before anything starts).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from evalsuite.backends.parallelism import Parallelism
from evalsuite.backends.registry import backend_entry
from evalsuite.errors import ConfigError
from evalsuite.execution.cluster.connect import alive_nodes, check_database_for_cluster, connect
from evalsuite.execution.queue import FAILED, QueueResult, Reporter, log_levels, run_one
from evalsuite.identity.run_config import RunConfig


def task_resources(config: RunConfig, cluster_gpus: float) -> dict[str, float]:
    """What one model's run asks Ray for: GPUs = tensor x pipeline size for a local model where the cluster has GPUs, else one CPU.

    An endpoint (``--backend openai``) and ``--device cpu`` need no GPU; a vLLM engine with
    ``distributed_executor_backend=ray`` asks Ray for its own GPUs, so its driver task takes a CPU only;
    a model with ``--replicas N`` is a driver only (its replica actors ask for their own), so it takes nothing.
    """
    if config.controls.replicas > 1:
        return {"num_cpus": 0}
    layout = Parallelism(**config.parallelism) if config.parallelism is not None else Parallelism()
    local = backend_entry(config.model.backend).capabilities.local_model
    if not local or config.model.device == "cpu" or cluster_gpus < 1 or layout.executor == "ray":
        return {"num_cpus": 1}
    return {"num_cpus": 1, "num_gpus": layout.world_size}


def check_fits(configs: Sequence[RunConfig], nodes: Sequence[Mapping[str, Any]]) -> None:
    """Refuse, before anything starts, a model whose request no node can hold (Ray would wait for it for ever)."""
    cluster_gpus = sum(node.get("Resources", {}).get("GPU", 0) for node in nodes)
    most = max((node.get("Resources", {}).get("GPU", 0) for node in nodes), default=0)
    for config in configs:
        wanted = task_resources(config, cluster_gpus).get("num_gpus", 0)
        if wanted > most:
            raise ConfigError(
                f"{config.model.name} asks for {wanted:g} GPUs (tensor x pipeline parallel size), but no node of the Ray cluster has more than {most:g}",
                "lower the sizes, or let vLLM span nodes with --backend-arg distributed_executor_backend=ray",
            )


def run_queue_on_ray(configs: Sequence[RunConfig], report: Reporter) -> list[QueueResult]:
    """Every model as its own Ray task on the cluster ``--ray-address`` names (or a local Ray); results in the queue's order.

    Checked before any task starts: the database every node must reach, and a node with room for each model.
    Ctrl-C cancels the tasks still running (their runs are stored as interrupted) and is raised again.
    """
    connection = connect(configs[0].controls.ray_address)
    try:
        return _run_tasks(connection.ray, [_in_its_task(config) for config in configs], report)
    finally:
        connection.close()


def _in_its_task(config: RunConfig) -> RunConfig:
    """The model's run as its task runs it: in the task's own process (the task holds its GPUs), unless it has replicas.

    With ``--replicas N`` the task is the run's driver and its replicas are Ray actors of their own.
    """
    return config if config.controls.replicas > 1 else config.with_changes(executor="local", ray_address=None)


def _run_tasks(ray: Any, configs: Sequence[RunConfig], report: Reporter) -> list[QueueResult]:
    """Submit one task per model, then collect the outcomes as they finish (reported), in the queue's order."""
    nodes = alive_nodes(ray)
    check_database_for_cluster(configs[0].outputs.db, len(nodes))
    check_fits(configs, nodes)
    cluster_gpus = sum(node.get("Resources", {}).get("GPU", 0) for node in nodes)
    remote = ray.remote(max_calls=1, max_retries=0)(_run_model)  # a fresh process per model; a retry would be a second run
    levels = log_levels()
    pending: dict[Any, RunConfig] = {}  # Ray's object refs, in the queue's order
    for config in configs:
        options = {**task_resources(config, cluster_gpus), "name": f"evalsuite {config.model.name}"}
        pending[remote.options(**options).remote(config, levels, os.getcwd())] = config
    report(f"queue: {len(configs)} models submitted to Ray ({len(nodes)} node(s), {cluster_gpus:g} GPU(s))")
    started, results = time.perf_counter(), dict[Any, QueueResult]()
    try:
        while len(results) < len(pending):
            done, _ = ray.wait([ref for ref in pending if ref not in results], num_returns=1)
            for ref in done:
                results[ref] = _outcome(ray, ref, pending[ref], time.perf_counter() - started)
                report(f"queue: {results[ref].model} {results[ref].status} ({len(results)} of {len(pending)})")
    except BaseException:
        for ref in pending:
            if ref not in results:
                ray.cancel(ref)
        raise
    return [results[ref] for ref in pending]


def _outcome(ray: Any, ref: Any, config: RunConfig, seconds: float) -> QueueResult:
    """The task's result; a task Ray lost (its worker or node died, it was cancelled) is a failed model."""
    try:
        result: QueueResult = ray.get(ref)
    except ray.exceptions.RayError as exc:
        message = str(exc).strip().splitlines()
        return QueueResult(config.model.name, FAILED, None, seconds, f"Ray: {type(exc).__name__}: {message[0] if message else ''}")
    return result


def _run_model(config: RunConfig, levels: Mapping[str, int], cwd: str) -> QueueResult:
    """In a Ray worker: run one model, with the driver's log levels; progress lines go to stderr (Ray forwards them).

    The worker works in the driver's folder where this node has it (this machine, or a shared file
    system), so relative paths (``--model ./my-model``, ``--text-file``) mean what they mean to the user.
    """
    import ray

    if os.path.isdir(cwd):
        os.chdir(cwd)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)

    def report(line: str) -> None:
        print(f"[{config.model.name}] {line}", file=sys.stderr, flush=True)

    context = ray.get_runtime_context()
    gpus = ",".join(map(str, ray.get_gpu_ids()))
    placed = f"node {context.get_node_id()[:8]}" + (f" GPU {gpus}" if gpus else "")
    return run_one(config, report, placed)
