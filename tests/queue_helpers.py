"""Helpers shared by the model queue's tests (tests/queue and tests/ray): its summary table, a model that fails to load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from evalsuite.identity.models import DEMO_MODELS_DIR


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """The queue's summary table: model -> its other cells (a folded cell's continuation lines joined)."""
    rows: list[list[str]] = []
    for line in stdout.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0] or not rows:
            rows.append(cells)
        else:
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
    return {row[0]: row[1:] for row in rows}


def mismatched_copy(tmp_path: Path) -> Path:
    """pico-s whose config no longer fits its weights: resolved and stored fine, fails when the backend loads it."""
    broken = tmp_path / "pico-s-broken"
    shutil.copytree(DEMO_MODELS_DIR / "pico-s", broken)
    config = json.loads((broken / "config.json").read_text())
    config["intermediate_size"] *= 2
    (broken / "config.json").write_text(json.dumps(config))
    return broken
