"""Run liveness from a heartbeat: who is working on a run, and whether it still lives.

A process working on a run writes ``run.heartbeat_at`` (and its attempt's
``ended_at``, "last seen") every ``EVALSUITE_HEARTBEAT_S`` seconds from a daemon
thread. Any reader, on any host, shows a ``running`` row whose heartbeat is older
than ``EVALSUITE_HEARTBEAT_TIMEOUT_S`` as ``interrupted``; such a run may be resumed
from any host. Process ids cannot tell this: a pod or laptop that disappears leaves a
pid that means nothing on the reader's machine.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from evalsuite import settings
from evalsuite.errors import DatabaseError
from evalsuite.store.db import Database
from evalsuite.store.retry import retrying
from evalsuite.store.schema import RUN_RUNNING, RunAttempt, RunRecord, utcnow

log = logging.getLogger(__name__)

ENV_INTERVAL = settings.HEARTBEAT_S.name
ENV_TIMEOUT = settings.HEARTBEAT_TIMEOUT_S.name
ENV_HOSTNAME = settings.HOSTNAME.name  # tests pose as a second machine


def heartbeat_interval() -> float:
    return settings.HEARTBEAT_S.read()


def heartbeat_timeout() -> float:
    """Seconds of silence after which a `running` run counts as interrupted (at least two beats)."""
    return max(settings.HEARTBEAT_TIMEOUT_S.read(), 2 * heartbeat_interval())


def hostname() -> str:
    return settings.HOSTNAME.read() or socket.gethostname()


def as_utc(moment: datetime) -> datetime:
    """Stored times are UTC; some drivers hand them back without a zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def last_seen(record: RunRecord) -> datetime:
    """The run's last sign of life: its heartbeat, or its start for rows written before heartbeats."""
    return as_utc(record.heartbeat_at or record.started_at)


def stale_cutoff(now: datetime | None = None) -> datetime:
    """Rows last seen before this moment are no longer worked on."""
    return (now or utcnow()) - timedelta(seconds=heartbeat_timeout())


def is_stale(record: RunRecord, now: datetime | None = None) -> bool:
    return record.status == RUN_RUNNING and last_seen(record) < stale_cutoff(now)


@retrying
def beat(database: Database, run_id: int, attempt: int, attempt_started: datetime) -> bool:
    """Write one heartbeat; False when this process no longer owns the run (another took it over)."""
    now = utcnow()
    with database.session() as session:
        claimed = session.exec(  # type: ignore[call-overload]
            update(RunRecord)
            .where(col(RunRecord.id) == run_id, col(RunRecord.status) == RUN_RUNNING)
            .where(col(RunRecord.pid) == os.getpid(), col(RunRecord.host) == hostname())
            .values(heartbeat_at=now)
        )
        if claimed.rowcount != 1:
            return False
        session.exec(  # type: ignore[call-overload]
            update(RunAttempt)
            .where(col(RunAttempt.run_id) == run_id, col(RunAttempt.attempt) == attempt)
            .values(ended_at=now, duration_s=(now - as_utc(attempt_started)).total_seconds())
        )
    return True


class Heartbeat:
    """A daemon thread that beats for one attempt of a run until stopped (``start``/``stop``, or a ``with`` block)."""

    def __init__(self, database: Database, run_id: int, attempt: int, attempt_started: datetime) -> None:
        self.database = database
        self.run_id = run_id
        self.attempt = attempt
        self.attempt_started = attempt_started
        self.interval = heartbeat_interval()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"evalsuite-heartbeat-run-{run_id}", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not beat(self.database, self.run_id, self.attempt, self.attempt_started):
                    log.warning("run %s is now owned by another process; heartbeat stopped", self.run_id)
                    return
            except (SQLAlchemyError, DatabaseError) as exc:  # a busy or briefly unreachable database: try again next beat
                log.warning("heartbeat of run %s not written: %s", self.run_id, exc)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 35)  # a beat in flight may wait out the busy timeout

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
