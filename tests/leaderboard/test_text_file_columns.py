"""Two different ``--text-file``s never share a board column (issue 20, item 4).

Real ``evalsuite run --text-file`` runs of one model on two files (same task name, same
keys otherwise, n=1 each): the file's content hash is part of the comparability key, so
the board shows two columns, each naming its text's hash (computed here from the file).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from leaderboard_fixtures import evalsuite_run

from evalsuite.board import rules as board
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store import queries
from evalsuite.store.db import open_database

TEXTS = {
    "novel.txt": "It was a bright cold day in April, and the clocks were striking thirteen.\n\nWinston hurried home.\n",
    "log.txt": "2024-01-01 ERROR disk full\n2024-01-01 WARN retrying write in 5 s\n",
}


@pytest.fixture(scope="module")
def text_file_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("text-files")
    files = {name: folder / name for name in TEXTS}
    db = folder / "board.db"
    for name, path in files.items():
        path.write_text(TEXTS[name], encoding="utf-8")
        evalsuite_run("demo/pico-s", db, "--text-file", str(path))
    return db, files


def test_two_text_files_make_two_columns(text_file_db: tuple[Path, dict[str, Path]]) -> None:
    db, files = text_file_db
    with open_database(db) as database:
        cells = list(lq.leaderboard_cells(database))
        stored = {r["run_id"]: r["value"] for r in queries.metric_rows(database) if r["metric"] == "word_perplexity"}
    view = board.all_tasks_view(cells)
    columns = [c for c in view.columns if c.task == "perplexity_file" and c.metric == "word_perplexity"]
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files.values()]
    assert len(columns) == 2, [c.label for c in columns]
    assert sorted(c.keys[0].data for c in columns) == sorted(digests)  # one column per file, keyed by its text
    assert sorted(c.label for c in columns) == sorted(f"perplexity_file · word_perplexity (text {d[:8]})" for d in digests)
    (row,) = view.rows
    assert row.runs == (1, 2)
    by_digest = {c.keys[0].data: row.cells[c.label] for c in columns}
    assert by_digest[digests[0]].value == pytest.approx(stored[1])
    assert by_digest[digests[1]].value == pytest.approx(stored[2])
    assert all(f"text {c.keys[0].data[:8]}" in c.describe() for c in columns)  # the legend names the text too
