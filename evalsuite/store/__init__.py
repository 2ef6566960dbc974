"""The results database: tables (``schema``), Alembic migrations, and every SQL read and write.

Rows only, no policy: which scores are comparable lives in :mod:`evalsuite.board.rules`, who may write in
:mod:`evalsuite.board.admin`. May import the base modules (``errors``, ``redact``, ``settings``) and ``evalsuite.metrics``,
never the arena, the backends, the runner, the CLI or the leaderboard (``tests/test_import_graph.py``).
"""
