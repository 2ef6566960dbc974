"""`evalsuite` CLI runs as real, killable processes that start in milliseconds.

A cold `python -m evalsuite.cli.app run` spends 10-25 s importing torch, transformers and
lm-eval before it does anything, which a matrix of a dozen killed runs cannot afford.
Python's forkserver start method keeps one server process that imported all of that
once (and warmed lm-eval's task index with a dry run, which computes nothing); each
run is a fork of it: a separate OS process with its own pid, environment, working
directory and log file, running the same ``evalsuite.cli.app`` entry point, and killed by
real signals. The server never runs a torch operation, so its forks start clean.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

PRELOAD = "tests.faults.forked_cli"
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload([PRELOAD])


@dataclass
class CliRun:
    """A finished forked CLI run: its exit code (negative: killed by that signal) and its stdout+stderr."""

    exitcode: int
    log: str

    @property
    def killed_by(self) -> signal.Signals | None:
        return signal.Signals(-self.exitcode) if self.exitcode < 0 else None


def _child(args: list[str], env: dict[str, str], cwd: str, log_path: str) -> None:
    """Runs in the forked process: the environment and files of a fresh `evalsuite ARGS`."""
    handle = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    # As started from a terminal: Ctrl-C raises KeyboardInterrupt, even when the test session itself runs
    # in a background job (a shell starts those with SIGINT ignored, and Python keeps an ignored SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = ["evalsuite", *args]
    from evalsuite.cli.app import app

    app(args=args, prog_name="evalsuite")  # exits through SystemExit with the CLI's status


def start_cli(args: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> BaseProcess:
    """Start `evalsuite ARGS` in a forked process (its ``pid`` can be signalled) and return at once."""
    process = _context.Process(target=_child, args=(list(args), dict(env), str(cwd), str(log_path)), daemon=True)
    process.start()
    return process


def run_cli(args: list[str], env: dict[str, str], cwd: Path, log_path: Path, timeout: float = 300) -> CliRun:
    """Run `evalsuite ARGS` in a forked process and wait for it to end (by itself or by an injected fault)."""
    process = start_cli(args, env, cwd, log_path)
    process.join(timeout)
    if process.exitcode is None:
        process.kill()
        process.join()
        raise AssertionError(f"evalsuite {' '.join(args)} did not end within {timeout} s; log:\n{log_path.read_text()[-3000:]}")
    return CliRun(exitcode=int(process.exitcode), log=log_path.read_text())
