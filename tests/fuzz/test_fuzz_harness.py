"""The fuzz harness itself: the watchdog interrupts a hang, and examples are counted per target."""

from __future__ import annotations

import time

import fuzz_support
import pytest


def test_watchdog_interrupts_a_hanging_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz_support, "HANG_SECONDS", 0.2)
    monkeypatch.setattr(fuzz_support, "TRIED", fuzz_support.Counter())
    started = time.monotonic()
    with pytest.raises(fuzz_support.HangError), fuzz_support.trial("selftest"):
        time.sleep(5)
    assert time.monotonic() - started < 2
    assert fuzz_support.TRIED == {"selftest": 1}


def test_target_is_read_from_the_module_name() -> None:
    assert fuzz_support.target_of("tests/fuzz/test_fuzz_task_yaml.py::test_x[sqlite]") == "task_yaml"
    assert fuzz_support.target_of("tests/test_tasks.py::test_x") is None
