"""A request-level cache in the run's database, wrapped around any lm-eval `LM`.

Each request is keyed by the model's identity (``evalsuite.identity.model_identity``: weights,
tokenizer and config hashes, backend options, scoring version, library versions)
and the request's arguments. Responses are written chunk by chunk as they finish,
so a run killed at any moment (Ctrl-C, ``kill -9``, power loss) keeps everything
up to the last finished chunk, and a resumed run recomputes only what is missing.
Chunks are bounded in count (``chunk_size``) and in time (``flush_seconds``): when
requests are slow, chunks shrink so that a commit happens at least every
``flush_seconds``. Because the backends are deterministic, a resumed run gives
exactly the numbers of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from tqdm import tqdm

from evalsuite import settings
from evalsuite.errors import EvalsuiteError
from evalsuite.store import faults, queries
from evalsuite.store.db import Database

REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling", "generate_until")
DEFAULT_CHUNK_SIZE = settings.CACHE_CHUNK.default
# Longest time between two commits of computed answers (EVALSUITE_CACHE_FLUSH_S overrides it).
DEFAULT_FLUSH_SECONDS = settings.CACHE_FLUSH_S.default
# With a time bound the first chunk is small, so a slow model commits early; chunks then
# double while they stay well inside the bound, up to chunk_size.
FIRST_TIMED_CHUNK = 4
# Aim below the bound: the next chunk's requests may be longer than the last one's.
FLUSH_HEADROOM = 0.8


@dataclass
class CacheStats:
    computed: int = 0
    cached: int = 0


def request_key(namespace: str, request_type: str, args: Sequence[Any]) -> str:
    """Stable key of one request under one model identity."""
    payload = json.dumps([namespace, request_type, list(args)], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def next_chunk_size(done: int, elapsed: float, flush_seconds: float, cap: int) -> int:
    """Requests in the next chunk so that it takes about ``FLUSH_HEADROOM * flush_seconds``.

    ``done`` requests took ``elapsed`` seconds. The size at most doubles per chunk (a
    fast start says little about long documents later) and stays within [1, cap].
    """
    grown = min(cap, max(1, 2 * done))
    if elapsed <= 0:
        return grown
    fitting = int(done / elapsed * flush_seconds * FLUSH_HEADROOM)
    return max(1, min(grown, fitting))


def _encode(request_type: str, response: Any) -> list[Any]:
    if request_type == "loglikelihood":
        logprob, is_greedy = response
        return [float(logprob), bool(is_greedy)]
    if request_type == "loglikelihood_rolling":
        return [float(response)]
    return [str(response)]


def _decode(request_type: str, stored: list[Any]) -> Any:
    if request_type == "loglikelihood":
        return (float(stored[0]), bool(stored[1]))
    if request_type == "loglikelihood_rolling":
        return float(stored[0])
    return str(stored[0])


@runtime_checkable
class CommitsItself(Protocol):
    """An inner backend that computes and commits missing requests itself (data-parallel replicas, ``execution.cluster``).

    It commits each answer under this cache's namespace and run, chunk by chunk, as
    :class:`CachedLM` would; the cache then reads the answers back. ``advance`` moves the
    one progress bar.
    """

    def compute_into_cache(self, request_type: str, requests: list[Instance], advance: Callable[[int], None]) -> None: ...


class CachedLM(LM):
    """Serves requests from the database and sends only the missing ones to ``inner``.

    Args:
        inner: the real backend, or None to re-score from the cache alone (a
            missing request then raises ``MissingFromCache``).
        namespace: the model identity key the responses belong to.
        chunk_size: at most this many requests are computed between two commits.
        flush_seconds: commit at least this often (chunks shrink when requests are
            slow); None bounds chunks by count only.
        run_id: the run computing answers, recorded with each (``computed_by_run_id``).
        refresh: compute every request again (``--no-cache``) and overwrite its answer.
    """

    def __init__(
        self,
        inner: LM | None,
        database: Database,
        namespace: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        flush_seconds: float | None = None,
        run_id: int | None = None,
        refresh: bool = False,
        show_progress: bool = True,
        on_chunk: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.database = database
        self.namespace = namespace
        self.chunk_size = max(1, chunk_size)
        self.flush_seconds = flush_seconds if flush_seconds is not None and flush_seconds > 0 else None
        self.run_id = run_id
        self.refresh = refresh
        self.show_progress = show_progress
        self.on_chunk = on_chunk
        self.stats = CacheStats()

    def __getattr__(self, name: str) -> Any:
        # lm-eval asks the model for chat templates, tokenizer names, rank, ...
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    @property
    def rank(self) -> int:  # type: ignore[override]
        return self.inner.rank if self.inner is not None else 0

    @property
    def world_size(self) -> int:  # type: ignore[override]
        return self.inner.world_size if self.inner is not None else 1

    @property
    def tokenizer_name(self) -> str:
        if self.inner is None:
            return self.namespace
        return str(getattr(self.inner, "tokenizer_name", self.namespace))

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        if self.inner is None:
            raise MissingFromCache("re-scoring a chat-template run needs the model's tokenizer")
        return self.inner.apply_chat_template(chat_history, add_generation_prompt=add_generation_prompt)

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        return self._serve("loglikelihood", requests)

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        return self._serve("loglikelihood_rolling", requests)

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        return self._serve("generate_until", requests)

    def _serve(self, request_type: str, requests: list[Instance]) -> list[Any]:
        keys = [request_key(self.namespace, request_type, request.args) for request in requests]
        stored = {} if self.refresh else queries.cached_responses(self.database, keys)
        missing: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key not in stored and key not in missing:
                missing[key] = index
        self.stats.cached += len(requests) - len(missing)
        if missing:
            self._compute(request_type, requests, missing, stored)
        return [_decode(request_type, stored[key]) for key in keys]

    def _compute(
        self, request_type: str, requests: list[Instance], missing: dict[str, int], stored: dict[str, list[Any]]
    ) -> None:
        if self.inner is None:
            raise MissingFromCache(f"{len(missing)} {request_type} requests are not in the cache")
        method = getattr(self.inner, request_type)
        quiet = {"disable_tqdm": True} if "disable_tqdm" in inspect.signature(method).parameters else {}
        pending = list(missing.items())
        # Closed on failure too: the bar's line ends, so an error message starts a line of its own.
        with tqdm(total=len(pending), desc=f"{request_type} requests", disable=not self.show_progress, unit="req") as bar:
            if isinstance(self.inner, CommitsItself):
                self._computed_elsewhere(self.inner, request_type, [requests[index] for _, index in pending], bar.update)
                stored.update(self._read_back(request_type, [key for key, _ in pending]))
                return
            for chunk in self._chunks(pending):
                answers = method([requests[index] for _, index in chunk], **quiet)
                encoded = {key: _encode(request_type, answer) for (key, _), answer in zip(chunk, answers)}
                faults.point("chunk_computed")
                queries.store_responses(self.database, self.namespace, request_type, encoded, run_id=self.run_id)
                faults.point("chunk_committed")
                stored.update(encoded)
                self.stats.computed += len(chunk)
                bar.update(len(chunk))
                if self.on_chunk is not None:
                    self.on_chunk(self.stats.computed)

    def _computed_elsewhere(self, inner: CommitsItself, request_type: str, requests: list[Instance], advance: Callable[[int], None]) -> None:
        inner.compute_into_cache(request_type, requests, advance)
        self.stats.computed += len(requests)  # each by one replica of this run (a lost one's committed answers included)

    def _read_back(self, request_type: str, keys: list[str]) -> dict[str, list[Any]]:
        """The answers replicas committed; one missing is a bug of the replicas, never a silent gap."""
        found = queries.cached_responses(self.database, keys)
        lacking = len(set(keys) - found.keys())
        if lacking:
            raise RuntimeError(f"{lacking} {request_type} answers the replicas reported are not in the request cache")
        return found

    def _chunks(self, pending: list[tuple[str, int]]) -> Iterator[list[tuple[str, int]]]:
        """Consecutive slices of ``pending``, each computed and committed before the next is cut.

        The time of a slice (compute + commit, measured between two yields) sizes the next
        one, so with a time bound a commit comes at least about every ``flush_seconds``.
        """
        size = self.chunk_size if self.flush_seconds is None else min(self.chunk_size, FIRST_TIMED_CHUNK)
        start = 0
        while start < len(pending):
            chunk = pending[start : start + size]
            began = time.monotonic()
            yield chunk
            start += len(chunk)
            if self.flush_seconds is not None:
                size = next_chunk_size(len(chunk), time.monotonic() - began, self.flush_seconds, self.chunk_size)


class MissingFromCache(EvalsuiteError):
    """Re-scoring without the model needs every request to be cached."""

    default_hint = "finish the run with the model first: evalsuite run ... --resume RUN_ID"


def clear_cache(db: str, model: str | None = None) -> int:
    """Delete cached answers from the database at ``db`` (all, or one model's); return how many.

    Refuses a database that does not exist rather than creating an empty one, and a
    model name that has no runs there (a typo would otherwise clear nothing, silently).
    """
    from evalsuite.errors import UnknownModelError
    from evalsuite.store.db import open_database

    with open_database(db, create=False) as database:  # a missing database is an error, never created here
        if model is not None and model not in queries.model_names(database):
            known = ", ".join(queries.model_names(database)) or "none"
            raise UnknownModelError(f"no model named {model!r} in {db}", f"models stored there: {known}")
        return queries.clear_request_cache(database, model)
