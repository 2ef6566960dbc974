"""Helpers of the live arena's browser tests: read the two answers from the DOM, send a prompt."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from leaderboard.board_ui.live_page import CURSOR as PAGE_CURSOR

CURSOR = PAGE_CURSOR.strip()  # after a side's text while it still streams


def answers(page: Any) -> list[str]:
    return [text.strip() for text in page.locator(".evalsuite-answer").all_inner_texts()]


def watch_growth(page: Any, timeout_s: float = 120) -> list[list[str]]:
    """DOM reads of the two answers, every 20 ms, from the first read that shows the streaming cursor until neither does.

    Reads before the cursor appears are not kept: after Regenerate the previous, finished answers stay on
    the page until the next redraw. A round over before any read saw the cursor returns the last read alone.
    """
    reads: list[list[str]] = []
    give_up_waiting_for_cursor, deadline = time.monotonic() + 10, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        texts = answers(page)[-2:]
        streaming = len(texts) == 2 and any(CURSOR in text for text in texts)
        if streaming:
            reads.append(texts)
        elif len(texts) == 2 and (reads or time.monotonic() > give_up_waiting_for_cursor):
            return [*reads, texts]
        time.sleep(0.02)
    raise AssertionError(f"the answers did not finish within {timeout_s}s: {reads[-1:]}")


def grew_while_streaming(reads: list[list[str]], side: int) -> int:
    """How many successive reads showed this side longer than before, still streaming."""
    streaming = [read[side] for read in reads if CURSOR in read[side]]
    return sum(1 for before, after in zip(streaming, streaming[1:]) if len(after) > len(before))


def send(page: Any, prompt: str) -> None:
    page.get_by_label("Your prompt").fill(prompt)
    page.get_by_role("button", name="Send").click()


def sql(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def two_turns_then_vote(page: Any, db: Path, first: str, second: str, button: str, *, both_at_once: bool = True) -> tuple[str, str]:
    """Send ``first`` and watch both answers grow while streaming, ask ``second``, vote with ``button``, see the names.

    Returns the stored vote's (model_a, model_b). ``both_at_once``: some DOM read shows both sides
    mid-stream at the same moment (not one after the other).
    """
    from playwright.sync_api import expect

    send(page, first)
    stream_until_seen(page, both_at_once=both_at_once)
    vote = page.get_by_role("button", name=button)
    expect(vote).to_be_enabled(timeout=60_000)
    send(page, second)
    expect(page.locator(".evalsuite-answer")).to_have_count(4, timeout=120_000)
    expect(vote).to_be_enabled(timeout=120_000)
    vote.click()
    expect(page.get_by_text("Vote recorded.")).to_be_visible(timeout=60_000)
    ((model_a, model_b),) = sql(db, "SELECT model_a, model_b FROM vote")
    expect(page.get_by_text(f"Model A: {model_a}", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Model B: {model_b}", exact=True)).to_be_visible()
    return model_a, model_b


def stream_until_seen(page: Any, *, both_at_once: bool, attempts: int = 5) -> None:
    """Watch each answer just asked for grow in at least two successive DOM reads, regenerating while one raced.

    On a loaded machine one server (vLLM, pico: hundreds of tokens a second) can finish its whole answer
    between two redraws of the page while the other streams slowly; Regenerate re-asks the same turn, so
    each side is watched growing in some attempt rather than the test passing on luck or failing on load.
    Fails when some side never grows in two successive reads (or, with ``both_at_once``, no read ever
    shows both sides mid-stream together).
    """
    from playwright.sync_api import expect

    seen: list[tuple[int, int]] = []
    overlapped = False
    for _ in range(attempts):
        reads = watch_growth(page)
        seen.append((grew_while_streaming(reads, 0), grew_while_streaming(reads, 1)))
        overlapped = overlapped or any(all(CURSOR in text and len(text) > 1 for text in read) for read in reads)
        if min(max(growth[side] for growth in seen) for side in (0, 1)) >= 2 and (overlapped or not both_at_once):
            return
        regenerate = page.get_by_role("button", name="Regenerate")
        expect(regenerate).to_be_enabled(timeout=60_000)
        regenerate.click()
    raise AssertionError(f"an answer never grew in two successive reads (growth of sides A, B per attempt: {seen}; both at once: {overlapped})")
