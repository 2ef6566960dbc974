"""One Ray cluster for the tests of tests/ray: a head and two worker nodes on this machine, each worker one logical GPU.

The nodes declare a GPU each so that placement is exercised on a CPU machine: a replica asks
for one GPU, so two replicas land on two different workers (the head has none). The cluster is
session-scoped and shared (the model queue's tests use it too); a test that removes a node
adds a fresh one back (:func:`replace_worker`). The driver is this test process.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before Ray is imported: nodes on 127.0.0.1
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local cluster: no token to set up or print

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed; `make test` installs the ray extra")
from ray.cluster_utils import Cluster  # noqa: E402

WORKER = {"num_cpus": 1, "num_gpus": 1}


@dataclass
class RayCluster:
    """The session's cluster and its worker nodes (Ray's Node objects, each with its ``node_id``)."""

    cluster: Cluster
    workers: list[Any]

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def worker_with_id(self, prefix: str) -> Any:
        """The worker node whose id starts with ``prefix`` (the runner reports 12 characters)."""
        return next(node for node in self.workers if node.node_id.startswith(prefix))

    def remove(self, node: Any) -> None:
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def replace_worker(self) -> None:
        """Add workers until there are two again (after a test removed one)."""
        while len(self.workers) < 2:
            self.workers.append(self.cluster.add_node(**WORKER))
        self.cluster.wait_for_nodes()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A head (no CPU or GPU for replicas) and two workers; this process is connected as the driver."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "num_gpus": 0, "include_dashboard": False})
    workers = [cluster.add_node(**WORKER) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    try:
        yield RayCluster(cluster, workers)
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture
def cluster_db(postgres_server: Any) -> Iterator[str]:
    """A fresh PostgreSQL database every node reaches (the cluster has three nodes: a SQLite file is refused)."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)

