"""Fixtures for backend tests: a tiny randomly initialised Llama with a real BPE tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.devtools.tiny_models import save_random_llama


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama (hidden 64, 128-token window) with a 2000-token BPE, float32."""
    return save_random_llama(tmp_path_factory.mktemp("tiny_llama"))
