"""Fixtures: loopback stand-ins for RunPod, the Hub and GitHub (cloud_standins.py).

The throwaway PostgreSQL server (``postgres_url``) is shared with the store tests: tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cloud_standins import GitHubStandIn, HubStandIn, RunPodStandIn


@pytest.fixture
def runpod_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunPodStandIn]:
    """RunPod's API on loopback; the SDK is pointed at it by its own variable, RUNPOD_API_BASE_URL."""
    server = RunPodStandIn()
    monkeypatch.setenv("RUNPOD_API_BASE_URL", server.url)
    yield server
    server.close()


@pytest.fixture
def hub_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubStandIn]:
    server = HubStandIn()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: an earlier test may have imported it offline.
    # Online here reaches only the loopback stand-in (HF_ENDPOINT).
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    yield server
    server.close()


@pytest.fixture
def github_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    server = GitHubStandIn()
    monkeypatch.setenv("EVALSUITE_GITHUB_API", server.url)
    yield server
    server.close()
