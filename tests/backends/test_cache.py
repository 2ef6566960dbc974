"""The request cache: answers stored per chunk, served back exactly, only missing ones computed."""

from __future__ import annotations

from pathlib import Path

import pytest
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from evalsuite.backends.cache import CachedLM, MissingFromCache
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
