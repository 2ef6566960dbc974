"""CI's strict skip mode, run through pytest itself: tests/conftest.py's hook on a throwaway suite.

Each test copies the real tests/conftest.py into a fresh pytester directory (which has no
``../shared/data`` beside it) and runs a tiny suite with and without EVALSUITE_STRICT_SKIPS=1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# Read beside this file, not imported: every test folder has a conftest.py, and
# `import conftest` would get whichever pytest loaded last.
CONFTEST = Path(__file__).resolve().parent / "conftest.py"
STRICT_SKIPS_ENV = "EVALSUITE_STRICT_SKIPS"

SUITE = """
import pytest

def test_passes():
    assert True

@pytest.mark.skip(reason="chromium is not installed")
def test_skipped_for_a_missing_tool():
    pass

def test_skipped_inside_the_test():
    pytest.skip("the data is not here")

@pytest.mark.skip(reason="needs a CUDA GPU")
def test_skipped_for_a_missing_gpu():
    pass

@pytest.mark.xfail(reason="known bug")
def test_expected_to_fail():
    assert False

def test_needs_shared_data(shared_data):
    assert shared_data.is_dir()
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_without_strict_mode_skips_stay_skips(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STRICT_SKIPS_ENV, raising=False)
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)


def test_strict_mode_fails_skips_xfails_and_missing_shared_data(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_SKIPS_ENV, "1")
    result = suite.runpytest("-p", "no:cacheprovider", "-rA")
    # The GPU skip survives. A skip mark and the shared_data fixture act in setup, so they show
    # as errors; the in-test skip and the xfail as failures.
    result.assert_outcomes(passed=1, skipped=1, failed=2, errors=2)
    output = result.stdout.str()
    assert "skipped tests fail unless the reason names a missing GPU; skipped: chromium is not installed" in output
    assert "skipped: the data is not here" in output
    assert "xfail is not allowed in CI (known bug)" in output
    assert "benchmark data folder" in output and "is absent" in output
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_strict_mode_fails_a_module_level_importorskip(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_optional='import pytest\npytest.importorskip("no_such_module_4242")\n\ndef test_x():\n    pass\n')
    monkeypatch.setenv(STRICT_SKIPS_ENV, "1")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert "no_such_module_4242" in result.stdout.str()
