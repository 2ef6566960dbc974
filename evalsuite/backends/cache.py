"""A request-level cache in the run's database, wrapped around any lm-eval `LM`.

Each request is keyed by the model's identity (weights hash, backend, dtype) and
the request's arguments. Responses are written chunk by chunk as they finish, so
a run killed at any moment (Ctrl-C, ``kill -9``, power loss) keeps everything up
to the last finished chunk, and a resumed run recomputes only what is missing.
Because the backends are deterministic, a resumed run gives exactly the numbers
of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from tqdm import tqdm

from evalsuite.errors import EvalsuiteError
from evalsuite.store import queries
from evalsuite.store.db import Database

REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling", "generate_until")
DEFAULT_CHUNK_SIZE = 256


@dataclass
class CacheStats:
    computed: int = 0
    cached: int = 0


def request_key(namespace: str, request_type: str, args: Sequence[Any]) -> str:
    """Stable key of one request under one model identity."""
    payload = json.dumps([namespace, request_type, list(args)], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


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


class CachedLM(LM):
    """Serves requests from the database and sends only the missing ones to ``inner``.

    Args:
        inner: the real backend, or None to re-score from the cache alone (a
            missing request then raises ``MissingFromCache``).
        namespace: the model identity the responses belong to.
        chunk_size: how many requests to compute between two commits.
    """

    def __init__(
        self,
        inner: LM | None,
        database: Database,
        namespace: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        show_progress: bool = True,
        on_chunk: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.database = database
        self.namespace = namespace
        self.chunk_size = chunk_size
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
        stored = queries.cached_responses(self.database, keys)
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
        bar = tqdm(total=len(pending), desc=f"{request_type} requests", disable=not self.show_progress, unit="req")
        for start in range(0, len(pending), self.chunk_size):
            chunk = pending[start : start + self.chunk_size]
            answers = method([requests[index] for _, index in chunk], **quiet)
            encoded = {key: _encode(request_type, answer) for (key, _), answer in zip(chunk, answers)}
            queries.store_responses(self.database, self.namespace, request_type, encoded)
            stored.update(encoded)
            self.stats.computed += len(chunk)
            bar.update(len(chunk))
            if self.on_chunk is not None:
                self.on_chunk(self.stats.computed)
        bar.close()


class MissingFromCache(EvalsuiteError):
    """Re-scoring without the model needs every request to be cached."""

    default_hint = "finish the run with the model first: evalsuite run ... --resume RUN_ID"
