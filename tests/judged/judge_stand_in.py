"""A loopback OpenAI-compatible judge for plumbing tests: it records every request and
answers chat completions with a rating chosen by the test (or with none)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback_http import serve_on_loopback

Rater = Callable[[list[dict[str, str]]], str]  # the request's messages -> the judge's answer text


@dataclass
class JudgeStandIn:
    """What the server was asked (chat requests' bodies) and answered, in order."""

    rater: Rater
    served: str = "stand-in-judge"
    models_entry: dict[str, Any] = field(default_factory=dict)  # extra /v1/models fields (root, max_model_len)
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@contextmanager
def judge_server(rater: Rater, served: str = "stand-in-judge", **entry: Any) -> Iterator[JudgeStandIn]:
    state = JudgeStandIn(rater, served, {"max_model_len": 8192, **entry})

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's names)
            if self.path == "/v1/models":
                self._reply(200, {"object": "list", "data": [{"id": state.served, "object": "model", **state.models_entry}]})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            if self.path != "/v1/chat/completions":
                self._reply(404, {"error": f"{self.path}: this stand-in serves chat completions only"})
                return
            try:
                text = state.rater(body["messages"])
            except RuntimeError as exc:  # the test's way to make the server fail
                self._reply(500, {"error": {"message": str(exc)}})
                return
            with state.lock:
                state.requests.append(body)
                state.answers.append(text)
            self._reply(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})

        def log_message(self, *args: Any) -> None:
            pass

    with serve_on_loopback(Handler) as url:
        state.url = url
        yield state
