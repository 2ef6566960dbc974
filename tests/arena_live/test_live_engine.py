"""The live arena's engine with the demo models in this process, on SQLite and PostgreSQL.

Streaming, concurrency, turns, votes joining the ratings, named votes kept out, the leak
filter on live answers, moderation, prompt limits, per-address limits, and the
contestants file's errors. Expected values come from the stored rows read back
independently (raw SQL counts, the conversations as sent).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from evalsuite.arena.live import LiveBattle, WordList, client_address, load_contestants
from evalsuite.arena.pipeline import RatingRequest, ratings_from_store
from evalsuite.errors import ArenaError, ConfigError, LiveRefusal
from evalsuite.store import arena_queries, live_queries
from evalsuite.store.db import open_database
from tests.arena_live.conftest import LOCAL_ENTRIES, StandIn, arena_file, stand_in_entry


def _count(database: Any, sql: str) -> int:
    with database.session() as session:
        return int(session.exec(text(sql)).one()[0])  # type: ignore[call-overload]


def _grow_and_finish(battle: LiveBattle, timeout: float = 120) -> dict[str, list[int]]:
    """Poll both sides as a page does; the lengths seen while each was still answering."""
    seen: dict[str, list[int]] = {"a": [], "b": []}
    deadline = time.monotonic() + timeout
    while battle.busy and time.monotonic() < deadline:
        for side in ("a", "b"):
            view = battle.view(side)  # type: ignore[arg-type]
            if not view.done and view.text and (not seen[side] or seen[side][-1] != len(view.text)):
                seen[side].append(len(view.text))
        time.sleep(0.002)
    assert battle.wait(timeout=5)
    return seen


def test_both_answers_stream_at_once_turns_are_stored_and_the_vote_joins_the_ratings(local_pool, db_url: str) -> None:
    with open_database(db_url) as database:
        battle = LiveBattle(local_pool, database, voter="visitor-1", address="203.0.113.7", rng=np.random.default_rng(1))
        battle.ask("Tell me about apples.")
        seen = _grow_and_finish(battle)
        a, b = battle.view("a"), battle.view("b")
        assert a.error is None and b.error is None and a.text and b.text
        assert len(seen["a"]) >= 2 and len(seen["b"]) >= 2, seen  # both grew in at least two reads before done
        assert a.started_at < b.finished_at and b.started_at < a.finished_at  # the spans overlap: at once
        assert a.name is None and b.name is None  # anonymous until the vote
        assert not battle.can_vote or battle.turn == 1
        battle.ask("And pears?")
        battle.wait(timeout=120)
        for side in ("a", "b"):
            conversation = battle.conversation(side)  # type: ignore[arg-type]
            assert [m["role"] for m in conversation] == ["user", "assistant"] * 2
            assert conversation[2]["content"] == "And pears?"
        stored = live_queries.turns(database, battle.battle_id or 0)
        assert [(t.turn, t.side) for t in stored] == [(1, "a"), (1, "b"), (2, "a"), (2, "b")]
        assert all(t.ttft_s is not None and t.tokens and t.seconds for t in stored)
        vote = battle.vote("tie")  # one decisive vote leaves Bradley–Terry unbounded (issue 22's few-vote part)
        assert {battle.view("a").name, battle.view("b").name} == {"pico-s", "pico-m"}
        assert (vote.model_a, vote.model_b) == (battle.view("a").name, battle.view("b").name)
        records = arena_queries.vote_records(database, with_answers=True)
        assert len(records) == 1 and records[0]["winner"] == "tie" and "category" not in records[0]
        assert records[0]["conversation_a"] == battle.conversation("a")
        report = ratings_from_store(database, RatingRequest())
        assert {row.model: row.battles for row in report.table.rows} == {"pico-s": 1, "pico-m": 1}
        assert _count(database, "SELECT count(*) FROM live_battle WHERE outcome = 'voted' AND winner = 'tie'") == 1


def test_regenerate_replaces_the_last_answers_and_new_round_abandons(local_pool, tmp_path: Path) -> None:
    with open_database(tmp_path / "live.db") as database:
        battle = LiveBattle(local_pool, database, voter="visitor-2")
        battle.ask("One question.")
        battle.wait(timeout=120)
        first_id = battle.battle_id
        battle.regenerate()
        battle.wait(timeout=120)
        assert battle.turn == 1 and len(battle.conversation("a")) == 2
        assert _count(database, "SELECT count(*) FROM live_turn WHERE replaced") == 2
        assert _count(database, "SELECT count(*) FROM live_turn WHERE NOT replaced") == 2
        battle.new_round()
        assert live_queries.battle(database, first_id or 0).outcome == "abandoned"  # type: ignore[union-attr]
        with pytest.raises(ArenaError, match="nothing to vote on"):
            battle.vote("tie")
        assert arena_queries.vote_count(database) == 0


def test_named_battle_vote_is_stored_but_never_counted(local_pool, db_url: str) -> None:
    with open_database(db_url) as database:
        battle = LiveBattle(local_pool, database, voter="visitor-3", anonymous=False, names=("pico-m", "pico-s"))
        assert battle.view("a").name == "pico-m"
        battle.ask("Which is better?")
        battle.wait(timeout=120)
        vote = battle.vote("model_a")
        assert vote.vote_id is None and not vote.anonymous
        assert _count(database, "SELECT count(*) FROM live_battle WHERE NOT anonymous AND winner = 'model_a'") == 1
        assert arena_queries.vote_count(database) == 0
        with pytest.raises(ArenaError, match="no votes"):
            ratings_from_store(database, RatingRequest())


def test_direct_chat_has_one_side_and_can_never_be_voted(local_pool, db_url: str) -> None:
    with open_database(db_url) as database:
        chat = LiveBattle(local_pool, database, voter="visitor-4", anonymous=False, names=("pico-s",))
        assert chat.sides == ("a",) and chat.view("a").name == "pico-s"
        for prompt in ("Hello.", "Go on."):
            chat.ask(prompt)
            chat.wait(timeout=120)
        assert [m["content"] for m in chat.conversation("a")[::2]] == ["Hello.", "Go on."] and not chat.can_vote
        with pytest.raises(ArenaError, match="direct chat has nothing to vote on"):
            chat.vote("model_a")
        battle_id = chat.battle_id or 0
        with pytest.raises(ArenaError, match="direct chat has nothing to vote on"):  # the store refuses a forged vote too
            live_queries.record_live_vote(database, battle_id, "model_a", voter_hash=live_queries.hashed("visitor-4"), address_hash=None)
        assert [(t.turn, t.side) for t in live_queries.turns(database, battle_id)] == [(1, "a"), (2, "a")]
        assert live_queries.live_labels(database) == [(local_pool["pico-s"].model_key, "pico-s")]
        chat.new_round()
        assert live_queries.battle(database, battle_id).outcome == "abandoned"  # type: ignore[union-attr]
        assert arena_queries.vote_count(database) == 0


def test_prompt_limits_refuse_before_anything_is_sent(tmp_path: Path, stand_in: StandIn) -> None:
    path = arena_file(tmp_path / "arena.yaml", [stand_in_entry(stand_in, "x", 0), stand_in_entry(stand_in, "y", 1)], turn_limit=1, prompt_chars=20)
    pool = load_contestants(path)
    with open_database(tmp_path / "live.db") as database:
        battle = LiveBattle(pool, database, voter="v")
        for prompt, words in (("   ", "empty"), ("x" * 21, "21 characters; the limit is 20")):
            with pytest.raises(LiveRefusal, match=words):
                battle.ask(prompt)
        assert stand_in.requests == [] and _count(database, "SELECT count(*) FROM live_battle") == 0
        battle.ask("hi")
        battle.wait(timeout=30)
        with pytest.raises(LiveRefusal, match="limit of 1 turns"):
            battle.ask("again")
        assert len(stand_in.requests) == 2


def test_moderation_word_list_refuses_the_prompt(tmp_path: Path, stand_in: StandIn) -> None:
    (tmp_path / "blocked.txt").write_text("# words\nforbidden topic\n", encoding="utf-8")
    path = arena_file(tmp_path / "arena.yaml", [stand_in_entry(stand_in, "x", 0), stand_in_entry(stand_in, "y", 1)], moderation={"words": "blocked.txt"})
    pool = load_contestants(path)
    assert isinstance(pool.moderation, WordList)
    with open_database(tmp_path / "live.db") as database:
        battle = LiveBattle(pool, database, voter="v")
        with pytest.raises(LiveRefusal, match="refused by the arena's moderation"):
            battle.ask("Tell me about the FORBIDDEN   topic".replace("   ", " "))
        assert stand_in.requests == [] and _count(database, "SELECT count(*) FROM live_battle") == 0
        battle.ask("Tell me about forbiddenness")  # a whole-word match only
        battle.wait(timeout=30)
        assert battle.view("a").error is None


def test_leak_filter_runs_on_live_answers(tmp_path: Path, stand_in: StandIn) -> None:
    stand_in.text = "As a model trained by OpenAI I think so."
    pool = load_contestants(arena_file(tmp_path / "arena.yaml", [stand_in_entry(stand_in, "x", 0), stand_in_entry(stand_in, "y", 1)]))
    with open_database(tmp_path / "live.db") as database:
        for voter in ("v1", "v2"):
            battle = LiveBattle(pool, database, voter=voter)
            battle.ask("Who made you?")
            battle.wait(timeout=30)
            battle.vote("tie")
            stand_in.text = "Nobody in particular."
        report = ratings_from_store(database, RatingRequest())
        assert report.leaks.checked and report.leaks.excluded == 1
        assert arena_queries.vote_count(database) == 2  # the vote is kept, only left out of the fit


def test_stalled_contestant_fails_the_round_and_is_recorded(tmp_path: Path, stand_in: StandIn) -> None:
    stand_in.end = "stall"
    path = arena_file(tmp_path / "arena.yaml", [stand_in_entry(stand_in, "x", 0), stand_in_entry(stand_in, "y", 1), *LOCAL_ENTRIES[:1]],
                      stall_timeout_s=1)
    pool = load_contestants(path)
    with open_database(tmp_path / "live.db") as database:
        battle = LiveBattle(pool, database, voter="v", anonymous=False, names=("x", "pico-s"))
        battle.ask("Hello?")
        battle.wait(timeout=120)
        assert "within 1 s" in (battle.view("a").error or "") and battle.view("a").text == "Hello "
        assert battle.round_over == "failed" and not battle.can_vote
        assert [(o.contestant, o.failures) for o in live_queries.outages(database, live_queries.since_minutes(5))] == [("x", 1)]
        assert pool.is_down("x") and _count(database, "SELECT count(*) FROM vote") == 0


def test_per_address_limit_counts_the_peer_unless_a_trusted_proxy_forwarded(tmp_path: Path, stand_in: StandIn, monkeypatch) -> None:
    monkeypatch.setenv("EVALSUITE_VOTES_PER_MINUTE_PER_ADDRESS", "1")
    monkeypatch.setenv("EVALSUITE_TRUSTED_PROXIES", "10.0.0.1")
    assert client_address("198.51.100.9", "203.0.113.1") == "198.51.100.9"  # an untrusted peer's header is ignored
    assert client_address("10.0.0.1", "1.1.1.1, 203.0.113.1") == "203.0.113.1"  # right-most hop before the proxy
    assert client_address("10.0.0.1", None) == "10.0.0.1"
    pool = load_contestants(arena_file(tmp_path / "arena.yaml", [stand_in_entry(stand_in, "x", 0), stand_in_entry(stand_in, "y", 1)]))

    def vote_from(voter: str, peer: str, forwarded: str | None) -> None:
        battle = LiveBattle(pool, database, voter=voter, address=client_address(peer, forwarded))
        battle.ask("hi")
        battle.wait(timeout=30)
        battle.vote("tie")

    with open_database(tmp_path / "live.db") as database:
        vote_from("p1", "10.0.0.1", "203.0.113.1")
        vote_from("p2", "10.0.0.1", "203.0.113.2")  # behind the proxy: two clients, two addresses
        with pytest.raises(ArenaError, match="at most 1 per minute from one address"):
            vote_from("p3", "10.0.0.1", "203.0.113.2")
        monkeypatch.setenv("EVALSUITE_TRUSTED_PROXIES", "")
        vote_from("p4", "10.0.0.1", "203.0.113.3")  # the proxy not trusted: the peer is the address…
        with pytest.raises(ArenaError, match="from one address"):
            vote_from("p5", "10.0.0.1", "203.0.113.4")  # …and it has voted already
        assert arena_queries.vote_count(database) == 3


def test_draw_pair_skips_down_contestants_and_needs_two(tmp_path: Path, stand_in: StandIn) -> None:
    entries = [{**stand_in_entry(stand_in, name, n), "weight": w} for n, (name, w) in enumerate((("x", 1.0), ("y", 1.0), ("z", 8.0)))]
    pool = load_contestants(arena_file(tmp_path / "arena.yaml", entries))
    rng = np.random.default_rng(0)
    draws = [pool.draw_pair(rng) for _ in range(400)]
    assert all(a.name != b.name for a, b in draws)
    with_z = sum("z" in (a.name, b.name) for a, b in draws) / len(draws)
    assert with_z > 0.9  # weight 8 of 10: z is in nearly every pair (exactly 1 - P(x then y or y then x) = 0.9596)
    pool.mark_down("z")
    assert all({a.name, b.name} == {"x", "y"} for a, b in (pool.draw_pair(rng) for _ in range(20)))
    pool.mark_down("x")
    with pytest.raises(ArenaError, match="fewer than two contestants"):
        pool.draw_pair(rng)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("contestants: [", "not valid YAML"),
        ("[]", "must be a mapping"),
        ("contestants: [{name: a, model: demo/pico-s}]", "at least two"),
        ("contestants: [{model: demo/pico-s}, {name: b, model: demo/pico-m}]", "with a `name`"),
        ("contestants: [{name: a, model: demo/pico-s, colour: red}, {name: b, model: demo/pico-m}]", "unknown keys colour"),
        ("contestants: [{name: a, model: demo/pico-s, weight: 0}, {name: b, model: demo/pico-m}]", "`weight` must be a number above 0"),
        ("contestants: [{name: a, backend: openai}, {name: b, model: demo/pico-m}]", "needs `base_url`"),
        ("contestants: [{name: a, model: demo/pico-s}, {name: a, model: demo/pico-m}]", "repeated: a"),
        ("contestants: [{name: a, model: demo/pico-s}, {name: b, model: demo/pico-s}]", "a and b are the same model"),
        ("contestants: [{name: a, model: demo/pico-s, backend: nope}, {name: b, model: demo/pico-m}]", "unknown backend"),
        ("arena: {turns: 3}\ncontestants: []", "unknown keys turns"),
    ],
)
def test_bad_contestants_file_is_a_config_error_with_a_hint(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "arena.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=words) as caught:
        load_contestants(path)
    assert caught.value.hint
