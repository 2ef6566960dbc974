"""Joining a Ray cluster: Ray imported only when asked for, started locally when no address is given.

Ray is an optional extra (``pip install 'evalsuite[ray]'``): nothing else in evalsuite imports
it, and a missing package is one line with the install hint, before any run is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from evalsuite.errors import ConfigError

POSTGRES_HINT = "store the runs in a database every node reaches: --db postgresql://…"
RAY_EXTRA_HINT = "pip install 'evalsuite[ray]' (on every node of the cluster), or run without --executor ray"


def import_ray() -> ModuleType:
    """The ``ray`` module; a :class:`ConfigError` with the install hint when it is not installed."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"--executor ray needs the ray package, which is not installed ({exc.name or 'ray'})", RAY_EXTRA_HINT) from exc
    return ray


def check_installed() -> None:
    """Refuse --executor ray before anything is stored when Ray is missing (imports it: seconds, once)."""
    import_ray()


@dataclass
class Connection:
    """Ray, joined; :meth:`close` shuts it down only when this process started it."""

    ray: ModuleType
    started_here: bool

    def close(self) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()


def connect(address: str | None) -> Connection:
    """Join the cluster at ``address`` (``auto``, ``HOST:PORT``), or start a local Ray when it is None.

    A process already connected (a test's cluster, a Ray task of the model queue) keeps its
    connection and does not shut it down.
    """
    ray = import_ray()
    if ray.is_initialized():
        return Connection(ray, started_here=False)
    try:
        # "local": a new instance; None would join any Ray already running on this machine (another user's, a test's).
        ray.init(address=address or "local", include_dashboard=False, logging_level="WARNING")
    except ConnectionError as exc:
        raise ConfigError(
            f"cannot reach a Ray cluster at --ray-address {address}: {exc}",
            "start one with `ray start --head` (and `ray start --address HEAD:6379` on the others), or drop --ray-address for a local Ray",
        ) from exc
    return Connection(ray, started_here=True)


def alive_nodes(ray: ModuleType) -> list[dict[str, Any]]:
    """The cluster's nodes that are alive now (``ray.nodes()`` also lists dead ones)."""
    return [node for node in ray.nodes() if node.get("Alive")]


def check_database_for_cluster(db: str, nodes: int) -> None:
    """Refuse a SQLite database when work may run on several nodes: the others cannot write a file on this one.

    On one node (a local Ray, a single machine's cluster) SQLite works as without Ray.
    """
    if nodes > 1 and not db.startswith(("postgresql:", "postgresql+")):
        raise ConfigError(f"the Ray cluster has {nodes} nodes, and workers on the other nodes cannot reach the SQLite database {db}", POSTGRES_HINT)


def check_replicas_database(db: str, replicas: int, address: str | None) -> None:
    """Refuse SQLite for replicas on a running multi-node cluster before the run is stored (a local Ray is one node).

    Joins the cluster to count its nodes; the replica pool later reuses that connection. Without an
    address and no Ray joined yet, the pool starts a local Ray: one node, where SQLite works.
    """
    if replicas <= 1 or db.startswith(("postgresql:", "postgresql+")):
        return
    if address is None and not import_ray().is_initialized():
        return
    check_database_for_cluster(db, len(alive_nodes(connect(address).ray)))

