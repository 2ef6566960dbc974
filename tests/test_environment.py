"""environment.git_describe: lm-eval's `git_hash`, without git's complaints on the terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import lm_eval.evaluator
import pytest

from evalsuite.identity import environment


def _git(folder: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
    return subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True).stdout.strip()


def test_git_describe_in_a_checkout_is_the_commit(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "f.txt").write_text("x\n")
    _git(tmp_path, "add", "f.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    assert environment.git_describe(str(tmp_path)) == _git(tmp_path, "rev-parse", "--short", "HEAD")


def test_git_describe_outside_a_checkout_is_none_and_silent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.chdir(tmp_path)
    lm_eval.evaluator.get_git_commit_hash()  # lm-eval's own lookup: git's stderr reaches the terminal
    assert "fatal: not a git repository" in capfd.readouterr().err
    with environment.quiet_git_lookup():
        assert lm_eval.evaluator.get_git_commit_hash() is None
    assert capfd.readouterr().err == ""
    assert lm_eval.evaluator.get_git_commit_hash.__module__ == "lm_eval.loggers.utils"  # restored after the block
