"""Alembic migrations of the results database (run by ``evalsuite.store.db.open_database``).

``env.py`` and ``versions/`` are read by Alembic, not imported by evalsuite. Every
schema change in ``store/schema.py`` needs a revision here. Build a database at the
current head (``open_database('/tmp/at_head.db')`` builds it from the revisions, not
from the tables), autogenerate against it, then read and clean the result: SQLite
needs batch mode (env.py turns it on), new NOT NULL columns need values for existing
rows, and constraints need names. Name the file ``rev_NNNN_what.py`` with the next
four-digit number as its revision id: that number is the schema version
(``store.revisions``), stored in runs and in ``schema_migration`` without any edit::

    alembic -c evalsuite/store/migrations/alembic.ini -x db=/tmp/at_head.db revision --autogenerate --rev-id NNNN -m "what changed"

``tests/store/test_migrations.py`` fails while the tables and the migrations disagree.
"""
