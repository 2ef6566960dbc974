"""Start the Streamlit leaderboard (or the live arena) on one database, as the process itself.

`evalsuite leaderboard` replaces its own process with Streamlit (``os.execve``) instead of
starting a child: under ``docker stop``, systemd or a plain ``kill``, SIGTERM then reaches
the server directly and it stops, where a child would have been orphaned and kept serving.
A consequence: :func:`launch` never returns, so drive it from a subprocess, never in-process.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import NoReturn

from evalsuite import settings
from evalsuite.errors import ConfigError
from evalsuite.store.db import open_database

_PACKAGE_DIR = Path(__file__).parent.parent  # evalsuite/

# A leaderboard is for readers: no Deploy button, no developer menu, no usage statistics.
STREAMLIT_OPTIONS = (
    "--server.headless", "true",
    "--browser.gatherUsageStats", "false",
    "--client.toolbarMode", "viewer",
)  # fmt: skip


def app_path() -> Path:
    """app.py of the installed ``leaderboard`` package (in a checkout, its top-level leaderboard/ folder)."""
    import importlib.util

    spec = importlib.util.find_spec("leaderboard")
    installed = Path(spec.origin).parent / "app.py" if spec is not None and spec.origin else None
    for candidate in (installed, _PACKAGE_DIR.parent / "leaderboard" / "app.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    raise ConfigError("the leaderboard app is missing from this installation", "reinstall evalsuite")


def streamlit_command(*, port: int, host: str) -> list[str]:
    """The `python -m streamlit run …` command line that serves the leaderboard."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.port", str(port), "--server.address", host, *STREAMLIT_OPTIONS,
    ]  # fmt: skip


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another program listens on, in our words (Streamlit's own message is a raw OSError line)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use by another program",
                f"pass --port with a free port (e.g. --port {port + 1}), or stop the program that holds {port}",
            ) from exc
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror}", "check --host and --port") from exc


def _contestants_env(contestants: Path | None) -> dict[str, str]:
    """The variable that turns the live arena pages on, naming an existing contestants file (absolute)."""
    if contestants is None:
        return {}
    if not contestants.is_file():
        raise ConfigError(f"no contestants file at {contestants}", "pass --contestants with a YAML file, e.g. examples/arena_demo.yaml")
    return {settings.ARENA_CONTESTANTS.name: str(contestants.resolve())}


def launch(db: str, *, port: int, host: str = "localhost", contestants: Path | None = None) -> NoReturn:
    """Become `streamlit run leaderboard/app.py` on ``db``; returns only by raising on a bad --db or --contestants.

    The leaderboard only reads, so a missing database is an error there (a --db typo leaves no
    empty file); the live arena (``contestants`` given) writes battles, so it creates one.
    """
    extra_env = _contestants_env(contestants)
    open_database(db, create=contestants is not None).close()  # fail here, with a clear message, on a bad --db
    check_port_free(host, port)
    command = streamlit_command(port=port, host=host)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, {**os.environ, settings.DB.name: db, **extra_env})
