"""Fuzzing (issue 14): the hypothesis profile every fuzz test runs under, and the examples table.

The profile is deterministic (``derandomize``: the same examples on every machine, so a CI
failure replays locally), keeps no example database (no ``.hypothesis/`` folder), and fails an
example that runs past ``deadline``; ``fuzz_support.trial`` adds a watchdog that interrupts a
true hang. Each target's example count is fixed in ``fuzz_support.MAX_EXAMPLES`` to fit the
suite's time budget. At the end of the session the terminal shows, per target, how many
examples were tried and whether any of its tests failed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fuzz_support import TRIED, target_of
from hypothesis import HealthCheck, settings

PROFILE = "evalsuite-fuzz"

settings.register_profile(
    PROFILE,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=5),  # normal examples take milliseconds; seconds means a hang in the making
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.load_profile(PROFILE)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """target -> examples tried -> failing tests, for the closing note (issue 14: zero crashes)."""
    if not TRIED:
        return
    failed: dict[str, int] = {}
    for report in terminalreporter.stats.get("failed", []):
        target = target_of(report.nodeid)
        if target is not None:
            failed[target] = failed.get(target, 0) + 1
    terminalreporter.section("fuzzing: examples per target")
    terminalreporter.write_line(f"{'target':<16} {'examples':>9} {'failing tests':>14}")
    for target in sorted(TRIED):
        terminalreporter.write_line(f"{target:<16} {TRIED[target]:>9} {failed.get(target, 0):>14}")
