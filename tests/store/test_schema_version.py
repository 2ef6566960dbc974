"""The Alembic head is the schema's only version: a new revision file is all a migration needs.

The expected numbers come from the revision files' names (``rev_NNNN_*.py``), read here
with a regular expression, not from the code under test.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from evalsuite.store import queries, revisions
from evalsuite.store.db import open_database

VERSIONS = revisions.MIGRATIONS_DIR / "versions"
FILE_NAME = re.compile(r"^rev_(\d{4})_\w+\.py$")
NEW_REVISION = '''"""A revision added by a test: no schema change, only a new number."""
revision = "{number:04d}"
down_revision = "{previous:04d}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError
'''


def _numbers_in(folder: Path) -> list[int]:
    return sorted(int(match.group(1)) for path in folder.iterdir() if (match := FILE_NAME.match(path.name)))


def test_the_schema_version_is_the_newest_revision_files_number() -> None:
    numbers = _numbers_in(VERSIONS)
    assert numbers == list(range(1, len(numbers) + 1))  # one line of history, numbered from 1
    assert revisions.schema_version() == numbers[-1]
    assert revisions.head_revision() == f"{numbers[-1]:04d}"
    assert revisions.known_revisions() == {f"{n:04d}" for n in numbers}


def test_revision_ids_map_to_the_stored_integers_and_back() -> None:
    assert revisions.version_number("0003") == 3
    with pytest.raises(RuntimeError, match="is not a 4-digit number"):
        revisions.version_number("ae1027a6acf")  # an id as `alembic revision` makes up by default


def test_adding_a_revision_file_is_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the migrations plus one new file: version, alembic stamp, schema_migration row and runs follow."""
    copy = tmp_path / "migrations"
    shutil.copytree(revisions.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shipped = _numbers_in(VERSIONS)[-1]
    new = shipped + 1
    (copy / "versions" / f"rev_{new:04d}_added_by_a_test.py").write_text(NEW_REVISION.format(number=new, previous=shipped))
    monkeypatch.setattr(revisions, "MIGRATIONS_DIR", copy)

    assert revisions.schema_version() == new
    path = tmp_path / "new.db"
    with open_database(path) as database:
        model = queries.get_or_create_model(database, name="m", source="m", weights_sha256="0" * 64)
        run = queries.create_run(database, model_id=model.id, backend="hf", config={}, config_hash="h", tasks=[])
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(f"{new:04d}",)]
        assert [row[0] for row in connection.execute("SELECT version FROM schema_migration ORDER BY version")] == list(range(1, new + 1))
        assert connection.execute("SELECT schema_version FROM run WHERE id = ?", (run.id,)).fetchall() == [(new,)]
