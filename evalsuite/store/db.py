"""Opening the results database: engine, SQLite pragmas, schema upgrades, readers' refusal to create.

SQLite is opened in WAL mode with a busy timeout so the leaderboard can read
while a run writes and many arena voters can write at once without "database is
locked". A file is switched to WAL once, under the same lock file as schema upgrades,
before any pooled connection opens it: SQLite refuses two connections switching one
file together at once, without waiting its busy timeout (each holds the shared lock the
other must wait out), which is how two Ray workers opening one new database failed.
Any SQLAlchemy URL works (PostgreSQL for a shared deployment).

The schema is versioned by Alembic (``evalsuite/store/migrations``; the newest revision
is the schema version, see ``store.revisions``): every open brings the database to it. A new database is built from empty by
the same revisions that upgrade an old one, so both end up identical. Databases
written before Alembic (the first released schema, recorded only in the
``schema_migration`` table) are stamped with the baseline revision first. The
upgrade runs under a lock (a ``<db>.lock`` file beside a SQLite file, an advisory
lock on PostgreSQL) so that many processes opening one new database at once
create it exactly once.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlmodel import Session, create_engine

from evalsuite.errors import DatabaseError, DatabaseWriteRefused
from evalsuite.redact import mask_secrets
from evalsuite.store import faults
from evalsuite.store.revisions import alembic_config, head_revision, known_revisions

BUSY_TIMEOUT_MS = 30_000
BASELINE_REVISION = "0001"  # the first released schema (schema version 1), as made by create_all before Alembic
LOCK_TIMEOUT_S = 300  # a schema upgrade of a large database may take a while; waiting processes give up after this
PG_ADVISORY_LOCK_KEY = 0x65766C73  # "evls": one lock id for evalsuite's schema upgrades on a PostgreSQL server
# Bound parameters per statement in an `IN (...)` list: under SQLite's historical limit of 999
# (newer builds allow 32766, but a user's Python may link an old one); PostgreSQL allows far more.
SQL_IN_CHUNK = 900
CREATE_HINT = "check --db (or EVALSUITE_DB); `evalsuite run` creates a new database"


def database_url(db: str | Path) -> str:
    """Turn a path or URL into a SQLAlchemy URL (plain paths mean SQLite files; ``postgresql://`` uses psycopg 3)."""
    text_value = str(db)
    for scheme in ("postgresql://", "postgres://"):  # the driver evalsuite ships (psycopg 3), not SQLAlchemy's default psycopg2
        if text_value.startswith(scheme):
            return "postgresql+psycopg://" + text_value[len(scheme) :]
    if "://" in text_value:
        return text_value
    return f"sqlite:///{Path(text_value).expanduser()}"


def _sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (any driver spelling, ``sqlite+pysqlite:///``); None for memory and servers."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # not a URL at all: `create_engine` says so with the reason
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _prepare_sqlite_file(path: Path, *, create: bool) -> None:
    """Create the parent folder (writers only) and refuse files that are not SQLite databases."""
    if path.is_dir():
        raise DatabaseError(f"database path {path} is a directory")
    if not create and not path.exists():
        raise DatabaseError(f"no database at {path}", CREATE_HINT)
    if not create and path.stat().st_size == 0:  # a file is there: "no database" would send the user looking elsewhere
        raise DatabaseError(f"the database file {path} is empty (0 bytes): it holds no runs yet", CREATE_HINT)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the database folder {path.parent}: {exc.strerror}") from exc
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            header = handle.read(16)
        if header != b"SQLite format 3\x00":
            raise DatabaseError(
                f"{path} is not a SQLite database",
                "pass --db with a new file name or an existing evalsuite database",
            )


SQLITE_HEADER_WAL = b"\x02\x02"  # file format write and read versions (header bytes 18-19): 2 means WAL


def _in_wal_mode(path: Path) -> bool:
    """Whether the file's header says WAL (a missing or empty file is not yet a database, so no)."""
    if not path.exists():
        return False
    with path.open("rb") as handle:
        return handle.read(20)[18:20] == SQLITE_HEADER_WAL


def _switch_to_wal(path: Path, *, create: bool) -> None:
    """Put the file in WAL mode (persistent in the file), once, by one process at a time.

    A reader that may not write the folder (a read-only copy) reads the file in the mode it is in.
    """
    if _in_wal_mode(path):
        return
    if not create and not os.access(path.parent, os.W_OK):
        return
    with _file_lock(_lock_path(path), purpose="switch the database to WAL mode"):
        if _in_wal_mode(path):
            return  # another process switched it while we waited
        try:
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                connection.execute("PRAGMA journal_mode = WAL")
            finally:
                connection.close()
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot use database {path}: {exc}") from exc  # the class's hint: a writable path


def _set_sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # WAL is the file's own setting: `_switch_to_wal`
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


@dataclass
class Database:
    """An open results database; pass it to `store.queries` functions.

    Use it as a context manager (``with open_database(db) as database:``): the engine is
    disposed when the block ends, also on error, so no connection (and no SQLite ``-wal``
    file) outlives the command that opened it.
    """

    url: str
    engine: Engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except Exception as exc:
                session.rollback()
                refused = refused_write(exc, self.url)
                if refused is not None:
                    raise refused from exc
                raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


# Engines still open, closed by an exit handler: a SQLite connection left open keeps its last
# writes in the ``-wal`` file beside the database (safe, but lost by whoever copies the .db alone),
# and the CLI leaves without the interpreter's teardown (``evalsuite.cli.app.main``), which would
# otherwise close them by garbage collection.
_OPEN_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


@atexit.register
def _close_open_engines() -> None:
    for engine in list(_OPEN_ENGINES):
        engine.dispose()


def open_database(db: str | Path, *, create: bool = True) -> Database:
    """Open the database at a path or SQLAlchemy URL and bring its schema up to date.

    Args:
        db: a file path (SQLite) or a SQLAlchemy URL.
        create: writers (``run``, arena writes) create a missing database; readers
            (``results``, ``arena ratings``, the leaderboard) pass False and get a
            ``DatabaseError`` instead, so a typo in ``--db`` never leaves an empty file.
    """
    url = database_url(db)
    path = _sqlite_path(url)
    if path is not None:
        _prepare_sqlite_file(path, create=create)
        _switch_to_wal(path, create=create)
    connect_args = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False} if url.startswith("sqlite") else {}
    try:
        engine = create_engine(url, connect_args=connect_args)
    except Exception as exc:  # malformed URL, missing driver
        raise DatabaseError(mask_secrets(f"cannot open database {url}: {exc}")) from exc
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _set_sqlite_pragmas)
    _OPEN_ENGINES.add(engine)
    dialect = engine.dialect.name
    event.listen(engine, "checkout", lambda dbapi_connection, _record, _proxy: faults.apply_storage_fault(dbapi_connection, dialect))
    try:
        upgrade_schema(engine, lock_path=None if path is None else _lock_path(path), create=create)
    except (OperationalError, SADatabaseError) as exc:
        engine.dispose()
        reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        reason = " ".join(line.strip() for line in reason.splitlines() if line.strip())  # the error is one line (libpq adds a second)
        raise DatabaseError(mask_secrets(f"cannot use database {url}: {reason}")) from exc
    except BaseException:
        engine.dispose()
        raise
    return Database(url=url, engine=engine)


# The database's own codes for "no room" and "no writes": SQLite's primary result codes, PostgreSQL's SQLSTATEs.
SQLITE_FULL, SQLITE_READONLY = 13, 8
PG_DISK_FULL, PG_READ_ONLY = "53100", "25006"


def refused_write(exc: BaseException, url: str) -> DatabaseWriteRefused | None:
    """A full or read-only database as a user error with the fix; None for any other failure.

    These are not bugs and not transient: retrying cannot help, and the transaction was
    rolled back whole, so nothing half-written stays behind.
    """
    original = getattr(exc, "orig", None)
    code = getattr(original, "sqlite_errorcode", None)
    state = getattr(original, "sqlstate", None)
    where = _sqlite_path(url) or url.split("@")[-1]  # a file as its path; a server without user and password
    reason = (str(original).splitlines() or [""])[0]  # PostgreSQL appends CONTEXT lines; the message is one line
    if (isinstance(code, int) and code & 0xFF == SQLITE_FULL) or state == PG_DISK_FULL:
        return DatabaseWriteRefused(
            f"the database {where} is full ({reason})",
            "free disk space where the database lives (or move it with --db)",
        )
    if (isinstance(code, int) and code & 0xFF == SQLITE_READONLY) or state == PG_READ_ONLY:
        return DatabaseWriteRefused(
            f"the database {where} is read-only ({reason})",
            "make the database file and its folder writable, or pass --db with a writable database",
        )
    return None


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


# ---------------------------------------------------------------- Alembic


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in ``alembic_version`` (None: no stamp yet)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_schema(engine: Engine, *, lock_path: Path | None = None, create: bool = True) -> None:
    """Bring the schema to the newest revision; nothing to do (and no lock taken) when it is there."""
    with engine.connect() as connection:
        revision = current_revision(connection)
    if revision == head_revision():
        return
    with _schema_lock(engine, lock_path):
        with engine.connect() as connection:
            _upgrade_locked(connection, create=create)


def _upgrade_locked(connection: Connection, *, create: bool) -> None:
    """Decide where the database stands (empty, first release, Alembic) and upgrade it to head."""
    from alembic import command

    revision = current_revision(connection)  # again: another process may have upgraded while we waited
    if revision == head_revision():
        return
    if revision is not None and revision not in known_revisions():
        raise DatabaseError(
            f"the database's schema (revision {revision}) is newer than this evalsuite knows",
            "upgrade evalsuite (pip install -U evalsuite) to open this database",
        )
    config = alembic_config(connection)
    if revision is None:
        state = _unversioned_state(connection)
        if state == "empty" and not create:
            raise DatabaseError(f"no evalsuite tables in {mask_secrets(connection.engine.url.render_as_string())}", CREATE_HINT)
        if state == "v1":
            command.stamp(config, BASELINE_REVISION)
            connection.commit()
    with _foreign_keys_off(connection):
        command.upgrade(config, "head")
        connection.commit()


def _unversioned_state(connection: Connection) -> str:
    """`empty`, or `v1` (the first released schema: a schema_migration row, no alembic_version)."""
    tables = set(inspect(connection).get_table_names())
    if not tables:
        return "empty"
    if "schema_migration" in tables and "run" in tables:
        versions = {row[0] for row in connection.execute(text("SELECT version FROM schema_migration"))}
        if versions <= {1}:
            return "v1"
    raise DatabaseError(
        f"the database has tables ({', '.join(sorted(tables)[:5])}, ...) but no evalsuite schema version",
        "pass --db with an evalsuite database or a new file name",
    )


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite rebuilds a table to alter it (copy, drop, rename); FK checks would stop the drop."""
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.commit()  # the pragma is a no-op inside a transaction
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys = ON")


@contextmanager
def _file_lock(lock_path: Path, *, purpose: str) -> Iterator[None]:
    """The ``<db>.lock`` file beside a SQLite database: one process at a time changes the file's schema or mode."""
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=LOCK_TIMEOUT_S)
    except FileLockTimeout as exc:
        raise DatabaseError(
            f"another process has held the schema lock {lock_path} for {LOCK_TIMEOUT_S} s",
            "wait for the other evalsuite process, or delete the .lock file if none is running",
        ) from exc
    except PermissionError as exc:
        raise DatabaseError(
            f"cannot create {lock_path} to {purpose}: {exc.strerror}",
            "open it once from an account that may write its folder",
        ) from exc
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _schema_lock(engine: Engine, lock_path: Path | None) -> Iterator[None]:
    """One process at a time upgrades a database: a lock file for SQLite, an advisory lock on PostgreSQL."""
    if lock_path is not None:
        with _file_lock(lock_path, purpose="upgrade the database's schema"):
            yield
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_ADVISORY_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_ADVISORY_LOCK_KEY})
                connection.commit()
        return
    yield  # in-memory SQLite and other servers: one connection, nothing to race with


def check_connection(database: Database) -> None:
    """Touch the database so a locked or unreadable file fails early."""
    with database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def in_chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """``values`` in slices small enough for one ``IN (...)`` each (:data:`SQL_IN_CHUNK`)."""
    for start in range(0, len(values), SQL_IN_CHUNK):
        yield values[start : start + SQL_IN_CHUNK]
