"""The README's MT-Bench commands, run as written against a loopback judge on the README's port.

The bash block of README.md's "## MT-Bench" section names a judge served at
``http://127.0.0.1:8000/v1``; here a stand-in serves that model name, and the block's URL
is pointed at the stand-in's port (nothing else is changed). The commands run in-process
(CliRunner; nothing spawns) on a fresh database.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from judge_stand_in import judge_server
from typer.testing import CliRunner

from evalsuite.cli.app import app

REPO_ROOT = Path(__file__).resolve().parents[2]
README_URL = "http://127.0.0.1:8000/v1"


def readme_mt_bench_commands() -> list[list[str]]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## MT-Bench\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [words for words in commands if words and words[0] == "evalsuite"]


def test_readme_mt_bench_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = readme_mt_bench_commands()
    assert [words[1] for words in commands] == ["run", "results"]
    judge = commands[0][commands[0].index("--judge") + 1]
    monkeypatch.setenv("EVALSUITE_DB", str(tmp_path / "readme.db"))
    outputs = []
    with judge_server(lambda _messages: "Clear and correct.\n\nRating: [[7]]", served=judge) as server:
        for words in commands:
            args = [server.url if word == README_URL else word for word in words[1:]]
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, (words, result.output)
            outputs.append(result.output)
    assert len(server.requests) == 2 * 3  # --limit 3: two turns each
    shown = outputs[-1]
    for metric in ("score ↑", "score_turn1 ↑", "score_turn2 ↑", "no_rating"):
        assert metric in shown
    assert "no_rating ↓" not in shown and "no_rating ↑" not in shown  # a count, not a score: no direction
    assert "7.0000" in shown  # every judgment said 7
