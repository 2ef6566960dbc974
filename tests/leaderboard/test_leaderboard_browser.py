"""End to end in headless Chromium: `evalsuite leaderboard` serves the demo runs; a user clicks through.

Needs Debian's chromium at /usr/bin/chromium (CI installs it in .ci/run); the
screenshots are kept under the test's tmp_path and copied to artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from leaderboard_fixtures import DEMO_MODELS, DEMO_TASK, UNSAFE_MODEL, DemoDatabase, copy_database, fill_unsafe
from served_app import ARTIFACTS, launch_chromium, needs_chromium, serve_leaderboard

from evalsuite.store import queries
from evalsuite.store.db import open_database

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
def served(demo_db: DemoDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    """The leaderboard on a copy of the demo database plus one run full of HTML/Markdown."""
    db = copy_database(demo_db.path, tmp_path_factory.mktemp("browser") / "board.db")
    unsafe_run = fill_unsafe(db)
    with serve_leaderboard(db) as url:
        yield url, db, unsafe_run


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = launch_chromium(playwright)
        yield instance
        instance.close()


def _screenshot(page: object, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / name)
    return path


def _grid_cells(page: object) -> list[str]:
    """Text of the dataframe's cells (Glide Data Grid mirrors them in an accessible table)."""
    page.wait_for_selector("[data-testid='stDataFrame'] td", state="attached", timeout=60_000)  # type: ignore[attr-defined]
    return page.evaluate(  # type: ignore[attr-defined]
        "() => Array.from(document.querySelectorAll(\"[data-testid='stDataFrame'] td\")).map(e => e.innerText)"
    )


def _shown(value: float) -> str:
    """The board's text for a stored fraction, computed here: x 100 with two decimals."""
    return f"{value * 100:.2f}"


def _watch_for_injection(page: object) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    return dialogs


def _injected_elements(page: object) -> dict[str, int]:
    return page.evaluate(  # type: ignore[attr-defined]
        """() => ({
            scripts: Array.from(document.querySelectorAll('script')).filter(s => s.textContent.includes('alert(1)')).length,
            images: Array.from(document.querySelectorAll('img')).filter(i => (i.src || '').includes('example.invalid')).length,
        })"""
    )


def test_browser_shows_demo_scores_and_clicks_through_to_a_run(
    served: tuple[str, Path, int], browser: object, tmp_path: Path
) -> None:
    url, db, _ = served
    with open_database(db) as database:
        scores = {r["model"]: r["value"] for r in queries.metric_rows(database) if r["task"] == DEMO_TASK and r["metric"] == "acc"}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    dialogs = _watch_for_injection(page)
    page.goto(url)
    cells = _grid_cells(page)
    for model in DEMO_MODELS:
        assert model in cells
        assert any(cell.startswith(_shown(scores[model]) + " ± ") for cell in cells)
    assert UNSAFE_MODEL in cells  # shown as text
    _screenshot(page, tmp_path, "leaderboard.png")
    page.get_by_role("link", name="Run #").first.click()
    page.wait_for_url("**/run?run=*", timeout=60_000)
    page.get_by_text("Samples", exact=True).wait_for(timeout=60_000)
    run_cells = _grid_cells(page)
    assert "status" in run_cells and "complete" in run_cells
    _screenshot(page, tmp_path, "run.png")
    assert dialogs == [] and _injected_elements(page) == {"scripts": 0, "images": 0}
    page.close()


def test_browser_renders_unsafe_sample_as_inert_text(served: tuple[str, Path, int], browser: object, tmp_path: Path) -> None:
    url, _, unsafe_run = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    dialogs = _watch_for_injection(page)
    page.goto(f"{url}/run?run={unsafe_run}")
    code = page.locator("[data-testid='stCode']").first
    code.wait_for(timeout=60_000)
    assert "<script>alert(1)</script>" in code.inner_text()
    assert "![x](http://example.invalid/x.png)" in code.inner_text()
    code.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    assert dialogs == [] and _injected_elements(page) == {"scripts": 0, "images": 0}
    _screenshot(page, tmp_path, "unsafe-run.png")
    page.close()
