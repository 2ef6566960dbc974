"""Start the Streamlit leaderboard as a child process pointed at one database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evalsuite.errors import ConfigError
from evalsuite.store.db import open_database

_PACKAGE_DIR = Path(__file__).parent


def app_path() -> Path:
    """leaderboard/app.py in a checkout, or the copy bundled into an installed wheel."""
    for candidate in (_PACKAGE_DIR.parent / "leaderboard" / "app.py", _PACKAGE_DIR / "_leaderboard" / "app.py"):
        if candidate.is_file():
            return candidate
    raise ConfigError("the leaderboard app is missing from this installation", "reinstall evalsuite")


def launch(db: str, *, port: int, host: str = "localhost") -> int:
    """Run `streamlit run leaderboard/app.py` until it exits; returns its exit status."""
    open_database(db).close()  # fail here, with a clear message, on a bad --db
    env = {**os.environ, "EVALSUITE_DB": db}
    command = [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]
    return subprocess.call(command, env=env)
