"""A real Ray cluster on this machine, shared by the Ray tests: a head and two worker nodes, each one CPU and one logical GPU.

The logical GPUs exercise Ray's placement on a CPU machine (a task asking for a GPU waits for a
node with a free one; Ray sets its CUDA_VISIBLE_DEVICES, and torch still finds no CUDA). Nodes bind
127.0.0.1 (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, set before ray is imported).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

NODE = {"num_cpus": 1, "num_gpus": 1}


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """``ray.cluster_utils.Cluster`` with three alive nodes; this process is connected to it."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    try:
        for _ in range(2):
            cluster.add_node(**NODE)
        ray.init(address=cluster.address)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
