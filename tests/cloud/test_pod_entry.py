"""The pod side end to end on this machine: `evalsuite runpod pod-run` with the environment a pod has.

demo/pico-s is evaluated for real; the bundle comes home through every transport that runs
offline (a folder, PostgreSQL on loopback, the Hub and GitHub stand-ins), and the pod's
self-removal is the RunPod API call the stand-in records. A model the pod cannot reach comes
home as a failed run; a run that hangs is stopped at the --max-hours deadline, and a pod
whose job hangs after the run (an upload that never ends) is removed by its watchdog.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cloud_standins import GitHubStandIn, HubStandIn, RunPodStandIn
from pg_server import free_port as _free_port
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.store import queries
from evalsuite.store.db import open_database

REPO = Path(__file__).resolve().parents[2]
HF_SECRET = "hf_pod_secret_value_123"
POD_KEY = "rp_pod_scoped_key"
GH_SECRET = "ghp_gist_secret"
runner = CliRunner()


def _pod_env(tmp_path: Path, run_args: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE",)}
    env.update({
        "RUNPOD_POD_ID": "pod7", "RUNPOD_API_KEY": POD_KEY, "HF_TOKEN": HF_SECRET, "EVALSUITE_RUN_ARGS": run_args,
        "EVALSUITE_WORK_DIR": str(tmp_path / "work"), "EVALSUITE_RESULTS_DIR": str(tmp_path / "volume"), "HF_DATASETS_OFFLINE": "1",
    })
    env.update(extra)
    return env


def _pod_run(env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalsuite.cli.app", "runpod", "pod-run"], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def _runs(db: str | Path) -> list[tuple[int, str, str | None, dict]]:
    with open_database(db, create=False) as database:
        out = []
        for summary in queries.list_runs(database):
            run = queries.get_run(database, summary.id).run
            out.append((summary.id, run.status, run.error, run.config or {}))
        return out


def _metrics(db: str | Path, run_id: int) -> list[tuple]:
    with open_database(db, create=False) as database:
        return [(m.task, m.metric, m.filter, m.value, m.stderr, m.n_samples) for m in queries.get_run(database, run_id).metrics]


def _terminations(api: RunPodStandIn) -> list[tuple[str, str]]:
    return [(c.input["podId"], c.authorization) for c in api.fields("podTerminate")]


def test_pod_run_sends_the_bundle_home_by_every_transport_and_removes_the_pod(
    tmp_path: Path, runpod_api: RunPodStandIn, hub_api: HubStandIn, github_api: GitHubStandIn, postgres_url: str,
) -> None:
    env = _pod_env(
        tmp_path, "--model demo/pico-s --tasks pubmedqa --limit 5 --dtype float32",
        EVALSUITE_RESULTS_DB=postgres_url, EVALSUITE_PUSH_TO_HUB="my-org/evals", EVALSUITE_GIST="1", GITHUB_API_TOKEN=GH_SECRET,
        RUNPOD_API_BASE_URL=runpod_api.url, HF_ENDPOINT=hub_api.url, EVALSUITE_GITHUB_API=github_api.url,
    )
    done = _pod_run(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed pod pod7" in done.stdout

    pod_db = tmp_path / "work" / "pod.db"
    [(pod_run_id, status, _, _)] = _runs(pod_db)
    assert status == "complete"
    reference = _metrics(pod_db, pod_run_id)
    assert {(t, m) for t, m, *_ in reference} == {("pubmedqa", "acc"), ("pubmedqa", "macro_f1")}

    # PostgreSQL: the pod imported its bundle straight into the shared database.
    [(pg_run, pg_status, _, pg_config)] = [r for r in _runs(postgres_url) if r[3].get("pod", {}).get("id") == "pod7" and r[1] == "complete"]
    assert pg_status == "complete" and _metrics(postgres_url, pg_run) == reference

    # The network-volume folder: a bundle that `results import` reads.
    [bundle_dir] = list((tmp_path / "volume").iterdir())
    home = tmp_path / "home.db"
    assert runner.invoke(app, ["results", "import", str(bundle_dir), "--db", str(home)]).exit_code == 0
    assert _metrics(home, 1) == reference

    # The Hub: a private dataset repo got the bundle's files; `results pull` imports it once.
    created = hub_api.repos["my-org/evals"]
    assert created.get("visibility") == "private" or created.get("private") is True
    [commit] = hub_api.commits
    assert sorted(Path(p).name.split("_")[0] for p in commit.files) == ["evalsuite", "results", "samples"]
    assert all(p.startswith(f"bundles/{bundle_dir.name}/") for p in commit.files)
    pulled = tmp_path / "pulled.db"
    first = runner.invoke(app, ["results", "pull", "my-org/evals", "--db", str(pulled)], env={"HF_ENDPOINT": hub_api.url})
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("imported run 1: demo/pico-s (complete, 2 scores, 5 samples)")
    assert _metrics(pulled, 1) == reference
    second = runner.invoke(app, ["results", "pull", "my-org/evals", "--db", str(pulled)], env={"HF_ENDPOINT": hub_api.url})
    assert second.stdout.strip() == "nothing new in my-org/evals"

    # The gist: private, LLM AutoEval-style Markdown (a table naming the task), the GitHub token as bearer.
    [gist] = [r for r in github_api.requests if r.path == "/gists"]
    body = gist.json()
    assert body["public"] is False and gist.headers["authorization"] == f"Bearer {GH_SECRET}"
    assert "pubmedqa" in body["files"]["evalsuite-summary.md"]["content"]

    # Self-removal: one terminate call for this pod, with the pod's own key.
    assert _terminations(runpod_api) == [("pod7", f"Bearer {POD_KEY}")]

    # The HF token never shows: not in the output, the bundle, the uploads or any database row.
    assert HF_SECRET not in done.stdout + done.stderr
    assert all(HF_SECRET.encode() not in p.read_bytes() for p in bundle_dir.iterdir())
    assert all(HF_SECRET.encode() not in content for content in commit.files.values())
    assert HF_SECRET not in json.dumps(_runs(postgres_url), default=str) + json.dumps(_runs(pod_db), default=str)


def test_a_model_the_pod_cannot_reach_comes_home_as_a_failed_run_with_its_log(tmp_path: Path, runpod_api: RunPodStandIn) -> None:
    env = _pod_env(tmp_path, "--model nobody-org/no-such-model --tasks pubmedqa --limit 5", RUNPOD_API_BASE_URL=runpod_api.url, HF_HUB_OFFLINE="1")
    done = _pod_run(env)
    assert done.returncode == 1
    [bundle_dir] = list((tmp_path / "volume").iterdir())
    home = tmp_path / "home.db"
    out = runner.invoke(app, ["results", "import", str(bundle_dir), "--db", str(home)])
    assert out.stdout.startswith("imported run 1: nobody-org/no-such-model (failed, 0 scores, 0 samples)")
    [(_, status, error, config)] = _runs(home)
    assert status == "failed" and config["pod"]["id"] == "pod7"
    assert "nobody-org/no-such-model" in (error or "").split("--- log tail ---")[0]
    assert "--- log tail ---" in (error or "") and "running: evalsuite run --model nobody-org/no-such-model" in (error or "")
    assert _terminations(runpod_api) == [("pod7", f"Bearer {POD_KEY}")]


def test_the_max_hours_deadline_stops_a_hung_run_sends_it_home_and_removes_the_pod(tmp_path: Path, runpod_api: RunPodStandIn) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)  # reading a FIFO nobody writes blocks forever: a run that hangs
    port = _free_port()
    runpod_api.pods["pod7"] = {"id": "pod7", "name": "evalsuite-pico-s-20261203-180000", "desiredStatus": "RUNNING", "env": []}
    env = _pod_env(
        tmp_path, f"--model demo/pico-s --text-file {fifo}", RUNPOD_API_BASE_URL=runpod_api.url, EVALSUITE_MAX_HOURS="0.0025",
        EVALSUITE_LOG_PORT=str(port), EVALSUITE_LOG_HOST="127.0.0.1",
    )
    started = time.monotonic()
    pod = subprocess.Popen([sys.executable, "-m", "evalsuite.cli.app", "runpod", "pod-run"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # While it hangs, `evalsuite runpod logs` reads the pod's log through the (stand-in) proxy address.
        log_text = ""
        for _ in range(40):
            result = runner.invoke(
                app, ["runpod", "logs", "pod7"],
                env={"RUNPOD_API_KEY": "user-key", "RUNPOD_API_BASE_URL": runpod_api.url, "EVALSUITE_RUNPOD_PROXY": f"http://127.0.0.1:{port}"},
            )
            log_text = result.stdout if result.exit_code == 0 else ""  # the pod may not serve its log yet
            if "deadline 0.0025 h" in log_text:
                break
            time.sleep(0.25)
        assert f"running: evalsuite run --model demo/pico-s --text-file {fifo} (deadline 0.0025 h)" in log_text
        output, _ = pod.communicate(timeout=120)
    finally:
        pod.kill()
    elapsed = time.monotonic() - started
    assert pod.returncode == 1
    assert "deadline: 0.0025 h passed; stopping the run" in output
    assert 9 <= elapsed < 60  # the deadline (9 s) fired; the run alone would never end

    [bundle_dir] = list((tmp_path / "volume").iterdir())
    home = tmp_path / "home.db"
    assert runner.invoke(app, ["results", "import", str(bundle_dir), "--db", str(home)]).exit_code == 0
    [(_, status, error, config)] = _runs(home)
    assert status == "failed" and (error or "").startswith("deadline: the run was stopped after --max-hours 0.0025")
    assert config["pod"]["deadline_hit"] is True
    assert _terminations(runpod_api) == [("pod7", f"Bearer {POD_KEY}")]


def test_keep_pod_leaves_the_pod_and_says_how_to_remove_it(tmp_path: Path, runpod_api: RunPodStandIn) -> None:
    env = _pod_env(tmp_path, "--model nobody-org/no-such-model --tasks pubmedqa", RUNPOD_API_BASE_URL=runpod_api.url, HF_HUB_OFFLINE="1", EVALSUITE_KEEP_POD="1")
    done = _pod_run(env)
    assert "keeping pod pod7 (EVALSUITE_KEEP_POD is set); remove it with `evalsuite runpod stop pod7`" in done.stdout
    assert _terminations(runpod_api) == []


def test_pod_run_without_a_destination_says_what_to_set(tmp_path: Path) -> None:
    env = _pod_env(tmp_path, "--model demo/pico-s --tasks pubmedqa")
    del env["EVALSUITE_RESULTS_DIR"]
    done = _pod_run(env, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("error: the pod has nowhere to send its results — hint: set EVALSUITE_RESULTS_DIR")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_a_bad_max_hours_is_refused(tmp_path: Path, value: str) -> None:
    env = _pod_env(tmp_path, "--model demo/pico-s --tasks pubmedqa", EVALSUITE_MAX_HOURS=value)
    done = _pod_run(env, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("error: EVALSUITE_MAX_HOURS")


def test_a_bad_deadline_margin_is_refused(tmp_path: Path) -> None:
    env = _pod_env(tmp_path, "--model demo/pico-s --tasks pubmedqa", EVALSUITE_MAX_HOURS="1", EVALSUITE_DEADLINE_MARGIN_S="-5")
    done = _pod_run(env, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("error: EVALSUITE_DEADLINE_MARGIN_S must not be negative, got -5 — hint: unset it for the default, 600 s")


# A run that fails at once (an option `evalsuite run` does not know): the pod's job goes on to send it home.
FAILS_AT_ONCE = "--model demo/pico-s --tasks pubmedqa --no-such-option"


class _PodProcess:
    """`evalsuite runpod pod-run` as a pod runs it, its output read line by line as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evalsuite.cli.app", "runpod", "pod-run"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._new.put(line)
        self._new.put(None)

    def wait_for(self, text: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            line = self._new.get(timeout=max(0.01, end - time.monotonic()))  # queue.Empty: not seen in time
            assert line is not None, f"pod-run ended without printing {text!r}:\n{''.join(self.lines)}"
            self.lines.append(line)

    def finish(self, timeout: float) -> tuple[int, str, float]:
        """(exit status, whole output, seconds since start); the process is killed if it outlives ``timeout``."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            self.process.kill()
        while (line := self._new.get(timeout=10)) is not None:
            self.lines.append(line)
        return self.process.returncode, "".join(self.lines), time.monotonic() - self.started


def test_the_watchdog_removes_the_pod_once_when_sending_home_hangs(tmp_path: Path, runpod_api: RunPodStandIn, hub_api: HubStandIn) -> None:
    hub_api.hang = "preupload"  # the Hub never answers the upload: without the watchdog the pod would run (and bill) forever
    env = _pod_env(
        tmp_path, FAILS_AT_ONCE, RUNPOD_API_BASE_URL=runpod_api.url, HF_ENDPOINT=hub_api.url, EVALSUITE_PUSH_TO_HUB="my-org/evals",
        EVALSUITE_MAX_HOURS="0.002", EVALSUITE_DEADLINE_MARGIN_S="3",  # the hard deadline: 7.2 s + 3 s
    )
    pod = _PodProcess(env)
    returncode, output, elapsed = pod.finish(timeout=90)

    assert returncode == 124, output
    assert 10.2 <= elapsed < 60  # ended by the watchdog, not by the upload (which never ends)
    assert "run failed; bundle in" in output and "deadline: 0.002 h passed" not in output  # the run itself ended in time
    assert [r.path.split("?")[0] for r in hub_api.requests][-1] == "/api/datasets/my-org/evals/preupload/main"  # stuck in the upload
    assert "watchdog: the hard deadline passed (0.002 h + 3 s to send the results home) and the pod's job has not ended" in output
    assert "removed pod pod7" in output and "watchdog: exiting with status 124" in output
    assert _terminations(runpod_api) == [("pod7", f"Bearer {POD_KEY}")]
    [bundle_dir] = list((tmp_path / "volume").iterdir())  # what was sent home before the hang did arrive
    assert (bundle_dir / "evalsuite_run.json").is_file()
    assert HF_SECRET not in output


def test_the_watchdog_does_not_remove_a_pod_the_job_is_removing_already(tmp_path: Path, runpod_api: RunPodStandIn) -> None:
    runpod_api.hold_terminate = threading.Event()  # the job's own removal call is slow: still under way at the hard deadline
    env = _pod_env(tmp_path, FAILS_AT_ONCE, RUNPOD_API_BASE_URL=runpod_api.url, EVALSUITE_MAX_HOURS="0.003", EVALSUITE_DEADLINE_MARGIN_S="1")
    pod = _PodProcess(env)
    try:
        pod.wait_for("watchdog: the pod is being removed already; waiting for that call", timeout=60)
    finally:
        runpod_api.hold_terminate.set()
    returncode, output, elapsed = pod.finish(timeout=60)

    assert returncode == 1, output  # the job ended by itself (a failed run), right after its removal call returned
    assert output.count("removed pod pod7") == 1 and "watchdog: exiting" not in output
    assert _terminations(runpod_api) == [("pod7", f"Bearer {POD_KEY}")]
    assert elapsed < 60
