"""The console command leaves through ``os._exit`` after its work: nothing printed or stored may be lost on the way.

``evalsuite.cli.app.main`` skips the interpreter's teardown once a command has finished. These
tests run the real console script in a subprocess and check what a user would notice if
that went wrong: exit statuses, the last lines of output, and a SQLite database whose
writes still sit in its ``-wal`` file (left behind when a connection is never closed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalsuite.cli.app import _leave


def _evalsuite(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "evalsuite.cli.app", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_finished_run_leaves_its_database_whole_and_its_output_flushed(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    done = _evalsuite("run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "2", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("┘")  # the results table, whole
    assert done.stderr.rstrip().splitlines()[-1].startswith("run 1 complete:")  # the last line made it out
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0  # every connection was closed
    listed = _evalsuite("results", "list", "--db", str(db), cwd=tmp_path)
    assert listed.returncode == 0 and "complete" in listed.stdout


def test_an_error_still_exits_1_with_its_one_line(tmp_path: Path) -> None:
    failed = _evalsuite("results", "list", "--db", str(tmp_path / "absent.db"), cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: no database at")


@pytest.mark.parametrize(("code", "status", "printed"), [(None, 0, ""), (0, 0, ""), (3, 3, ""), ("stopped", 1, "stopped\n")])
def test_leaving_keeps_sys_exits_meaning_of_the_status(code: object, status: int, printed: str, tmp_path: Path) -> None:
    """``_leave`` in a child process: the status and message ``sys.exit(code)`` would give."""
    script = f"from evalsuite.cli.app import _leave\n_leave(SystemExit({code!r}))\nprint('not reached')"
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (child.returncode, child.stdout, child.stderr) == (status, "", printed)


def test_leaving_waits_when_another_thread_is_at_work() -> None:
    """With a non-daemon thread alive, ``_leave`` returns and the ordinary exit joins the thread."""
    import threading

    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        assert _leave(SystemExit(0)) is None  # returned: this pytest process is still here
    finally:
        release.set()
        worker.join()
