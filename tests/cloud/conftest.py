"""Fixtures: loopback stand-ins for RunPod, the Hub and GitHub (cloud_standins.py).

The throwaway PostgreSQL server (``postgres_url``) is shared with the store tests: tests/conftest.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cloud_standins import GitHubStandIn, HubStandIn, RunPodStandIn

from evalsuite.cloud import runpod_client


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


@pytest.fixture
def launcher_checkout(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], Path]:
    """Make the launcher's evalsuite a git checkout with the given origin (None: no remote); returns its folder.

    What the pod installs depends on the checkout the launcher runs from; this repository's own
    remotes differ between machines, so launch tests say which checkout they stand for.
    """

    def make(origin: str | None) -> Path:
        root = tmp_path_factory.mktemp("checkout")
        for args in (["init", "-q"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "c"]):
            subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
        if origin is not None:
            subprocess.run(["git", "remote", "add", "origin", origin], cwd=root, check=True, capture_output=True)
        monkeypatch.setattr(runpod_client, "REPO_ROOT", root)
        return root

    return make
