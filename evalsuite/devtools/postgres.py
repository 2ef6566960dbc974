"""A throwaway PostgreSQL cluster on loopback, or an existing server given by URL, for tests and benches.

Tests (``tests/pg_server.py``, the ``postgres_server`` fixture) and ``bench/bench_store_load.py``
both need a PostgreSQL server they may create and drop databases on. Either this process starts
one — ``initdb`` in a temporary folder, ``pg_ctl start`` on 127.0.0.1 and a free port, trust
authentication, stopped and deleted at the end — or it is handed a server already running
(:data:`ENV_URL`, set by ``.ci/run``, which starts one cluster for the whole CI job).
Only loopback, only throwaway data: never point it at a server holding anything of value.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from evalsuite.settings import TEST_POSTGRES_URL

ENV_URL = TEST_POSTGRES_URL.name  # a server (its maintenance database's URL) to use instead of starting one
MAX_CONNECTIONS = 300  # the load bench opens 200 voters' connections at once


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bin(name: str) -> str:
    """The newest installed PostgreSQL's ``name`` (Debian keeps them under /usr/lib/postgresql/<major>/bin)."""
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (apt-get install postgresql; .ci/run does)")
    return found


def as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as the `postgres` account then."""
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{part}'" for part in command)]


@dataclass
class PostgresServer:
    """A running server: the URL of its maintenance database, and its folder when this process started it."""

    url: str
    folder: Path | None = None

    @property
    def host(self) -> str:
        return str(self._parsed().host)

    @property
    def port(self) -> int:
        return int(self._parsed().port or 5432)

    def _parsed(self):  # noqa: ANN202 (sqlalchemy's URL)
        from sqlalchemy.engine import make_url

        return make_url(self.url)

    def database_url(self, name: str) -> str:
        return self._parsed().set(database=name).render_as_string(hide_password=False)

    def create_database(self) -> str:
        """A new empty database on this server; its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def version(self) -> str:
        """The server's version, e.g. ``16.4`` (printed by CI to show which server the tests ran on)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]).split()[0] if row else "unknown"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(statement)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop and delete a cluster this process started; a server given by URL is left running."""
        if self.folder is None:
            return
        data = self.folder / "data"
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), check=False, capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_server(max_connections: int = MAX_CONNECTIONS) -> PostgresServer:
    """initdb + pg_ctl start on a free loopback port, trust authentication, sockets in the temporary folder.

    fsync is off: the data is thrown away, and the tests and benches measure evalsuite, not the disk.
    """
    folder = Path(tempfile.mkdtemp(prefix="evalsuite-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port = free_port()
    try:
        subprocess.run(as_postgres([pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]), check=True, capture_output=True)
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections={max_connections} -c fsync=off"
        start = as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"])
        subprocess.run(start, check=True, capture_output=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", folder)


def server_from_env_or_start() -> PostgresServer:
    """The server named by :data:`ENV_URL` (CI's), or a new throwaway cluster (a developer's machine)."""
    given = TEST_POSTGRES_URL.read()
    return PostgresServer(given) if given else start_server()
