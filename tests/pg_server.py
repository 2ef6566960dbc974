"""The throwaway PostgreSQL server the tests share (one per pytest session, a fresh database per test).

The helper lives in ``evalsuite/devtools/postgres.py`` so that ``bench/`` can start the same
server without importing ``tests/``; this module only re-exports it for the fixtures in
``tests/conftest.py`` and the cloud tests. In CI, ``.ci/run`` starts one cluster and passes
its URL in ``EVALSUITE_TEST_POSTGRES_URL``; elsewhere the session starts its own.
"""

from __future__ import annotations

from evalsuite.devtools.postgres import ENV_URL, PostgresServer, free_port, server_from_env_or_start, start_server

__all__ = ["ENV_URL", "PostgresServer", "free_port", "server_from_env_or_start", "start_server"]
