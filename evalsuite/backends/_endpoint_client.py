"""HTTP for OpenAI-compatible endpoints: retries with backoff, timeouts, a concurrency limit, one-line errors.

Kept apart from :mod:`evalsuite.backends.openai_compat` so the lm-eval ``LM`` reads as
requests and scores only. Built on ``httpx`` (a thread-safe connection pool); requests
run in a thread pool of ``concurrency`` workers, answers come back in request order.

What is retried: HTTP 408, 409, 429 and every 5xx (the server is busy or failing now),
timeouts, and dropped connections during a run. ``Retry-After`` (seconds) is honoured,
else the wait doubles from ``backoff_s`` up to ``max_backoff_s``. Not retried: other
4xx answers (the request itself is wrong: retrying cannot help), a refused connection on
first contact (a wrong port should fail in a second, not after a minute of backoff), and
a 200 whose body is not JSON. Every failure is an :class:`EndpointError` with a hint.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import httpx
from tqdm import tqdm

from evalsuite.errors import EndpointError

RETRY_STATUSES = frozenset({408, 409, 429})
RESUME_HINT = "finished requests are cached, so the same command continues where this one stopped"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing request is sent again.

    Attributes:
        max_retries: extra attempts after the first (0: none).
        backoff_s: the first wait; each further wait doubles.
        max_backoff_s: no wait is longer (a ``Retry-After`` too).
    """

    max_retries: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (with up to 25% jitter, so workers spread out)."""
        base = retry_after if retry_after is not None else self.backoff_s * 2**attempt
        return min(self.max_backoff_s, max(0.0, base)) * (1 + 0.25 * random.random())


class EndpointClient:
    """JSON over HTTP to one endpoint (``base_url`` ends in ``/v1``), shared by all worker threads.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        api_key: sent as ``Authorization: Bearer …`` when given.
        timeout_s: per request, for connecting and for the whole answer.
        retry: the :class:`RetryPolicy`.
        concurrency: requests in flight at once.
        key_hint: how the user sets the key (named in 401/403 errors).
        sleep: the wait between attempts (tests pass a recorder).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout_s: float = 300.0,
        retry: RetryPolicy | None = None,
        concurrency: int = 8,
        key_hint: str = "set OPENAI_API_KEY, or name the variable that holds the key with --api-key-env",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.key_hint = key_hint
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )
        self._lock = threading.Lock()
        self.retries = 0  # attempts beyond the first, over the client's life (for tests and logs)

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, *, first_contact: bool = False) -> Any:
        """``GET base_url + path`` as JSON; ``first_contact`` fails at once when nothing listens."""
        return self._request("GET", path, None, retry_transport=not first_contact)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        return self._request("POST", path, payload, retry_transport=True)

    def post_many(self, path: str, payloads: Sequence[dict[str, Any]], *, desc: str = "requests", disable_tqdm: bool = True) -> list[Any]:
        """POST every payload, ``concurrency`` at a time; answers in payload order.

        The first failure (after its retries) cancels what has not started and is raised.
        """
        if not payloads:
            return []
        results: list[Any] = [None] * len(payloads)
        with (
            ThreadPoolExecutor(max_workers=min(self.concurrency, len(payloads))) as pool,
            tqdm(total=len(payloads), desc=desc, disable=disable_tqdm, unit="req") as bar,
        ):
            futures = {pool.submit(self.post, path, payload): index for index, payload in enumerate(payloads)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    error = future.exception()
                    if error is not None:
                        for other in pending:
                            other.cancel()
                        raise error
                    results[futures[future]] = future.result()
                    bar.update(1)
        return results

    def stream(self, path: str, payload: dict[str, Any], *, stall_s: float) -> Iterator[Any]:
        """POST ``payload`` with ``"stream": true`` and yield each server-sent event's JSON as it arrives.

        Not retried: half an answer has been shown, so a resend would be another answer.
        ``stall_s`` bounds the wait for each next piece (httpx's read timeout), so a server
        that stops sending fails in ``stall_s`` however long the whole answer may take.
        A stream that ends without OpenAI's ``data: [DONE]`` (the server died) is an error.
        """
        url = f"{self.base_url}{path}"
        timeout = httpx.Timeout(self.timeout_s, read=stall_s)
        try:
            with self._http.stream("POST", url, json={**payload, "stream": True}, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._http_error("POST", url, response)
                for line in response.iter_lines():
                    data = line[len("data:"):].strip() if line.startswith("data:") else None
                    if data == "[DONE]":
                        return
                    if data:
                        yield _event(url, data)
        except httpx.TimeoutException as exc:
            raise EndpointError(f"POST {url}: no piece of the answer within {stall_s:g} s", "the server stalled: see its log") from exc
        except httpx.TransportError as exc:
            raise _unreachable("POST", url, exc) from exc
        raise EndpointError(f"POST {url}: the answer stopped before its end ([DONE])", "the server closed the stream: see its log")

    # ----- one request ----------------------------------------------------------------

    def _request(self, method: str, path: str, payload: dict[str, Any] | None, *, retry_transport: bool) -> Any:
        url = f"{self.base_url}{path}"
        attempts = self.retry.max_retries + 1
        for attempt in range(attempts):
            retry_after: float | None = None
            try:
                response = self._http.request(method, url, json=payload)
            except httpx.TimeoutException as exc:
                failure = EndpointError(
                    f"{method} {url}: no answer within {self.timeout_s:g} s ({type(exc).__name__})",
                    f"the server is slow or stuck: raise --backend-arg timeout_s=N, or lower --batch-size; {RESUME_HINT}",
                )
            except httpx.TransportError as exc:
                failure = _unreachable(method, url, exc)
                if not retry_transport:
                    raise failure from exc
            else:
                if response.status_code < 400:
                    return _json_body(method, url, response)
                if response.status_code not in RETRY_STATUSES and response.status_code < 500:
                    raise self._http_error(method, url, response)
                failure = _overloaded(method, url, response, attempts)
                retry_after = _retry_after(response)
            if attempt + 1 < attempts:
                with self._lock:
                    self.retries += 1
                self._sleep(self.retry.delay(attempt, retry_after))
        raise failure

    def _http_error(self, method: str, url: str, response: httpx.Response) -> EndpointError:
        status = response.status_code
        message = f"{method} {url}: HTTP {status}{_server_message(response)}"
        if status in (401, 403):
            return EndpointError(message, f"the endpoint refused the API key: {self.key_hint}")
        if status == 404 and url.endswith("/completions") and "/chat/" not in url:
            return EndpointError(
                message,
                "this endpoint offers no /completions (a chat-only API?): generation tasks run with --backend-arg api=chat; "
                "log-likelihood tasks need a completions endpoint that returns prompt log-probabilities",
            )
        if status == 404:
            return EndpointError(message, "check --base-url: it should end in /v1 (e.g. http://127.0.0.1:8000/v1)")
        return EndpointError(message, "the server rejected this request; its message above says why")


def _unreachable(method: str, url: str, exc: Exception) -> EndpointError:
    return EndpointError(
        f"{method} {url}: cannot reach the endpoint ({type(exc).__name__}: {str(exc) or 'no detail'})",
        "start the server, or check --base-url (scheme, host, port, and the /v1 at its end)",
    )


def _overloaded(method: str, url: str, response: httpx.Response, attempts: int) -> EndpointError:
    return EndpointError(
        f"{method} {url}: HTTP {response.status_code}{_server_message(response)} on all {attempts} attempts",
        f"the server is overloaded or failing: see its log, lower --batch-size or raise --backend-arg max_retries=N; {RESUME_HINT}",
    )


def _json_body(method: str, url: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError
        start = response.text[:60].replace("\n", " ")
        raise EndpointError(
            f"{method} {url}: the answer is not JSON (HTTP {response.status_code}, begins {start!r})",
            "is --base-url an OpenAI-compatible API? It should end in /v1, e.g. http://127.0.0.1:8000/v1",
        ) from exc


def _event(url: str, data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise EndpointError(f"POST {url}: a streamed event is not JSON (begins {data[:60]!r})", "is it an OpenAI-compatible API?") from exc


def _server_message(response: httpx.Response) -> str:
    """The server's own one-line reason (OpenAI's ``{"error": {"message"}}`` or vLLM's ``{"message"}``)."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().splitlines()
        return f" ({text[0][:200]})" if text else ""
    error = body.get("error", body) if isinstance(body, dict) else body
    message = error.get("message") if isinstance(error, dict) else error
    if not message:
        return ""
    first = str(message).strip().splitlines()
    return f" ({first[0][:200]})" if first else ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff

