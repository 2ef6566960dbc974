"""The driver's side of data-parallel replicas: one lm-eval ``LM`` over N Ray actors, each a replica of the model.

The run's :class:`~evalsuite.backends.cache.CachedLM` finds what the cache lacks and hands it
here (:meth:`ReplicaPool.compute_into_cache`); the pending requests are split into one share
per replica (the choices of one question together: :func:`split`), each replica commits its answers into the request cache as a
single-process run would, and the cache then reads them back. The driver draws one progress
bar from the counts the replicas report. A replica lost with its node (or its process) leaves
its share to the next free replica, which serves the answers already committed from the cache
and computes the rest; when no replica is left a new one is started wherever the cluster has
room. Where each replica ran and what was lost are written into the run attempt's record
(``run_attempt.hardware``: ``replicas``, ``replicas_lost``) as it happens.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM

from evalsuite import settings
from evalsuite.backends.requests import model_options, parallelism
from evalsuite.errors import BackendError, EvalsuiteError
from evalsuite.execution.cluster.connect import Connection, alive_nodes, check_database_for_cluster, connect
from evalsuite.execution.cluster.replica import Progress, Replica, ReplicaWork
from evalsuite.execution.cluster.resources import ReplicaResources, per_replica
from evalsuite.identity.models import ModelSpec
from evalsuite.identity.run_config import RunConfig
from evalsuite.store import queries
from evalsuite.store.db import Database
from evalsuite.store.schema import utcnow

log = logging.getLogger(__name__)
Reporter = Callable[[str], None]
POLL_S = 0.5  # how often the driver reads the replicas' progress while it waits for their shares
REPLACEMENT_WAIT_S = 300.0  # how long a replacement replica may wait for room on the cluster before the run gives up


@dataclass
class Member:
    """One started replica, as the driver sees it."""

    index: int
    actor: Any
    node: str = ""
    ip: str = ""


@dataclass(frozen=True)
class AttemptNotes:
    """Where this attempt's record is (the run and attempt number) in the run's database."""

    database: Database
    run_id: int
    attempt: int


@dataclass
class _Dispatch:
    """A share on its way: the replica computing it and its committed count when it started."""

    member: Member
    share: list[Instance]
    counted_before: int


def start(
    config: RunConfig, model: ModelSpec, namespace: str, device_type: str, notes: AttemptNotes, report: Reporter
) -> ReplicaPool:
    """Join (or start) the Ray cluster and start ``config.controls.replicas`` replicas of ``model``, each loaded and placed."""
    connection = connect(config.controls.ray_address)
    try:
        ray = connection.ray
        layout = parallelism(config.model)
        alive = alive_nodes(ray)
        check_database_for_cluster(config.outputs.db, len(alive))  # before any replica starts
        nodes = [node["Resources"] for node in alive]
        resources = per_replica(config.controls.replicas, layout.world_size if layout is not None else 1, nodes)
        flush = settings.CACHE_FLUSH_S.read()
        work = ReplicaWork(
            model=model, options=model_options(config), db=_reachable(config.outputs.db), namespace=namespace, device_type=device_type,
            run_id=notes.run_id, chunk_size=settings.CACHE_CHUNK.read(), flush_seconds=flush if flush > 0 else None,
            refresh=config.controls.no_cache,
        )
    except BaseException:
        connection.close()
        raise
    pool = ReplicaPool(connection, work, resources, notes, report)
    try:
        pool.start(config.controls.replicas)
    except BaseException:
        pool.close()  # the replicas that did start, the progress counter, and Ray if started here
        raise
    return pool


class ReplicaPool(LM):
    """N replicas of one model on a Ray cluster, behind the request cache (see the module docstring)."""

    def __init__(self, connection: Connection, work: ReplicaWork, resources: ReplicaResources, notes: AttemptNotes, report: Reporter) -> None:
        super().__init__()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray = connection.ray
        self._connection = connection
        self._work = work
        self._notes = notes
        self._report = report
        self._actor = self.ray.remote(num_cpus=resources.num_cpus, num_gpus=resources.num_gpus, max_restarts=0)(Replica)
        here = NodeAffinitySchedulingStrategy(node_id=self.ray.get_runtime_context().get_node_id(), soft=False)
        self._progress = self.ray.remote(num_cpus=0)(Progress).options(scheduling_strategy=here).remote()
        self.members: list[Member] = []
        self._started = 0
        self._shown: dict[int, int] = {}
        self._lost: list[dict[str, Any]] = []

    def start(self, count: int) -> None:
        """Start ``count`` replicas and wait until each has loaded the model; record where they run."""
        fresh = [self._launch() for _ in range(count)]
        self.members.extend(fresh)  # before waiting: a failed start closes them with the pool
        self._placed(fresh, timeout=None)
        for member in fresh:
            self._report(f"replica {member.index} of {count} on node {member.node[:12]} ({member.ip})")
        self._note_replicas()

    def compute_into_cache(self, request_type: str, requests: list[Instance], advance: Callable[[int], None]) -> None:
        """Compute and commit ``requests`` (all missing from the cache) across the replicas."""
        shares = deque(share for share in split(requests, len(self.members)) if share)
        idle = list(self.members)
        running: dict[Any, _Dispatch] = {}
        while shares or running:
            while shares and idle:
                member = idle.pop(0)
                share = shares.popleft()
                ref = member.actor.serve.remote(request_type, share, self._progress)
                running[ref] = _Dispatch(member, share, self._counts().get(member.index, 0))
            if not running:
                idle.append(self._replace())
                continue
            ready, _ = self.ray.wait(list(running), num_returns=1, timeout=POLL_S)
            self._show_progress(advance)
            for ref in ready:
                dispatch = running.pop(ref)
                try:
                    self._result(ref)
                    idle.append(dispatch.member)
                except self.ray.exceptions.RayActorError as exc:
                    shares.append(self._lose(dispatch, exc))
        self._show_progress(advance)

    def _result(self, ref: Any) -> Any:
        """What a replica's call returned; a user error raised in the replica is raised here as itself (not Ray's wrapper)."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, EvalsuiteError):
                raise exc.cause from None
            raise

    def _launch(self) -> Member:
        self._started += 1
        return Member(self._started, self._actor.remote(self._work, self._started))

    def _placed(self, members: list[Member], timeout: float | None) -> bool:
        """Wait for ``members`` to load and learn their nodes; False when ``timeout`` passed first (they are then killed)."""
        refs = [member.actor.load.remote() for member in members]
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=timeout)
        if len(ready) < len(refs):
            for member in members:
                self.ray.kill(member.actor, no_restart=True)
            return False
        for member, ref in zip(members, refs):
            member.node, member.ip = self._result_of(ref)
        return True

    def _result_of(self, ref: Any) -> Any:
        """What a starting replica returned (see :meth:`_result`); a replica that died while starting as a BackendError."""
        try:
            return self._result(ref)
        except self.ray.exceptions.RayActorError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BackendError(f"a replica died while starting: {first}", "check that every node has evalsuite, the model and its backend installed") from exc

    def _replace(self) -> Member:
        """Every replica was lost: start one wherever the cluster has room, or fail the run (its answers stay committed)."""
        member = self._launch()
        if not self._placed([member], timeout=REPLACEMENT_WAIT_S):
            raise BackendError(
                f"every replica was lost and no node had room for a new one within {REPLACEMENT_WAIT_S:.0f} s",
                "bring nodes back (`ray start --address HEAD:6379`), then resume the run with --resume (committed answers are kept)",
            )
        self.members.append(member)
        self._report(f"replica {member.index} started on node {member.node[:12]} ({member.ip}) in place of the lost ones")
        self._note_replicas()
        return member

    def _lose(self, dispatch: _Dispatch, exc: Exception) -> list[Instance]:
        """Record a lost replica (node, time, its share and what of it was committed); hand its share back for re-dispatch."""
        member = dispatch.member
        committed = self._counts().get(member.index, 0) - dispatch.counted_before
        self.members.remove(member)
        self._lost.append({
            "replica": member.index, "node": member.node, "ip": member.ip, "at": utcnow().isoformat(),
            "share": len(dispatch.share), "committed": committed, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        })
        queries.note_attempt(self._notes.database, self._notes.run_id, self._notes.attempt, "replicas_lost", self._lost)
        self._report(
            f"replica {member.index} on node {member.node[:12]} was lost; {committed} of its {len(dispatch.share)} answers were committed "
            f"and are kept, the rest go to {'the other replicas' if self.members else 'a new replica'}"
        )
        try:
            self.ray.kill(member.actor, no_restart=True)
        except Exception:  # already gone with its node
            log.debug("replica %s was already gone", member.index)
        return dispatch.share

    def _counts(self) -> dict[int, int]:
        return dict(self.ray.get(self._progress.read.remote()))

    def _show_progress(self, advance: Callable[[int], None]) -> None:
        """Move the one bar by what the replicas committed since the last look; say when a replica commits its first answers."""
        counts = self._counts()
        for index, count in sorted(counts.items()):
            shown = self._shown.get(index, 0)
            if count > shown:
                if shown == 0:
                    member = next((m for m in self.members if m.index == index), None)
                    node = member.node[:12] if member is not None else "?"
                    self._report(f"replica {index} on node {node}: first answers committed")
                advance(count - shown)
                self._shown[index] = count

    def _note_replicas(self) -> None:
        started = [{"replica": m.index, "node": m.node, "ip": m.ip} for m in self.members]
        queries.note_attempt(self._notes.database, self._notes.run_id, self._notes.attempt, "replicas", started)

    # lm-eval asks the model for its tokenizer, chat template, context length: any replica answers.
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not self.__dict__.get("members"):
            raise AttributeError(name)
        actor = self.members[0].actor
        try:
            is_method, value = self.ray.get(actor.attribute.remote(name))
        except self.ray.exceptions.RayTaskError as exc:
            raise AttributeError(name) from exc
        if not is_method:
            return value
        return lambda *args, **kwargs: self.ray.get(actor.call.remote(name, args, kwargs))

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        raise _not_direct()

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        raise _not_direct()

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        raise _not_direct()

    def close(self) -> None:
        """Stop the replicas (each closes its backend) and leave the cluster if this run joined it."""
        closing = [member.actor.close.remote() for member in self.members]
        self.ray.wait(closing, num_returns=len(closing), timeout=60)
        for actor in [member.actor for member in self.members] + [self._progress]:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # gone already (its node was lost)
                log.debug("actor already gone")
        self.members = []
        self._connection.close()


def split(requests: list[Instance], parts: int) -> list[list[Instance]]:
    """``requests`` in ``parts`` shares of about equal size, requests with one context kept in one share.

    The transformers backend scores the choices of one question over their shared context
    at once; split apart, each would be scored alone and move by float rounding. Groups are
    dealt largest first to the smallest share, which also spreads long and short ones.
    """
    groups: dict[str, list[Instance]] = {}
    for request in requests:
        groups.setdefault(str(request.args[0]), []).append(request)
    shares: list[list[Instance]] = [[] for _ in range(parts)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shares, key=len).extend(group)
    return shares


def _not_direct() -> RuntimeError:
    return RuntimeError("replicas answer through the request cache (CachedLM.compute_into_cache), not directly")


def _reachable(db: str) -> str:
    """The database as every replica can open it: a SQLite path made absolute (an actor's working folder is not ours)."""
    return db if "://" in db else str(Path(db).expanduser().resolve())
