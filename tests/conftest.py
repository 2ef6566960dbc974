"""Shared fixtures and CI rules: offline Hugging Face, test data, a tiny random Llama, strict skips.

Strict skip mode (``EVALSUITE_STRICT_SKIPS=1``, set by ``.ci/run``): a skipped test fails the
run unless its reason names a missing GPU (contains "GPU" or "CUDA"), and an xfail fails too,
so CI cannot go green by quietly not running a test (no chromium, no vLLM, no shared data).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_server import PostgresServer, server_from_env_or_start

from evalsuite import settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
STRICT_SKIPS_ENV = settings.STRICT_SKIPS.name
ALLOWED_SKIP_WORDS = ("GPU", "CUDA")  # the one acceptable reason to skip in CI: no accelerator here


def strict_skips() -> bool:
    """Whether skips and xfails fail the run (CI); read at report time, so tests can toggle it."""
    return settings.STRICT_SKIPS.read()


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _enforce_strict_skips(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Turn a skip (unless it names a missing GPU) or an xfail into a failure, in strict mode."""
    if not strict_skips():
        return
    xfail_reason = getattr(report, "wasxfail", None)
    if xfail_reason is not None:
        del report.wasxfail
        report.outcome = "failed"
        report.longrepr = f"{STRICT_SKIPS_ENV}=1: xfail is not allowed in CI ({xfail_reason or 'no reason given'})"
        return
    if not report.skipped:
        return
    reason = _skip_reason(report)
    if any(word in reason.upper() for word in ALLOWED_SKIP_WORDS):
        return
    report.outcome = "failed"
    report.longrepr = f"{STRICT_SKIPS_ENV}=1: skipped tests fail unless the reason names a missing GPU; skipped: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    _enforce_strict_skips(report)
    _count_postgres_outcome(item, report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """Module-level skips (``pytest.importorskip`` at import) are collection reports."""
    outcome = yield
    _enforce_strict_skips(outcome.get_result())


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep evalsuite's weight-hash cache out of the user's home during tests."""
    cache = tmp_path_factory.getbasetemp() / "evalsuite-cache"
    monkeypatch.setenv("EVALSUITE_CACHE", str(cache))
    monkeypatch.delenv("EVALSUITE_DB", raising=False)
    monkeypatch.delenv("EVALSUITE_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark data beside the checkout (``../shared/data``): the one way tests reach it.

    Absent, the tests that need it skip on a developer's machine and fail in strict mode (CI).
    """
    if not SHARED_DATA.is_dir():
        message = f"benchmark data folder {SHARED_DATA} is absent (expected at ../shared/data beside the checkout)"
        if strict_skips():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Llama with a byte-level BPE, saved with save_pretrained()."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    text = ["The quick brown fox jumps over the lazy dog. Question: yes no maybe Answer:"] * 20
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(text, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, head_dim=64, max_position_embeddings=512,
        bos_token_id=0, eos_token_id=1, pad_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return path


# The in-process vLLM reference run (one engine start shared by tests/test_vllm_run.py and the endpoint
# tests in tests/backends/test_openai_backend.py; vLLM spawns workers, so it runs as a subprocess).
VLLM_REFERENCE_TASKS = "pubmedqa,perplexity,bleu"
VLLM_REFERENCE_LIMIT = 12
VLLM_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING", "TOKENIZERS_PARALLELISM": "false"}


def run_evalsuite_subprocess(*args: str, timeout: float = 900) -> Any:
    """`python -m evalsuite.cli.app ARGS` from the repository root; fails the test with stderr's tail unless it exits 0."""
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "evalsuite.cli.app", *args], cwd=REPO_ROOT, env={**os.environ, **VLLM_ENV},
        capture_output=True, text=True, timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


@pytest.fixture(scope="session")
def vllm_pico_s_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database of `evalsuite run --backend vllm --model demo/pico-s` on VLLM_REFERENCE_TASKS, --limit 12."""
    db = tmp_path_factory.mktemp("vllm-reference") / "vllm.db"
    run_evalsuite_subprocess(
        "run", "--model", "demo/pico-s", "--backend", "vllm", "--tasks", VLLM_REFERENCE_TASKS, "--limit", str(VLLM_REFERENCE_LIMIT), "--db", str(db)
    )
    return db


def evalsuite_ok(*args: str) -> str:
    """The evalsuite CLI in this process (CliRunner); fails the test with its output unless it exits 0. Returns stdout."""
    from typer.testing import CliRunner

    from evalsuite.cli.app import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + (repr(result.exception) if result.exception else "")
    return result.stdout


# ---------------------------------------------------------------- PostgreSQL

POSTGRES_OUTCOMES: Counter[str] = Counter()  # outcome -> PostgreSQL-backed tests, for the terminal summary
POSTGRES_SEEN: dict[str, str] = {}  # where the session's server ran, for the same line


def _uses_postgres(item: pytest.Item) -> bool:
    """Whether a test ran against PostgreSQL: the db_url fixture's postgresql side, or the server fixtures."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("db_url") == "postgresql":
        return True
    return "postgres_server" in getattr(item, "fixturenames", ())


def _count_postgres_outcome(item: pytest.Item, report: pytest.TestReport) -> None:
    """One outcome per test: its call, or its setup when that did not pass (an error or a skip there)."""
    if _uses_postgres(item) and (report.when == "call" or (report.when == "setup" and not report.passed)):
        POSTGRES_OUTCOMES[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """A line that proves, in the CI log, that the PostgreSQL side of the tests ran rather than skipped."""
    if not POSTGRES_OUTCOMES:
        return
    counts = ", ".join(f"{POSTGRES_OUTCOMES[kind]} {kind}" for kind in ("passed", "failed", "skipped"))
    server = POSTGRES_SEEN.get("server", "not started")
    terminalreporter.write_line(f"PostgreSQL-backed tests: {counts} (server {server})")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session: CI's (EVALSUITE_TEST_POSTGRES_URL) or a throwaway cluster on loopback."""
    server = server_from_env_or_start()
    try:
        POSTGRES_SEEN["server"] = f"{server.host}:{server.port}, version {server.version()}"
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The server's default database (shared by the tests that ask for it)."""
    return postgres_server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty results database: a SQLite file, and (second parameter) a new PostgreSQL database.

    Tests that take it run twice, so the store, concurrency, arena and migration code is
    checked on both engines the product supports.
    """
    if request.param == "sqlite":
        yield str(tmp_path / "evalsuite.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)
