"""What runs inside the Ray actors: one replica of the model under the run's request cache, and the progress counter.

A :class:`Replica` loads the backend as a single-process run does and wraps it in the same
:class:`~evalsuite.backends.cache.CachedLM` (same namespace, chunk size, time bound and
``run_id``), so each answer it computes is committed exactly as the single process would commit
it. Its share may hold answers another replica committed before it was lost: the cache serves
those instead of recomputing them. These classes are plain; ``pool`` makes them Ray actors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval.api.instance import Instance

from evalsuite.backends import check_backend_options, close_backend, load_backend, resolve
from evalsuite.backends.cache import CachedLM
from evalsuite.backends.options import BackendOptions
from evalsuite.errors import ConfigError
from evalsuite.identity.models import ModelSpec
from evalsuite.store.db import open_database


@dataclass(frozen=True)
class ReplicaWork:
    """Everything a replica needs, sent to its node: the model as resolved by the driver and how answers are committed."""

    model: ModelSpec
    options: BackendOptions
    db: str  # an absolute path or a URL: the actor's working folder is not the driver's
    namespace: str  # the model identity's key, built by the driver
    device_type: str  # the device type in that identity: a replica must compute on the same
    run_id: int
    chunk_size: int
    flush_seconds: float | None
    refresh: bool


class Progress:
    """Answers committed per replica; an actor on the driver's node, read by the driver to draw one bar."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def add(self, replica: int, count: int) -> None:
        self.counts[replica] = self.counts.get(replica, 0) + count

    def read(self) -> dict[int, int]:
        return dict(self.counts)


class Replica:
    """One copy of the model (a Ray actor): computes a share of a request type and commits it chunk by chunk."""

    def __init__(self, work: ReplicaWork, index: int) -> None:
        self.work = work
        self.index = index

    def load(self) -> tuple[str, str]:
        """Load the model under the run's cache; return the Ray node id and IP address it runs on (recorded with the attempt).

        Not in ``__init__``: an error raised in a method reaches the driver as itself (a
        user's error keeps its message and hint), one raised in a constructor only as Ray's text.
        """
        import ray

        work = self.work
        device = check_backend_options(work.options)
        if device != work.device_type:
            raise ConfigError(
                f"replica {self.index} would compute on {device}, but the run's model identity was built for {work.device_type}",
                "pass --device explicitly, or start the run on a node with the same devices as the workers",
            )
        self.database = open_database(work.db)
        self.lm = CachedLM(
            load_backend(_model_here(work.model, work.options), work.options), self.database, work.namespace,
            chunk_size=work.chunk_size, flush_seconds=work.flush_seconds, run_id=work.run_id, refresh=work.refresh, show_progress=False,
        )
        return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()

    def serve(self, request_type: str, requests: list[Instance], progress: Any) -> int:
        """Compute and commit ``requests`` (one request type); report each committed chunk to ``progress``; return how many were computed."""
        before = self.lm.stats.computed
        reported = [before]

        def committed(done: int) -> None:
            progress.add.remote(self.index, done - reported[0])
            reported[0] = done

        self.lm.on_chunk = committed
        getattr(self.lm, request_type)(requests)
        return self.lm.stats.computed - before

    def attribute(self, name: str) -> tuple[bool, Any]:
        """(True, None) for a method of the backend, else (False, its value): the driver forwards tokenizer questions here."""
        value = getattr(self.lm.inner, name)
        return (True, None) if callable(value) else (False, value)

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return getattr(self.lm.inner, name)(*args, **kwargs)

    def close(self) -> None:
        if hasattr(self, "lm"):
            close_backend(self.lm.inner)
            self.database.close()


def _model_here(model: ModelSpec, options: BackendOptions) -> ModelSpec:
    """The driver's resolved model when its files are on this node too; else resolved here, and refused if the weights differ."""
    if Path(model.path).exists():
        return model
    local = resolve(model.name, options)
    if local.weights_sha256 != model.weights_sha256:
        raise ConfigError(
            f"{model.name} on this node has other weights (sha256 {local.weights_sha256[:12]}) than on the driver ({model.weights_sha256[:12]})",
            "give every node the same model files (or pin --revision)",
        )
    return local
