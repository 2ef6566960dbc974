"""The voting flow in headless Chromium against a real `evalsuite leaderboard` server.

Needs Debian's chromium at /usr/bin/chromium; the screenshot is kept under tmp_path
and copied to artifacts/arena_vote.png.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from arena_flow_fixtures import VOTING_MODELS, cast_votes
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


CELLS_AND_LABELS = """(chart) => {
  const box = e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; };
  return {
    cells: Array.from(chart.querySelectorAll("g.mark-rect.role-mark path")).map(box),
    labels: Array.from(chart.querySelectorAll("g.role-axis-label text")).map(e => ({text: e.textContent, ...box(e)})),
  };
}"""


def test_ratings_page_heatmap_draws_a_cell_per_pair_in_chromium(voting_db: Path, tmp_path: Path) -> None:
    """Issue 20 item 7: the win-rate heatmap drew at zero height (labels on one line, no cells)."""
    from playwright.sync_api import expect, sync_playwright

    cast_votes(voting_db, 45, "human")
    met = {pair for a, b in _sql(voting_db, "SELECT model_a, model_b FROM vote") for pair in ((a, b), (b, a))}
    with serve_leaderboard(voting_db) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{url}/arena_ratings", wait_until="domcontentloaded")
        charts = page.locator("[data-testid='stVegaLiteChart']")
        expect(charts).to_have_count(2, timeout=90_000)
        heatmap = charts.nth(1)
        expect(heatmap.locator("g.mark-rect.role-mark path")).to_have_count(len(met), timeout=30_000)
        drawn = heatmap.evaluate(CELLS_AND_LABELS)
        shot = tmp_path / "arena_ratings.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    cells = drawn["cells"]
    assert all(cell["height"] >= 20 and cell["width"] >= 20 for cell in cells), cells
    left = min(cell["x"] for cell in cells)
    rows = [label for label in drawn["labels"] if label["x"] + label["width"] <= left]  # the y axis, left of the cells
    columns = [label for label in drawn["labels"] if label not in rows]
    assert sorted(label["text"] for label in rows) == sorted(VOTING_MODELS)
    assert len({round(label["y"] + label["height"] / 2) for label in rows}) == len(VOTING_MODELS)  # one line per model
    assert sorted(label["text"] for label in columns) == sorted(VOTING_MODELS)
    assert len({round(cell["y"]) for cell in cells}) == len(VOTING_MODELS)  # cells on three rows, not one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "arena_ratings.png")
