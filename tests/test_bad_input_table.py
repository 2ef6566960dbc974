"""scripts/bad_input_table.py runs, and every bad input in it ends in a clean error (issue 10, Must show 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bad_input_table.py"


def test_every_bad_input_fails_cleanly_and_stores_nothing_complete(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(SCRIPT), "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 13
    for row in rows:
        assert not row["traceback"] and "Traceback" not in row["message"], row
        if not row["may_succeed"]:
            assert row["exit_code"] != 0, row
            assert row["message"].startswith("error:") and "— hint:" in row["message"], row
        if row["label"].startswith("run "):
            assert "complete" not in row["database"], row  # a failed run is never stored as complete
    typo = next(row for row in rows if "typo.db" in row["label"])
    assert typo["database"] == "no database created", typo
    assert list(tmp_path.glob("evalsuite-bad-inputs-*")) == []  # the script cleans up after itself
