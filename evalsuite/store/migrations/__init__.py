"""Alembic migrations of the results database (run by ``evalsuite.store.db.open_database``).

``env.py`` and ``versions/`` are read by Alembic, not imported by evalsuite. To add a
revision after changing ``store/schema.py``, autogenerate it against a database at the
current head, then read and clean it (SQLite needs batch mode, which env.py turns on)::

    alembic -c evalsuite/store/migrations/alembic.ini -x db=/tmp/at_head.db revision --autogenerate -m "what changed"

``tests/store/test_migrations.py`` fails while the tables and the migrations disagree.
"""
