"""Alembic migrations of the results database (run by ``evalsuite.store.db.open_database``).

``env.py`` and ``versions/`` are read by Alembic, not imported by evalsuite. Every
schema change in ``store/schema.py`` needs a revision here. Build a database at the
current head (``open_database('/tmp/at_head.db')`` builds it from the revisions, not
from the tables), autogenerate against it, then read and clean the result: SQLite
needs batch mode (env.py turns it on), new NOT NULL columns need values for existing
rows, constraints need names, and the revision inserts its number into
schema_migration (bump ``schema.SCHEMA_VERSION``)::

    alembic -c evalsuite/store/migrations/alembic.ini -x db=/tmp/at_head.db revision --autogenerate -m "what changed"

``tests/store/test_migrations.py`` fails while the tables and the migrations disagree.
"""
