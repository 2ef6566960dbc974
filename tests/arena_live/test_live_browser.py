"""The live arena in Debian's headless Chromium against `evalsuite arena serve` with the demo models in-process.

Three pages (three browser sessions) at once, each with its own prompt: both answers grow in
successive DOM reads before they finish, a second turn, the vote, the names; no page shows
another's prompt; each vote is stored once; `evalsuite arena ratings` lists both models.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from live_browser import send, sql, two_turns_then_vote
from playwright.sync_api import expect
from served_app import ARTIFACTS, REPO_ROOT, launch_chromium, needs_chromium, serve_app

from evalsuite.store.live_queries import hashed

pytestmark = [pytest.mark.slow, needs_chromium]
DEMO_CONTESTANTS = REPO_ROOT / "examples" / "arena_demo.yaml"
PAGES = 3


def test_live_battle_in_chromium_with_the_demo_models(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    # Greedy and longer than the demo file's: the first prompt then gets 221 (pico-s) and 171 (pico-m)
    # pieces, so both answers are seen growing (a sampled answer may be one piece long).
    contestants = tmp_path / "arena.yaml"
    demo = DEMO_CONTESTANTS.read_text(encoding="utf-8")
    contestants.write_text(demo.replace("max_new_tokens: 64", "max_new_tokens: 256\n    temperature: 0"), encoding="utf-8")
    db = tmp_path / "live.db"
    with serve_app("arena", "serve", "--contestants", str(contestants), "--db", str(db)) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        pages = [browser.new_page(viewport={"width": 1280, "height": 1400}) for _ in range(PAGES)]
        for page in pages:
            page.goto(url, wait_until="domcontentloaded")
            expect(page.get_by_label("Your prompt")).to_be_visible(timeout=120_000)
        first, others = pages[0], pages[1:]
        for number, page in enumerate(others, start=1):
            send(page, f"Page {number}: tell me a story.")
        model_a, model_b = two_turns_then_vote(first, db, "Page 0: write a long story about a river.", "Page 0: and a short poem?", "B is better")
        first.screenshot(path=str(tmp_path / "arena_live.png"), full_page=True)
        for page in others:
            tie = page.get_by_role("button", name="Tie")
            expect(tie).to_be_enabled(timeout=120_000)
            tie.click()
            expect(page.get_by_text("Vote recorded.")).to_be_visible(timeout=60_000)
        for number, page in enumerate(pages):
            prompts = page.locator('[data-testid="stChatMessage"] [data-testid="stText"]').all_inner_texts()
            assert prompts and all(text.startswith(f"Page {number}:") for text in prompts), prompts
        browser.close()
    votes = sql(db, "SELECT outcome, address_hash FROM vote ORDER BY id")
    assert sorted(outcome for outcome, _ in votes) == ["b", "tie", "tie"] and {model_a, model_b} == {"pico-s", "pico-m"}
    assert {address for _, address in votes} == {hashed("127.0.0.1")}  # counted against the visitor's address
    ratings = subprocess.run(
        [sys.executable, "-m", "evalsuite.cli.app", "arena", "ratings", "--db", str(db)], capture_output=True, text=True, timeout=300
    )
    assert ratings.returncode == 0, ratings.stderr
    assert "pico-s" in ratings.stdout and "pico-m" in ratings.stdout
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "arena_live.png").write_bytes((tmp_path / "arena_live.png").read_bytes())


def _readme_live_commands() -> list[list[str]]:
    """The first bash block of README.md's "Run your own Chatbot Arena" section, comments stripped."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("\n## Run your own Chatbot Arena\n", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [words for words in (shlex.split(line, comments=True) for line in block.splitlines()) if words]


def _vote_one_round(page: Any, prompt: str) -> None:
    send(page, prompt)
    vote = page.get_by_role("button", name="A is better")
    expect(vote).to_be_enabled(timeout=120_000)
    vote.click()
    expect(page.get_by_text("Vote recorded.")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="New round").click()
    expect(page.get_by_role("button", name="A is better")).to_be_disabled(timeout=60_000)


def test_readme_live_arena_ends_in_ratings_for_both_demo_models(tmp_path: Path) -> None:
    """The README's commands as written, in a fresh folder (the server on a free port instead of 8501); two votes."""
    from playwright.sync_api import sync_playwright

    serve, *after = _readme_live_commands()
    assert serve[:3] == ["evalsuite", "arena", "serve"] and [words[:3] for words in after] == [
        ["evalsuite", "arena", "ratings"], ["evalsuite", "arena", "export"],
    ]
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "arena_demo.yaml").write_bytes(DEMO_CONTESTANTS.read_bytes())
    with serve_app(*serve[1:], cwd=tmp_path) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url, wait_until="domcontentloaded")
        expect(page.get_by_label("Your prompt")).to_be_visible(timeout=120_000)
        _vote_one_round(page, "What is a river?")
        _vote_one_round(page, "Name a colour.")
        browser.close()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    outputs = [
        subprocess.run([sys.executable, "-m", "evalsuite.cli.app", *words[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        for words in after
    ]
    assert all(done.returncode == 0 for done in outputs), [done.stderr[-2000:] for done in outputs]
    assert "pico-s" in outputs[0].stdout and "pico-m" in outputs[0].stdout  # two votes: a table, not an error
    exported = [json.loads(line) for line in (tmp_path / "battles.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(exported) == 2 and all({row["model_a"], row["model_b"]} == {"pico-s", "pico-m"} for row in exported)
