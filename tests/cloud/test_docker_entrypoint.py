"""docker/entrypoint.sh (the image's entrypoint) and the stock image's start command, run here as a pod would run them.

The image cannot be built on these machines; the script it runs can. ``runpodctl`` (in every
RunPod pod) is a stand-in on PATH that records its arguments.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cloud_standins import RunPodStandIn

from evalsuite.cloud.runpod_client import STOCK_START

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def runpodctl(tmp_path: Path) -> Path:
    """A `runpodctl` that records each call's arguments, one line per call."""
    folder = tmp_path / "bin"
    folder.mkdir()
    record = tmp_path / "runpodctl.calls"
    script = folder / "runpodctl"
    script.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(record))}\n')
    script.chmod(0o755)
    return record


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(tmp_path / "bin"), str(VENV_BIN), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, **extra}


def _calls(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


def test_the_entrypoint_with_arguments_is_the_evalsuite_command(tmp_path: Path, runpodctl: Path) -> None:
    done = subprocess.run([str(ENTRYPOINT), "results", "--help"], env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Usage" in done.stdout and "import" in done.stdout
    assert _calls(runpodctl) == []


def test_the_entrypoint_without_arguments_does_the_pods_job(tmp_path: Path, runpodctl: Path, runpod_api: RunPodStandIn) -> None:
    env = _env(
        tmp_path, RUNPOD_POD_ID="pod9", RUNPOD_API_KEY="pod-key", RUNPOD_API_BASE_URL=runpod_api.url, HF_HUB_OFFLINE="1",
        EVALSUITE_RUN_ARGS="--model nobody-org/no-such-model --tasks pubmedqa", EVALSUITE_RESULTS_DIR=str(tmp_path / "volume"),
        EVALSUITE_WORK_DIR=str(tmp_path / "work"),
    )
    done = subprocess.run([str(ENTRYPOINT)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 1  # the model is unreachable: a failed run, sent home
    [bundle] = list((tmp_path / "volume").iterdir())
    assert (bundle / "evalsuite_run.json").is_file()
    assert [c.input["podId"] for c in runpod_api.fields("podTerminate")] == ["pod9"]
    assert "removed pod pod9" in done.stdout


@pytest.mark.parametrize("start", ["entrypoint", "stock start command"])
def test_a_failed_install_still_removes_the_pod(tmp_path: Path, runpodctl: Path, start: str) -> None:
    env = _env(tmp_path, RUNPOD_POD_ID="pod9", EVALSUITE_INSTALL=str(tmp_path / "missing" / "evalsuite-0.1.0-py3-none-any.whl"))
    command = [str(ENTRYPOINT)] if start == "entrypoint" else shlex.split(STOCK_START)
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert _calls(runpodctl) == ["remove pod pod9"]


def test_keep_pod_keeps_it_even_when_the_install_fails(tmp_path: Path, runpodctl: Path) -> None:
    env = _env(tmp_path, RUNPOD_POD_ID="pod9", EVALSUITE_KEEP_POD="1", EVALSUITE_INSTALL=str(tmp_path / "missing.whl"))
    for command in ([str(ENTRYPOINT)], shlex.split(STOCK_START)):
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
    assert _calls(runpodctl) == []


def test_the_dockerfile_pins_its_base_and_runs_the_entrypoint() -> None:
    text = (REPO / "Dockerfile").read_text()
    [base] = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    name, _, tag = base.partition(":")
    assert name == "nvidia/cuda" and tag[:1].isdigit() and tag.count(".") >= 2  # a version, not "latest"
    assert "COPY docker/entrypoint.sh /usr/local/bin/evalsuite-entrypoint" in text
    assert 'ENTRYPOINT ["/usr/local/bin/evalsuite-entrypoint"]' in text
    assert 'pip install ".[vllm,cloud,ray]"' in text  # a multi-GPU pod's --replicas run on Ray
