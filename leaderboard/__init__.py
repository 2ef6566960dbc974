"""The Streamlit leaderboard of evalsuite, installed with it as the ``leaderboard`` package.

``app.py`` is the entry point (`evalsuite leaderboard` serves it); ``views/`` are its pages
and ``board_ui/`` what the pages share. The pages only lay out: which scores are comparable,
how suites score and who is ranked are decided by :mod:`evalsuite.board.rules`.
"""
