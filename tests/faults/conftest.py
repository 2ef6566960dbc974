"""Fixtures of the fault tests: one uninterrupted reference run shared by the kill matrix and the storage faults."""

from __future__ import annotations

import pytest

from tests.faults.scenario import Reference, make_reference


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return make_reference(tmp_path_factory.mktemp("reference"))
