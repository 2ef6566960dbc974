"""Entry points: the `evalsuite` command line.

Owns parsing flags, printing tables and messages, and the one error handler; no rules of its own.
May import every evalsuite package; nothing in evalsuite imports it (the leaderboard neither).
"""

from __future__ import annotations


def main() -> None:
    """The `evalsuite` console script (imported lazily: `evalsuite --version` should not pay for every command's imports twice)."""
    from evalsuite.cli.app import main as run_cli

    run_cli()
