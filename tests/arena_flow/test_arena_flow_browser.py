"""The voting flow in headless Chromium against a real `evalsuite leaderboard` server.

Needs Debian's chromium at /usr/bin/chromium; the screenshot is kept under tmp_path
and copied to artifacts/arena_vote.png.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from arena_flow_fixtures import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
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


def _sql(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def test_vote_reveal_and_next_in_chromium(voting_db: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [sys.executable, "-m", "evalsuite.cli", "leaderboard", "--db", str(voting_db), "--port", str(port), "--host", "127.0.0.1"]
    server = subprocess.Popen(command, env=env, cwd=REPO_ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url, wait_until="domcontentloaded")
            arena_link = page.get_by_role("link", name="Arena", exact=True)
            expect(arena_link).to_be_visible(timeout=60_000)
            arena_link.click()  # through the app's navigation, as a visitor would
            vote_button = page.get_by_role("button", name="A is better")
            expect(vote_button).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Answer A", exact=True)).to_be_visible()
            (model_a, model_b), = _sql(voting_db, "SELECT model_a, model_b FROM battle")
            vote_button.click()
            expect(page.get_by_text(f"A: {model_a}", exact=True)).to_be_visible(timeout=30_000)
            expect(page.get_by_text(f"B: {model_b}", exact=True)).to_be_visible()
            expect(page.get_by_text("Vote recorded: A is better.")).to_be_visible()
            shot = tmp_path / "arena_vote.png"
            page.screenshot(path=str(shot), full_page=True)
            page.get_by_role("button", name="Next").click()
            expect(page.get_by_text(f"A: {model_a}", exact=True)).to_have_count(0, timeout=30_000)
            expect(page.get_by_role("button", name="A is better")).to_be_enabled()
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert _sql(voting_db, "SELECT model_a, model_b, outcome, voter_kind, position_a FROM vote") == [(model_a, model_b, "a", "human", "left")]
    assert len(_sql(voting_db, "SELECT id FROM battle")) == 2  # Next drew a new battle
    artifacts = REPO_ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copyfile(shot, artifacts / "arena_vote.png")
