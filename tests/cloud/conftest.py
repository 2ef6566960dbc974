"""Fixtures: loopback stand-ins for RunPod, the Hub and GitHub (cloud_standins.py), and a throwaway PostgreSQL server.

PostgreSQL is real: a cluster made by ``initdb`` in a temporary folder, on a loopback port,
stopped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloud_standins import GitHubStandIn, HubStandIn, RunPodStandIn, _as_postgres, _free_port, _pg_bin


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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a loopback port (trust auth), stopped after the session."""
    folder = Path(tempfile.mkdtemp(prefix="evalsuite-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port = _free_port()
    subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]), check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    start = _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"])
    subprocess.run(start, check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
