"""The run every fault test stops and resumes: demo/pico-s on two tasks, small enough to stop a dozen times.

Fixed request-cache chunks (no time bound) make the stopped, resumed and reference runs
send the same requests in the same batches, so their numbers agree exactly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tests.faults import stored_state
from tests.faults.forked_runs import run_cli

TASKS = "pubmedqa,arc_easy_200"
LIMIT = 4  # pubmedqa: 4 x 3 choices, arc_easy_200: 4 x 4 choices
CHUNK = 4  # answers per request-cache commit: 3 chunks in pubmedqa, then 4 in arc_easy_200
HEARTBEAT_S, HEARTBEAT_TIMEOUT_S = 0.2, 1.0


def run_args(db: Path | str, output: Path, *extra: str) -> list[str]:
    return ["run", "--model", "demo/pico-s", "--tasks", TASKS, "--limit", str(LIMIT), "--db", str(db), "--output", str(output), *extra]


def run_env(host: str, timeout_s: float = HEARTBEAT_TIMEOUT_S, **fault: str) -> dict[str, str]:
    """The environment of one run: posing as ``host``, with a fast heartbeat and the given EVALSUITE_FAULT_* variables."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("EVALSUITE_FAULT")}
    return {
        **base, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "EVALSUITE_HOSTNAME": host,
        "EVALSUITE_CACHE_CHUNK": str(CHUNK), "EVALSUITE_CACHE_FLUSH_S": "0",
        "EVALSUITE_HEARTBEAT_S": str(HEARTBEAT_S), "EVALSUITE_HEARTBEAT_TIMEOUT_S": str(timeout_s), **fault,
    }


@dataclass(frozen=True)
class Reference:
    """The uninterrupted run every stopped-and-resumed run must equal."""

    stored: stored_state.Stored
    results: dict
    db: Path

    @property
    def run(self) -> stored_state.Run:
        return self.stored.runs[1]


def make_reference(folder: Path) -> Reference:
    db, output = folder / "reference.db", folder / "reference.json"
    done = run_cli(run_args(db, output), run_env("host-a"), folder, folder / "log.txt")
    assert done.exitcode == 0, done.log[-3000:]
    stored = stored_state.read(db)
    assert stored is not None and stored.runs[1].status == "complete" and stored.complete_without_all_metrics() == []
    return Reference(stored=stored, results=json.loads(output.read_text())["results"], db=db)
