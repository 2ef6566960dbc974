"""The request cache: answers stored per chunk, served back exactly, only missing ones computed."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from evalsuite.backends.cache import FIRST_TIMED_CHUNK, CachedLM, MissingFromCache, next_chunk_size
from evalsuite.store import queries
from evalsuite.store.db import open_database


def _requests(n: int) -> list[Instance]:
    return [
        Instance(request_type="loglikelihood", doc={}, arguments=(f"Question {i}: is the fox quick? Answer:", choice), idx=j)
        for i in range(n)
        for j, choice in enumerate((" yes", " no", " maybe"))
    ]


class CountingLM:
    """Delegates to a real HFLM and records how many requests reached the model."""

    def __init__(self, inner: HFLM) -> None:
        self.inner = inner
        self.seen = 0

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        self.seen += len(requests)
        return self.inner.loglikelihood(requests, disable_tqdm=True)


@pytest.fixture(scope="module")
def hflm(tiny_llama: Path) -> HFLM:
    return HFLM(pretrained=str(tiny_llama), batch_size=8, device="cpu")


def test_cached_answers_equal_the_model_and_are_not_recomputed(hflm: HFLM, tmp_path: Path) -> None:
    database = open_database(tmp_path / "cache.db")
    requests = _requests(10)
    direct = hflm.loglikelihood(requests, disable_tqdm=True)
    counting = CountingLM(hflm)
    first = CachedLM(counting, database, "model-a", chunk_size=7, show_progress=False)  # type: ignore[arg-type]
    assert first.loglikelihood(requests) == [(pytest.approx(lp, abs=1e-6), g) for lp, g in direct]
    assert counting.seen == 30 and queries.count_cached(database, "model-a") == 30

    second = CachedLM(counting, database, "model-a", show_progress=False)  # type: ignore[arg-type]
    assert second.loglikelihood(requests) == first.loglikelihood(requests)
    assert counting.seen == 30 and second.stats.cached == 30 and second.stats.computed == 0


def test_only_missing_requests_are_computed_after_a_partial_run(hflm: HFLM, tmp_path: Path) -> None:
    database = open_database(tmp_path / "partial.db")
    requests = _requests(8)
    counting = CountingLM(hflm)
    CachedLM(counting, database, "m", show_progress=False).loglikelihood(requests[:10])  # type: ignore[arg-type]
    resumed = CachedLM(counting, database, "m", show_progress=False)  # type: ignore[arg-type]
    resumed.loglikelihood(requests)
    assert counting.seen == 10 + 14
    assert (resumed.stats.cached, resumed.stats.computed) == (10, 14)


def test_another_model_identity_never_shares_answers(hflm: HFLM, tmp_path: Path) -> None:
    database = open_database(tmp_path / "ns.db")
    counting = CountingLM(hflm)
    CachedLM(counting, database, "weights-1", show_progress=False).loglikelihood(_requests(2))  # type: ignore[arg-type]
    CachedLM(counting, database, "weights-2", show_progress=False).loglikelihood(_requests(2))  # type: ignore[arg-type]
    assert counting.seen == 12


def test_rescoring_without_a_model_needs_every_answer(tmp_path: Path) -> None:
    database = open_database(tmp_path / "empty.db")
    with pytest.raises(MissingFromCache, match="not in the cache"):
        CachedLM(None, database, "m", show_progress=False).loglikelihood(_requests(1))


class SlowLM(CountingLM):
    """A real model whose every request also takes ``seconds`` more: a stand-in for a big model's pace."""

    def __init__(self, inner: HFLM, seconds: float) -> None:
        super().__init__(inner)
        self.seconds = seconds

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        time.sleep(self.seconds * len(requests))
        return super().loglikelihood(requests, disable_tqdm)


def _chunk_sizes(lm: CachedLM, requests: list[Instance]) -> list[int]:
    done: list[int] = []
    lm.on_chunk = done.append
    lm.loglikelihood(requests)
    return [b - a for a, b in zip([0, *done], done)]


def test_slow_requests_are_committed_in_chunks_that_fit_the_time_bound(hflm: HFLM, tmp_path: Path) -> None:
    database = open_database(tmp_path / "timed.db")
    slow = SlowLM(hflm, seconds=0.01)
    timed = CachedLM(slow, database, "m", chunk_size=10_000, flush_seconds=0.1, show_progress=False)  # type: ignore[arg-type]
    sizes = _chunk_sizes(timed, _requests(30))
    # 0.01 s per request and a 0.1 s bound (80% aimed at): at most 8 requests per commit after the first.
    assert sum(sizes) == 90 and sizes[0] == FIRST_TIMED_CHUNK
    assert max(sizes[1:]) <= 8 and len(sizes) >= 90 // 8
    untimed = CachedLM(slow, open_database(tmp_path / "untimed.db"), "m", chunk_size=10_000, show_progress=False)  # type: ignore[arg-type]
    assert _chunk_sizes(untimed, _requests(30)) == [90]


def test_next_chunk_size_grows_at_most_twofold_and_fits_the_bound() -> None:
    assert next_chunk_size(4, 0.001, 30.0, 256) == 8  # fast: doubles
    assert next_chunk_size(200, 0.01, 30.0, 256) == 256  # capped by chunk_size
    assert next_chunk_size(100, 60.0, 30.0, 256) == 40  # 100 took 60 s: 0.8 * 30 s fits 40
    assert next_chunk_size(1, 120.0, 30.0, 256) == 1  # one request longer than the bound: still one at a time
    assert next_chunk_size(10, 0.0, 30.0, 256) == 20


def test_answers_record_the_run_that_computed_them_and_refresh_recomputes(hflm: HFLM, tmp_path: Path) -> None:
    database = open_database(tmp_path / "owner.db")
    counting = CountingLM(hflm)
    CachedLM(counting, database, "m", run_id=7, show_progress=False).loglikelihood(_requests(2))  # type: ignore[arg-type]
    assert _owners(tmp_path / "owner.db") == [(7, 6)]
    refreshed = CachedLM(counting, database, "m", run_id=8, refresh=True, show_progress=False)  # type: ignore[arg-type]
    refreshed.loglikelihood(_requests(2))
    assert counting.seen == 12 and (refreshed.stats.computed, refreshed.stats.cached) == (6, 0)
    assert queries.count_cached(database, "m") == 6 and _owners(tmp_path / "owner.db") == [(8, 6)]


def _owners(db: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT computed_by_run_id, count(*) FROM request_cache GROUP BY 1").fetchall()
