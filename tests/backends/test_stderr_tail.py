"""A child process's stderr is still shown and its last lines are kept (how vLLM start-up errors get named)."""

from __future__ import annotations

import subprocess
import sys
import time

from evalsuite.backends._stderr_tail import StderrTail


def test_child_stderr_is_remembered_and_forwarded(capfd) -> None:
    script = "import sys; print('loading', file=sys.stderr); print('ValueError: No available memory', file=sys.stderr)"
    with StderrTail() as tail:
        subprocess.run([sys.executable, "-c", script], check=True)
    deadline = time.monotonic() + 10
    while "ValueError" not in tail.text() and time.monotonic() < deadline:
        time.sleep(0.05)  # the pump thread copies asynchronously
    assert [line for line in tail.text().splitlines() if line] == ["loading", "ValueError: No available memory"]
    time.sleep(0.2)
    assert "ValueError: No available memory" in capfd.readouterr().err  # still shown to the user


def test_this_process_writes_to_the_real_stderr_again_afterwards(capfd) -> None:
    with StderrTail() as tail:
        pass
    print("after", file=sys.stderr, flush=True)
    assert "after" in capfd.readouterr().err
    assert "after" not in tail.text()


def test_root_cause_is_the_engines_last_exception_line() -> None:
    from evalsuite.backends.vllm import _root_cause

    output = (
        "(EngineCore pid=1) INFO loading\n"
        "(EngineCore pid=1) ERROR [core.py:1510] KeyError: 'x'\n"
        "(EngineCore pid=1) ERROR [core.py:1510] ValueError: No available memory for the cache blocks. Try more.\n"
        "Worker proc died unexpectedly\n"
    )
    assert _root_cause(output) == "ValueError: No available memory for the cache blocks. Try more."
    assert _root_cause("nothing failed here") is None
