"""What one replica asks the cluster for, and whether N of them fit, decided before any actor starts.

On a cluster with GPUs a replica takes ``tensor x pipeline`` GPUs (one for the transformers
backends) and one CPU; on a CPU cluster it takes as many CPUs as lets all N fit, which are
also its torch threads (Ray sets ``OMP_NUM_THREADS`` from them). Ray would leave an actor that
fits nowhere pending forever, so a count the alive nodes cannot hold is refused here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evalsuite.errors import ConfigError


@dataclass(frozen=True)
class ReplicaResources:
    """One replica's Ray resource request."""

    num_cpus: int
    num_gpus: int

    def fits(self, node: Mapping[str, float]) -> int:
        """How many replicas a node with ``node``'s resources holds."""
        counts = [int(node.get("CPU", 0) // self.num_cpus)] if self.num_cpus else []
        counts += [int(node.get("GPU", 0) // self.num_gpus)] if self.num_gpus else []
        return min(counts) if counts else 0

    def describe(self) -> str:
        return f"{self.num_gpus} GPU(s) and {self.num_cpus} CPU(s)" if self.num_gpus else f"{self.num_cpus} CPU(s)"


def per_replica(replicas: int, world_size: int, nodes: Sequence[Mapping[str, float]]) -> ReplicaResources:
    """The request of each of ``replicas`` replicas on alive ``nodes`` (each node's total resources).

    Raises:
        ConfigError: the nodes cannot hold ``replicas`` replicas at once.
    """
    if any(node.get("GPU", 0) > 0 for node in nodes):
        request = ReplicaResources(num_cpus=1, num_gpus=world_size)
    else:
        request = ReplicaResources(num_cpus=_cpus_each(replicas, nodes), num_gpus=0)
    room = sum(request.fits(node) for node in nodes)
    if room < replicas:
        raise ConfigError(
            f"--replicas {replicas}: the Ray cluster's {len(nodes)} node(s) hold {room} replica(s) of {request.describe()} each",
            "lower --replicas, or add nodes (`ray start --address HEAD:6379`)",
        )
    return request


def _cpus_each(replicas: int, nodes: Sequence[Mapping[str, float]]) -> int:
    """The most CPUs per replica with which ``replicas`` replicas still fit on the nodes (at least 1)."""
    most = max((int(node.get("CPU", 0)) for node in nodes), default=1)
    for cpus in range(max(1, most), 0, -1):
        if sum(int(node.get("CPU", 0) // cpus) for node in nodes) >= replicas:
            return cpus
    return 1
