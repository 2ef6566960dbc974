"""A real `evalsuite leaderboard` server and Debian's headless Chromium, for browser tests.

Shared by the leaderboard and arena browser tests so both start the app the
way a user does (the CLI in a subprocess) and drive it with the same browser flags.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO_ROOT / "artifacts"

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    """Poll Streamlit's health endpoint until it answers (or the server dies)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"`evalsuite leaderboard` exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the leaderboard did not answer on {url} within {timeout_s}s")


@contextmanager
def serve_app(*words: str, cwd: Path = REPO_ROOT) -> Iterator[str]:
    """`evalsuite WORDS --port P --host 127.0.0.1` on a free port; yields its URL, stops it afterwards."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [sys.executable, "-m", "evalsuite.cli.app", *words, "--port", str(port), "--host", "127.0.0.1"]
    process = subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the launcher and the streamlit child it started
        process.wait(timeout=30)


def serve_leaderboard(db: Path) -> AbstractContextManager[str]:
    """`evalsuite leaderboard --db DB` on a free port; yields its URL, stops it afterwards."""
    return serve_app("leaderboard", "--db", str(db))


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium through Playwright (`playwright install` cannot download one offline)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
