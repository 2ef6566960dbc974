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
    """DOM reads of the two answers, every 20 ms, until neither shows the streaming cursor."""
    reads: list[list[str]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        texts = answers(page)
        if len(texts) >= 2:
            reads.append(texts[-2:])
            if not any(CURSOR in text for text in texts[-2:]) and len(reads) > 1:
                return reads
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
