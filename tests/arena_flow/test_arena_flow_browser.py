"""The voting flow in headless Chromium against a real `evalsuite leaderboard` server.

Needs Debian's chromium at /usr/bin/chromium; the screenshot is kept under tmp_path
and copied to artifacts/arena_vote.png.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from served_app import ARTIFACTS, launch_chromium, needs_chromium, serve_leaderboard

pytestmark = [pytest.mark.slow, needs_chromium]


def _sql(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def test_vote_reveal_and_next_in_chromium(voting_db: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with serve_leaderboard(voting_db) as url:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
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
    assert _sql(voting_db, "SELECT model_a, model_b, outcome, voter_kind, position_a FROM vote") == [(model_a, model_b, "a", "human", "left")]
    assert len(_sql(voting_db, "SELECT id FROM battle")) == 2  # Next drew a new battle
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "arena_vote.png")
