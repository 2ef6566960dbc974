"""`evalsuite leaderboard` stops when it is told to (docker stop, systemd): SIGTERM, then nothing serves.

Before the launcher exec'd Streamlit, SIGTERM killed the Python parent and left the Streamlit
child orphaned, still answering on the port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from served_app import free_port, wait_healthy

from evalsuite.store.db import open_database


def _port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _fresh_database(path: Path) -> Path:
    """A real evalsuite database (schema created by the store), empty."""
    open_database(path).close()
    return path


def test_leaderboard_stops_on_sigterm_and_hides_the_developer_toolbar(tmp_path: Path) -> None:
    db = _fresh_database(tmp_path / "board.db")
    port = free_port()
    command = [sys.executable, "-m", "evalsuite.cli.app", "leaderboard", "--db", str(db), "--port", str(port), "--host", "127.0.0.1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Its own session, so that whatever it leaves behind can be cleaned up below if the test fails.
    process = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        deadline = time.monotonic() + 10
        while _port_answers(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _port_answers(port), "something still serves the leaderboard's port after SIGTERM"
        # The process we started was the server itself (exec'd, not a parent of one), in viewer mode.
        assert b"streamlit" in cmdline and cmdline[cmdline.index(b"--client.toolbarMode") + 1] == b"viewer"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


def test_leaderboard_on_a_mistyped_database_says_so_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "evalsuite.bd"
    command = [sys.executable, "-m", "evalsuite.cli.app", "leaderboard", "--db", str(typo), "--port", str(free_port())]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error:") and "— hint:" in done.stderr and "Traceback" not in done.stderr
    assert typo.name in done.stderr
    assert list(tmp_path.iterdir()) == []
