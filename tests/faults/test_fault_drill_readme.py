"""The README's fault drill ("Faults and recovery") runs as written: killed after the first task, shown interrupted, resumed."""

from __future__ import annotations

import os
import re
import shlex
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, evalsuite_ok
from tests.faults import stored_state
from tests.faults.forked_runs import run_cli

PUBMEDQA_ANSWERS, ARC_ANSWERS = 4 * 3, 4 * 4


def _drill_lines() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("### Faults and recovery") :]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the Faults and recovery section has no bash block"
    return [line.split("   #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.slow
def test_readme_fault_drill_kills_after_the_first_task_and_resumes_only_the_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the drill's relative drill.db, for the listing done in this process
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVALSUITE_FAULT")}
    env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    exits: list[int] = []
    listings: list[str] = []
    for line in _drill_lines():
        words = shlex.split(line)
        if words[0] == "export":
            env.update(word.split("=", 1) for word in words[1:])
            for key in ("EVALSUITE_HEARTBEAT_S", "EVALSUITE_HEARTBEAT_TIMEOUT_S"):  # this process reads liveness too
                if key in env:
                    monkeypatch.setenv(key, env[key])
            continue
        if words[:1] == ["sleep"]:
            time.sleep(float(words[1]))
            words = words[3:]  # after "sleep N &&"
        prefix = {}
        while "=" in words[0]:
            key, value = words.pop(0).split("=", 1)
            prefix[key] = value
        assert words[0] == "evalsuite", line
        if words[1:3] == ["results", "list"]:
            listings.append(evalsuite_ok(*words[1:]))
            continue
        done = run_cli(words[1:], {**env, **prefix}, tmp_path, tmp_path / f"step{len(exits)}.log")
        exits.append(done.exitcode)
    assert exits == [-signal.SIGKILL, 0]
    assert len(listings) == 1 and stored_state.listed_status(tmp_path / "drill.db", 1) == "complete"
    assert "interrupted" in listings[0]
    final = stored_state.read(tmp_path / "drill.db")
    assert final is not None and final.integrity == "ok"
    run = final.runs[1]
    assert (run.status, run.computed, run.cached) == ("complete", ARC_ANSWERS, PUBMEDQA_ANSWERS)
    assert [outcome for _, outcome in final.attempts[1]] == ["interrupted", "complete"]
