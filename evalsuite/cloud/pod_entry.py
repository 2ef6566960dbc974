"""The pod side: run `evalsuite run`, send the bundle home, remove the pod — also when the run fails or hangs.

What a launched pod does (``evalsuite runpod pod-run``, called by ``docker/entrypoint.sh``
and by the stock image's start command), with its options from the environment
(:mod:`evalsuite.cloud.pod_env`):

1. run ``evalsuite run <EVALSUITE_RUN_ARGS> --db <work>/pod.db`` as a child process, its
   output in ``<work>/run.log`` (served on ``EVALSUITE_LOG_PORT`` for ``runpod logs``);
2. at the ``EVALSUITE_MAX_HOURS`` deadline, stop it (SIGTERM, then SIGKILL) and record
   the run as failed;
3. write the bundle (evalsuite.formats.bundle) — a failed run too, with its error and log tail —
   and send it through every transport asked for (folder, database, Hub dataset, gist);
4. remove the pod through RunPod's API, unless ``EVALSUITE_KEEP_POD``.

Steps 3 and 4 can hang too (an upload that never ends), so the whole job is under a hard
deadline as well: a watchdog thread, started first, fires at ``EVALSUITE_MAX_HOURS`` plus
``EVALSUITE_DEADLINE_MARGIN_S`` (default 600 s: time to stop the run, write the bundle and
send it home). It stops the run if it still lives, removes the pod through the same call as
step 4 (unless ``EVALSUITE_KEEP_POD``), says why, and ends the process with status
:data:`WATCHDOG_EXIT`. Exactly one of the two makes the removal call: whichever claims it
first (:class:`_Removal`); the other waits for it.

It never evaluates anything itself.
"""

from __future__ import annotations

import http.server
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalsuite import settings
from evalsuite.cloud import pod_env
from evalsuite.cloud.transports import Delivery
from evalsuite.errors import CloudError, ConfigError

LOG_TAIL_LINES = 40
KILL_GRACE_S = 20.0  # after SIGTERM at the deadline, how long the run may take to record itself as failed
WATCHDOG_EXIT = 124  # pod-run's exit status when the watchdog ended it (as timeout(1))
WATCHDOG_REMOVAL_WAIT_S = 60.0  # the watchdog waits this long for a removal call (its own or one under way), then exits anyway
WATCHDOG_LAST_WORDS_S = 10.0  # after the job's own removal, how long the job may take to end before the watchdog ends it
Reporter = Callable[[str], None]


@dataclass(frozen=True)
class PodJob:
    """What the pod was asked to do (read from its environment)."""

    run_args: tuple[str, ...]
    pod_id: str | None = None
    results_dir: Path | None = None
    results_db: str | None = None
    push_to_hub: str | None = None
    gist: bool = False
    gist_public: bool = False
    max_hours: float | None = None
    deadline_margin_s: float = pod_env.DEFAULT_DEADLINE_MARGIN_S
    keep_pod: bool = False
    work_dir: Path = Path("evalsuite-pod")
    log_port: int | None = None
    log_host: str = "0.0.0.0"  # noqa: S104 (RunPod's HTTP proxy connects from outside the container)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> PodJob:
        args = settings.RUN_ARGS.read(env).strip()
        if not args:
            raise ConfigError(f"{settings.RUN_ARGS.name} is empty: the pod was not told what to run", "launch pods with `evalsuite runpod launch`")
        try:
            run_args = tuple(shlex.split(args))
        except ValueError as exc:
            raise ConfigError(f"{settings.RUN_ARGS.name} is not a shell-quoted argument list: {exc}") from exc
        if not any(setting.read(env) for setting in (settings.RESULTS_DIR, settings.RESULTS_DB, settings.PUSH_TO_HUB)):
            raise ConfigError(
                "the pod has nowhere to send its results",
                f"set {settings.RESULTS_DIR.name}, {settings.RESULTS_DB.name} or {settings.PUSH_TO_HUB.name} (launch: --volume-dir, --db, --push-to-hub)",
            )
        default_work = Path("/workspace/evalsuite") if Path("/workspace").is_dir() else Path.cwd() / "evalsuite-pod"
        return cls(
            run_args=run_args,
            pod_id=env.get(pod_env.POD_ID) or None,
            results_dir=settings.RESULTS_DIR.read(env),
            results_db=settings.RESULTS_DB.read(env),
            push_to_hub=settings.PUSH_TO_HUB.read(env),
            gist=settings.GIST.read(env),
            gist_public=settings.GIST_PUBLIC.read(env),
            max_hours=settings.MAX_HOURS.read(env),
            deadline_margin_s=settings.DEADLINE_MARGIN_S.read(env),
            keep_pod=settings.KEEP_POD.read(env),
            work_dir=settings.WORK_DIR.read(env) or default_work,
            log_port=settings.LOG_PORT.read(env),
            log_host=settings.LOG_HOST.read(env),
        )


@dataclass
class PodOutcome:
    """What the pod did: the run's status, the deliveries and whether it removed itself."""

    status: str
    run_id: int | None
    bundle_dir: Path
    deliveries: list[Delivery] = field(default_factory=list)
    deadline_hit: bool = False
    removed: bool = False
    removal_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "complete" and all(d.error is None for d in self.deliveries)


class _Removal:
    """The pod's one removal call: made by whoever claims it first, the job when done or the watchdog at the hard deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.owner: str | None = None
        self.finished = threading.Event()  # the owner's call returned (or failed)

    def claim(self, owner: str) -> bool:
        with self._lock:
            if self.owner is not None:
                return False
            self.owner = owner
            return True


class _Watchdog:
    """The hard deadline over the whole job: at max hours + margin it stops the run, removes the pod and ends the process.

    A daemon thread, so it needs nothing from the main thread, which may be stuck anywhere
    (an upload that never answers, a database that never commits).
    """

    def __init__(self, job: PodJob, env: dict[str, str], report: Reporter, removal: _Removal) -> None:
        self.job, self.env, self.report, self.removal = job, env, report, removal
        self.child: subprocess.Popen[bytes] | None = None  # the `evalsuite run` process, once started
        self._done = threading.Event()  # the job ended by itself: the watchdog has nothing to do

    def start(self, seconds: float) -> None:
        threading.Thread(target=self._watch, args=(seconds,), name="evalsuite-pod-watchdog", daemon=True).start()

    def cancel(self) -> None:
        self._done.set()

    def _watch(self, seconds: float) -> None:
        if self._done.wait(seconds):
            return
        job = self.job
        self.report(
            f"watchdog: the hard deadline passed ({job.max_hours:g} h + {job.deadline_margin_s:g} s to send the results home) "
            "and the pod's job has not ended (a hung upload?); ending it"
        )
        if self.child is not None and self.child.poll() is None:
            try:
                os.killpg(self.child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if job.keep_pod:
            self.report(f"watchdog: keeping pod {job.pod_id} ({settings.KEEP_POD.name} is set); remove it with `evalsuite runpod stop {job.pod_id}`")
        elif self.removal.claim("watchdog"):
            remover = threading.Thread(target=self._remove, name="evalsuite-pod-removal", daemon=True)
            remover.start()
            remover.join(WATCHDOG_REMOVAL_WAIT_S)
            if remover.is_alive():
                self.report(f"watchdog: the removal call did not return within {WATCHDOG_REMOVAL_WAIT_S:g} s; exiting anyway")
        else:  # the job is removing the pod itself: no second call; let it finish, then let the job end
            self.report("watchdog: the pod is being removed already; waiting for that call")
            if self.removal.finished.wait(WATCHDOG_REMOVAL_WAIT_S) and self._done.wait(WATCHDOG_LAST_WORDS_S):
                return
        self.report(f"watchdog: exiting with status {WATCHDOG_EXIT}")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(WATCHDOG_EXIT)

    def _remove(self) -> None:
        try:
            _remove_pod(self.job, self.env, self.report)
        finally:
            self.removal.finished.set()


def run_pod(job: PodJob, env: dict[str, str], report: Reporter = print) -> PodOutcome:
    """Do the pod's whole job (see the module docstring); the pod is removed whatever happens."""
    job.work_dir.mkdir(parents=True, exist_ok=True)
    log_path = job.work_dir / "run.log"
    report = _also_into(log_path, report, env)
    removal = _Removal()
    watchdog = _Watchdog(job, env, report, removal)
    if job.max_hours:
        watchdog.start(job.max_hours * 3600 + job.deadline_margin_s)
    server = _serve_log(log_path, job.log_host, job.log_port) if job.log_port else None
    started = datetime.now(UTC)
    try:
        try:
            returncode, deadline_hit = _run_evaluation(job, env, log_path, report, watchdog)
            outcome = _make_bundle(job, env, log_path, returncode, deadline_hit, started)
            report(f"run {outcome.status}; bundle in {outcome.bundle_dir}")
            outcome.deliveries = _deliver(job, env, outcome, report)
        except Exception as exc:  # noqa: BLE001 (whatever broke, the pod must still be removed below)
            report(f"pod-run failed: {exc}")
            outcome = PodOutcome(status="failed", run_id=None, bundle_dir=job.work_dir / "bundle")
            outcome.deliveries.append(Delivery("pod", job.pod_id or "?", str(exc)))
        if job.keep_pod:
            report(f"keeping pod {job.pod_id} ({settings.KEEP_POD.name} is set); remove it with `evalsuite runpod stop {job.pod_id}`")
        elif removal.claim("job"):
            try:
                outcome.removed, outcome.removal_error = _remove_pod(job, env, report)
            finally:
                removal.finished.set()
        else:  # the watchdog fired and is removing the pod: it ends the process (status WATCHDOG_EXIT) when done
            time.sleep(WATCHDOG_REMOVAL_WAIT_S + 30)
    finally:
        watchdog.cancel()
        if server is not None:
            server.shutdown()
    return outcome


def _also_into(log_path: Path, report: Reporter, env: dict[str, str]) -> Reporter:
    """The pod's own lines go to its output and into the run log (what `runpod logs` shows), secrets masked."""

    def both(line: str) -> None:
        masked = pod_env.mask_secrets(line, env)
        report(masked)
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"evalsuite-pod {time.strftime('%H:%M:%S')} | {masked}\n")

    return both


def _run_evaluation(job: PodJob, env: dict[str, str], log_path: Path, report: Reporter, watchdog: _Watchdog) -> tuple[int, bool]:
    """`evalsuite run` as a child in its own process group; (exit status, whether the deadline stopped it)."""
    command = [sys.executable, "-m", "evalsuite.cli.app", "run", *job.run_args, "--db", str(job.work_dir / "pod.db")]
    deadline = job.max_hours * 3600 if job.max_hours else None
    child_env = {**env, "PYTHONUNBUFFERED": "1"}
    for name in (pod_env.API_KEY, pod_env.GITHUB_TOKEN):  # the run needs neither; HF_TOKEN it may (gated models)
        child_env.pop(name, None)
    report(f"running: evalsuite run {pod_env.mask_secrets(shlex.join(job.run_args), env)}" + (f" (deadline {job.max_hours} h)" if deadline else ""))
    with log_path.open("ab") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=child_env, start_new_session=True)
        watchdog.child = child
        try:
            return child.wait(timeout=deadline), False
        except subprocess.TimeoutExpired:
            report(f"deadline: {job.max_hours} h passed; stopping the run")
            _stop_group(child)
            return child.returncode if child.returncode is not None else -signal.SIGKILL, True


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the run's process group (the runner stores itself as failed), SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _make_bundle(job: PodJob, env: dict[str, str], log_path: Path, returncode: int, deadline_hit: bool, started: datetime) -> PodOutcome:
    """The bundle of the run the pod stored; a failed one (error, log tail) when it stored none."""
    from evalsuite.formats import bundle
    from evalsuite.store import queries
    from evalsuite.store.db import open_database

    tail = log_tail(log_path, env)
    bundle_dir = job.work_dir / "bundle" / f"{job.pod_id or 'local'}-{bundle.stamp()}"
    pod = {"id": job.pod_id, "max_hours": job.max_hours, "deadline_hit": deadline_hit, "exit_status": returncode}
    deadline_error = f"deadline: the run was stopped after --max-hours {job.max_hours}" if deadline_hit else None
    with open_database(job.work_dir / "pod.db") as database:
        runs = queries.list_runs(database, limit=1)
        if runs:
            run_id = runs[0].id
            status = queries.get_run(database, run_id).run.status
            if deadline_error or status not in ("complete", "failed"):
                previous = queries.get_run(database, run_id).run.error
                error = deadline_error or f"the run ended (exit status {returncode}) without finishing"
                queries.fail_run(database, run_id, f"{error}; {previous}" if previous else error)
            bundle.write_bundle(database, run_id, bundle_dir, log_tail=tail, pod=pod)
            final = queries.get_run(database, run_id).run.status
            return PodOutcome(status=final, run_id=run_id, bundle_dir=bundle_dir, deadline_hit=deadline_hit)
    model, backend, config = _requested(job.run_args)
    error = deadline_error or _last_error(tail) or f"evalsuite run exited with status {returncode} before storing a run"
    bundle.write_failed_bundle(bundle_dir, model=model, backend=backend, config=config, error=error, log_tail=tail, pod=pod, started_at=started)
    return PodOutcome(status="failed", run_id=None, bundle_dir=bundle_dir, deadline_hit=deadline_hit)


def _requested(run_args: tuple[str, ...]) -> tuple[str, str, dict[str, Any]]:
    """(model, backend, the options as a config) of a run that never stored itself."""
    from evalsuite.backends.registry import DEFAULT_BACKEND

    options: dict[str, Any] = {}
    key: str | None = None
    for arg in run_args:
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            key = name.replace("-", "_")
            options[key] = value if eq else True
            if eq:
                key = None
        elif key is not None:
            options[key] = arg
            key = None
    model = str(options.get("model") or options.get("m") or "unknown")
    tasks = options.get("tasks")
    config = {**options, "model": model, "tasks": str(tasks).split(",") if isinstance(tasks, str) else []}
    return model, str(options.get("backend") or DEFAULT_BACKEND), config


def log_tail(log_path: Path, env: dict[str, str], lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of the run's log, secrets masked."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return pod_env.mask_secrets("\n".join(text.splitlines()[-lines:]), env)


def _last_error(tail: str) -> str | None:
    """The CLI's one-line ``error: …`` (a user error), or the last line of a traceback."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:"):
            return line.removeprefix("error:").strip()
    return lines[-1] if lines else None


def _deliver(job: PodJob, env: dict[str, str], outcome: PodOutcome, report: Reporter) -> list[Delivery]:
    from evalsuite.cloud import transports

    deliveries: list[Delivery] = []
    if job.results_dir is not None:
        deliveries.append(transports.to_folder(outcome.bundle_dir, job.results_dir))
    if job.results_db is not None:
        deliveries.append(transports.to_database(outcome.bundle_dir, job.results_db))
    if job.push_to_hub is not None:
        deliveries.append(transports.to_hub(outcome.bundle_dir, job.push_to_hub))
    if job.gist:
        deliveries.append(transports.to_gist(_summary(job, outcome), f"evalsuite run on pod {job.pod_id}", public=job.gist_public))
    for delivery in deliveries:
        report(f"{delivery.transport}: " + (f"FAILED: {delivery.error}" if delivery.error else f"sent to {delivery.target}"))
    return deliveries


def _summary(job: PodJob, outcome: PodOutcome) -> str:
    """LLM AutoEval's Markdown summary for the nous suite, the Markdown table of the run otherwise."""
    from evalsuite.errors import EvalsuiteError
    from evalsuite.formats import export
    from evalsuite.store.db import open_database

    if outcome.run_id is None or outcome.status != "complete":
        return f"# evalsuite run on pod {job.pod_id}: {outcome.status}\n\nSee the run record in the bundle for the error and log tail.\n"
    with open_database(job.work_dir / "pod.db") as database:
        try:
            return export.render(database, "autoeval", run_ids=[outcome.run_id], view="nous")
        except EvalsuiteError:
            return export.render(database, "md", run_ids=[outcome.run_id])


def _remove_pod(job: PodJob, env: dict[str, str], report: Reporter) -> tuple[bool, str | None]:
    """The pod removing itself through RunPod's API: (removed, the error when it could not)."""
    from evalsuite.cloud.provider import provider

    if not job.pod_id:
        report(f"{pod_env.POD_ID} is not set (not on a pod): nothing to remove")
        return False, None
    try:
        provider().remove_self(job.pod_id, env.get(pod_env.API_KEY))
    except CloudError as exc:
        report(f"could not remove pod {job.pod_id}: {exc.message}")
        return False, exc.message
    report(f"removed pod {job.pod_id}")
    return True, None


def _serve_log(log_path: Path, host: str, port: int) -> http.server.ThreadingHTTPServer:
    """Serve the run's log at ``/log`` (RunPod's HTTP proxy reaches it) for `evalsuite runpod logs`."""

    class LogHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != "/log":
                self.send_error(404)
                return
            body = log_path.read_bytes() if log_path.exists() else b""
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
            return

    server = http.server.ThreadingHTTPServer((host, port), LogHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(env: dict[str, str] | None = None) -> int:
    """Entry point of ``evalsuite runpod pod-run``; 0 when the run is complete and every transport delivered."""
    environment = dict(os.environ if env is None else env)
    job = PodJob.from_env(environment)

    def report(line: str) -> None:
        print(f"evalsuite-pod {time.strftime('%H:%M:%S')} | {pod_env.mask_secrets(line, environment)}", flush=True)

    outcome = run_pod(job, environment, report)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
