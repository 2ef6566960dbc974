"""The shipped Alembic revisions, which are the schema's only version record.

Each revision file in ``migrations/versions`` is named by a four-digit number
(``0001``, ``0002``, ...), each revising the one before. The newest of them, the head,
*is* the schema version: :func:`schema_version` reads it from the scripts, so a new
migration is one new file and nothing else. Where an integer is stored (a run's
``schema_version`` column, the ``schema_migration`` table that databases from before
Alembic were recognised by), it is the revision's number: ``"0003"`` is 3, and
:func:`record_applied` writes a row for every revision as Alembic applies it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

if TYPE_CHECKING:  # alembic is imported lazily, by the first open, not by importing evalsuite
    from alembic.runtime.migration import MigrationContext, MigrationInfo

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
REVISION_DIGITS = 4  # revision ids are zero-padded numbers: "0003" is schema version 3


def alembic_config(connection: Connection | None = None):  # noqa: ANN201 (alembic is imported lazily)
    """An Alembic config for the shipped migrations, bound to ``connection`` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=4)
def _revisions(location: str) -> tuple[str, ...]:
    """Revision ids from newest to oldest, read from the scripts at ``location`` (one line of history)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(location)
    heads = scripts.get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations in {location} must have one head, not {len(heads)}: {', '.join(heads) or 'none'}")
    return tuple(script.revision for script in scripts.walk_revisions())


def head_revision() -> str:
    """The newest revision shipped with this evalsuite."""
    return _revisions(str(MIGRATIONS_DIR))[0]


def known_revisions() -> set[str]:
    return set(_revisions(str(MIGRATIONS_DIR)))


def version_number(revision: str) -> int:
    """A revision id as the integer stored for it: ``"0003"`` -> 3."""
    if len(revision) != REVISION_DIGITS or not revision.isdigit():
        raise RuntimeError(f"revision id {revision!r} is not a {REVISION_DIGITS}-digit number: name revisions 0001, 0002, ...")
    return int(revision)


def schema_version() -> int:
    """The schema version this evalsuite writes: the number of the newest revision."""
    return version_number(head_revision())


def record_applied(ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]) -> None:
    """Alembic's ``on_version_apply`` hook: a ``schema_migration`` row for each revision applied (not stamped)."""
    if not step.is_upgrade or step.is_stamp:
        return
    assert ctx.connection is not None  # evalsuite migrates online, on a connection
    for revision in step.up_revision_ids:
        ctx.connection.execute(
            text("INSERT INTO schema_migration (version, applied_at) VALUES (:version, CURRENT_TIMESTAMP)"),
            {"version": version_number(revision)},
        )
