"""The README's arena commands, run as written on a fresh database, end in ratings for both demo models.

The commands are read from the bash block of README.md's "## Arena" section, so the
README cannot drift from what works. Every one that does not start a server
(`evalsuite leaderboard`) runs in a subprocess, in a fresh folder (where the README's
``my_prompts.jsonl`` is written first and ``battles.jsonl`` lands), with ``EVALSUITE_DB``
pointing at a new database file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from arena_flow_fixtures import REPO_ROOT, SMALL_PROMPTS, write_jsonl

DEMO_CONTESTANTS = {"demo/pico-s", "demo/pico-m"}
SERVERS = {"leaderboard"}


def readme_arena_commands() -> list[list[str]]:
    """``evalsuite …`` lines of the Arena section's bash block (comments stripped), servers left out."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Arena\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [words for words in commands if words and words[0] == "evalsuite" and words[1] not in SERVERS]


def _run(words: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "evalsuite.cli.app", *words[1:]]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, (words, done.stdout[-2000:], done.stderr[-3000:])
    return done


def test_readme_arena_flow_ends_in_ratings_for_both_demo_models(tmp_path: Path) -> None:
    commands = readme_arena_commands()
    assert [words[1:3] for words in commands[:5]] == [
        ["arena", "prompts"], ["arena", "prompts"], ["arena", "generate"], ["arena", "generate"], ["arena", "judge"],
    ]
    write_jsonl(tmp_path / "my_prompts.jsonl", SMALL_PROMPTS)
    env = {
        **os.environ, "EVALSUITE_DB": str(tmp_path / "fresh.db"), "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "200",
    }
    outputs = [_run(words, tmp_path, env) for words in commands]

    generated = [" ".join(o.stdout.split()) for o, w in zip(outputs, commands) if w[2] == "generate"]
    assert all("83 answers generated and stored; 0 prompts still unanswered" in g for g in generated), generated
    # The demo models answer with text; pico-s still ends its turn at once on a few prompts, and says so.
    empty = [int(m.group(1)) for o in outputs for m in re.finditer(r"warning: (\d+) of 83 answers are empty", o.stderr)]
    assert sum(empty) <= 83 * 2 // 10, empty  # at most a tenth of both contestants' 166 answers together
    judged = next(o.stdout for o, w in zip(outputs, commands) if w[2] == "judge")
    assert "demo/pico-judge judged 83 battles" in judged and "skipped 0 pairs" in judged
    json_rows = next(json.loads(o.stdout) for o, w in zip(outputs, commands) if "--json" in w)
    assert {row["model"] for row in json_rows} == DEMO_CONTESTANTS
    assert all(row["battles"] == 83 for row in json_rows)
    final = outputs[-1].stdout
    assert commands[-1][2] == "ratings" and "Rank" in final
    assert all(model in final for model in DEMO_CONTESTANTS), final
    database_table = next(o.stdout for o, w in zip(outputs, commands) if w[2] == "ratings" and "--json" not in w)
    assert "0 by people, 83 by model judges" in " ".join(database_table.split())
