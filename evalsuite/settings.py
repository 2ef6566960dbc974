"""Every ``EVALSUITE_*`` environment variable, declared once: name, type, default, meaning, readers.

Code reads a variable only through its declaration (``settings.DB.read()``), never through
``os.environ``, so each variable's default, parsing and error message live here and nowhere
else; ``tests/test_settings.py`` fails when code reads an undeclared or direct variable, and
when README.md's table of variables (written from these declarations by
``python -m evalsuite.devtools.settings_table``) is out of date.

Values are read when asked for, not at import, so tests set them with monkeypatch and a
pod reads the environment it was given (``read(env)``). A malformed value raises
:class:`~evalsuite.errors.ConfigError` naming the variable, except the heartbeat's, which a
background thread reads: those fall back to their default with a warning. Writers (a
pod's environment, a child's) take the name from ``Setting.name``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from evalsuite.errors import ConfigError

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_DB = Path("results") / "evalsuite.db"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: ``read()`` gives its typed value (the default when unset or empty)."""

    name: str
    default: T
    parse: Callable[[Setting[T], str], T]
    meaning: str
    readers: str
    shown_default: str | None = None  # the README's words where ``default`` alone does not say it
    for_tests: bool = False

    def read(self, env: Mapping[str, str] | None = None) -> T:
        """The value in ``env`` (default: this process's environment), parsed; checked now, so a typo fails here."""
        raw = (os.environ if env is None else env).get(self.name)
        return self.default if raw is None or raw == "" else self.parse(self, raw)

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        return f"`{self.default}`"


DECLARED: dict[str, Setting[Any]] = {}


def _declare(setting: Setting[T]) -> Setting[T]:
    if setting.name in DECLARED:
        raise ValueError(f"{setting.name} is declared twice")
    DECLARED[setting.name] = setting
    return setting


def _text(setting: Setting[Any], raw: str) -> str:
    return raw


def _path(setting: Setting[Any], raw: str) -> Path:
    return Path(raw)


def _flag(setting: Setting[Any], raw: str) -> bool:
    return raw.strip().lower() in _TRUE


def _not_zero(setting: Setting[Any], raw: str) -> bool:
    return raw != "0"


def _stripped_or_none(setting: Setting[Any], raw: str) -> str | None:
    """A token: surrounding blanks (a pasted newline) are not part of it; blank means unset."""
    return raw.strip() or None


def _lowered(setting: Setting[str], raw: str) -> str:
    return raw.strip().lower() or setting.default


def _whole(setting: Setting[int], raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{setting.name}={raw!r} is not a number", f"unset {setting.name} or set it to e.g. {setting.default}") from exc


def _real(setting: Setting[float], raw: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{setting.name}={raw!r} is not a number", f"unset {setting.name} or set it to e.g. {setting.default}") from exc


def _vote_limit(setting: Setting[int], raw: str) -> int:
    """A typo fails loudly instead of silently turning the limit off."""
    if not raw.strip():
        return setting.default
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(
            f"{setting.name}={raw.strip()!r} is not a whole number of votes", hint=f"set it to 0 (no limit) or a positive number, e.g. {setting.default}"
        )
    return value


def _addresses(setting: Setting[tuple[str, ...]], raw: str) -> tuple[str, ...]:
    """A comma-separated list of IP addresses; a malformed one fails here, not silently at the first vote."""
    import ipaddress

    found = tuple(part.strip() for part in raw.split(",") if part.strip())
    for address in found:
        try:
            ipaddress.ip_address(address)
        except ValueError as exc:
            raise ConfigError(f"{setting.name}: {address!r} is not an IP address", "list the proxies' addresses, e.g. 127.0.0.1,10.0.0.2") from exc
    return found


def _lenient_seconds(setting: Setting[float], raw: str) -> float:
    """The heartbeat thread must not die of a typo: a bad or non-positive value means the default."""
    try:
        value = float(raw)
    except ValueError:
        log.warning("ignoring %s=%r (not a number of seconds)", setting.name, raw)
        return setting.default
    return value if value > 0 else setting.default


def _hours(setting: Setting[float | None], raw: str) -> float:
    try:
        hours = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{setting.name}={raw!r} is not a number of hours") from exc
    if hours <= 0:
        raise ConfigError(f"{setting.name} must be positive, got {raw}")
    return hours


def _margin(setting: Setting[float], raw: str) -> float:
    hint = f"unset it for the default, {setting.default:g} s"
    try:
        seconds = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{setting.name}={raw!r} is not a number of seconds", hint) from exc
    if seconds < 0:
        raise ConfigError(f"{setting.name} must not be negative, got {raw}", hint)
    return seconds


def _port(setting: Setting[int | None], raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{setting.name}={raw!r} is not a port number", f"unset {setting.name} or set it to e.g. 8000") from exc


# --- where results are stored and data is found -------------------------------------------------
DB: Setting[str] = _declare(Setting(
    "EVALSUITE_DB", str(DEFAULT_DB), _text, "database path or SQLAlchemy URL when `--db` is not given", "CLI, Python API, leaderboard"
))
DATA_DIR: Setting[Path | None] = _declare(Setting(
    "EVALSUITE_DATA_DIR", None, _path, "local copies of benchmark data for offline runs, when `--data-dir` is not given",
    "`run`, Python API, devtools.reference_requests",
))
CACHE: Setting[Path | None] = _declare(Setting(
    "EVALSUITE_CACHE", None, _path, "folder of evalsuite's on-disk caches (task index, weight hashes)", "task_index, models",
    shown_default="~/.cache/evalsuite",
))
# --- the live arena ------------------------------------------------------------------------------
ARENA_CONTESTANTS: Setting[Path | None] = _declare(Setting(
    "EVALSUITE_ARENA_CONTESTANTS", None, _path,
    "the contestants file (arena.yaml) the live arena pages serve; set by `evalsuite arena serve`, the pages appear only with it",
    "leaderboard.app, leaderboard.board_ui.live_page",
))
# --- a run's request cache and liveness ---------------------------------------------------------
CACHE_CHUNK: Setting[int] = _declare(Setting(
    "EVALSUITE_CACHE_CHUNK", 256, _whole, "requests computed between two commits of the request cache", "runner"
))
CACHE_FLUSH_S: Setting[float] = _declare(Setting(
    "EVALSUITE_CACHE_FLUSH_S", 30.0, _real, "longest time in seconds between two commits of the request cache; 0 turns the bound off", "runner"
))
HEARTBEAT_S: Setting[float] = _declare(Setting(
    "EVALSUITE_HEARTBEAT_S", 30.0, _lenient_seconds, "seconds between two heartbeats of a running run", "store.liveness"
))
# Six missed beats: a heartbeat write may wait up to the 30 s busy timeout behind a large commit.
HEARTBEAT_TIMEOUT_S: Setting[float] = _declare(Setting(
    "EVALSUITE_HEARTBEAT_TIMEOUT_S", 180.0, _lenient_seconds,
    "seconds without a heartbeat after which a running run counts as interrupted (at least two beats)", "store.liveness",
))
HOSTNAME: Setting[str | None] = _declare(Setting(
    "EVALSUITE_HOSTNAME", None, _text, "the host name recorded for this process's runs", "store.liveness", shown_default="the machine's host name"
))
FAULT_AT: Setting[str | None] = _declare(Setting(
    "EVALSUITE_FAULT_AT", None, _text, "drills: `<point>[@<nth>]`, the fault point to fire at", "faults"
))
FAULT_KIND: Setting[str] = _declare(Setting(
    "EVALSUITE_FAULT_KIND", "kill", _lowered, "drills: the fault fired, `kill`, `term`, `int`, `disk-full` or `read-only`", "faults"
))
# --- the public board and arena -----------------------------------------------------------------
ADMIN_TOKEN: Setting[str | None] = _declare(Setting(
    "EVALSUITE_ADMIN_TOKEN", None, _stripped_or_none,
    "the operator's token: turns the web Admin page on and makes `--admin-token` required for admin writes", "admin",
))
VOTES_PER_MINUTE: Setting[int] = _declare(Setting(
    "EVALSUITE_VOTES_PER_MINUTE", 20, _vote_limit, "votes one arena voter may cast per minute on the public page; 0: no limit", "leaderboard arena page"
))
VOTES_PER_MINUTE_PER_ADDRESS: Setting[int] = _declare(Setting(
    "EVALSUITE_VOTES_PER_MINUTE_PER_ADDRESS", 60, _vote_limit,
    "live arena votes one client address may cast per minute (people behind one address share it); 0: no limit", "arena.live",
))
TRUSTED_PROXIES: Setting[tuple[str, ...]] = _declare(Setting(
    "EVALSUITE_TRUSTED_PROXIES", (), _addresses,
    "comma-separated addresses of reverse proxies whose `X-Forwarded-For` the live arena believes; otherwise the socket peer counts",
    "arena.live", shown_default="none",
))
# --- a pod (set by `evalsuite runpod launch`, read by `evalsuite runpod pod-run`) ---------------
RUN_ARGS: Setting[str] = _declare(Setting(
    "EVALSUITE_RUN_ARGS", "", _text, "pod: the `evalsuite run` options, shell-quoted", "cloud.pod_entry", shown_default="required on a pod"
))
RESULTS_DIR: Setting[Path | None] = _declare(Setting(
    "EVALSUITE_RESULTS_DIR", None, _path, "pod: a folder (the network volume) the bundle is copied to", "cloud.pod_entry"
))
RESULTS_DB: Setting[str | None] = _declare(Setting(
    "EVALSUITE_RESULTS_DB", None, _text, "pod: a database URL the bundle is imported into", "cloud.pod_entry"
))
PUSH_TO_HUB: Setting[str | None] = _declare(Setting(
    "EVALSUITE_PUSH_TO_HUB", None, _text, "pod: `ORG/REPO`, a Hub dataset the bundle is uploaded to", "cloud.pod_entry"
))
GIST: Setting[bool] = _declare(Setting(
    "EVALSUITE_GIST", False, _flag, "pod: `1` posts the Markdown summary as a gist (needs `GITHUB_API_TOKEN`)", "cloud.pod_entry"
))
GIST_PUBLIC: Setting[bool] = _declare(Setting("EVALSUITE_GIST_PUBLIC", False, _flag, "pod: `1` makes that gist public", "cloud.pod_entry"))
MAX_HOURS: Setting[float | None] = _declare(Setting(
    "EVALSUITE_MAX_HOURS", None, _hours, "pod: hard deadline in hours; after it the run is stopped, sent home as failed and the pod removed",
    "cloud.pod_entry",
))
DEADLINE_MARGIN_S: Setting[float] = _declare(Setting(
    "EVALSUITE_DEADLINE_MARGIN_S", 600.0, _margin, "pod: seconds after the deadline to send the results home before the pod removes itself",
    "cloud.pod_entry",
))
KEEP_POD: Setting[bool] = _declare(Setting(
    "EVALSUITE_KEEP_POD", False, _flag, "pod: `1` leaves the pod running when done (debugging)", "cloud.pod_entry, docker/entrypoint.sh"
))
WORK_DIR: Setting[Path | None] = _declare(Setting(
    "EVALSUITE_WORK_DIR", None, _path, "pod: where the pod keeps its local database, log and bundle", "cloud.pod_entry",
    shown_default="/workspace/evalsuite if /workspace exists, else ./evalsuite-pod",
))
LOG_PORT: Setting[int | None] = _declare(Setting(
    "EVALSUITE_LOG_PORT", None, _port, "pod: the port the pod serves its log on, for `evalsuite runpod logs`", "cloud.pod_entry",
    shown_default="unset (the launcher sets 8000)",
))
LOG_HOST: Setting[str] = _declare(Setting(
    "EVALSUITE_LOG_HOST", "0.0.0.0", _text, "pod: the address the log server listens on (RunPod's proxy connects from outside)",
    "cloud.pod_entry",
))
INSTALL: Setting[str | None] = _declare(Setting(
    "EVALSUITE_INSTALL", None, _text, "pod: pip requirement the stock image installs first (evalsuite at the launcher's version)",
    "docker/entrypoint.sh",
))
# --- services evalsuite talks to ----------------------------------------------------------------
RUNPOD_PROXY: Setting[str] = _declare(Setting(
    "EVALSUITE_RUNPOD_PROXY", "https://{pod_id}-{port}.proxy.runpod.net", _text,
    "RunPod's HTTP proxy address for a pod's port (`{pod_id}`, `{port}` filled in); tests point it at loopback", "cloud.runpod_client",
))
GITHUB_API: Setting[str] = _declare(Setting(
    "EVALSUITE_GITHUB_API", "https://api.github.com", _text, "GitHub's API root for gists; a mirror or a test's stand-in may replace it",
    "cloud.transports",
))
# --- tests only ---------------------------------------------------------------------------------
TEST_POSTGRES_URL: Setting[str | None] = _declare(Setting(
    "EVALSUITE_TEST_POSTGRES_URL", None, _stripped_or_none,
    "tests: a PostgreSQL server (its maintenance database's URL) to use instead of starting one", "devtools.postgres", for_tests=True,
))
STRICT_SKIPS: Setting[bool] = _declare(Setting(
    "EVALSUITE_STRICT_SKIPS", False, _not_zero, "tests: `1` (set by `.ci/run`) makes a skip fail unless it names a missing GPU",
    "tests/conftest.py", for_tests=True,
))
FAULT_TABLE: Setting[Path | None] = _declare(Setting(
    "EVALSUITE_FAULT_TABLE", None, _path, "tests: a file the kill matrix is written to as Markdown", "tests/faults/test_kill_matrix.py", for_tests=True
))


def default_db() -> str:
    """The database when no ``--db`` is given: the one resolver the CLI, the API and the leaderboard use."""
    return DB.read()


def default_data_dir() -> Path | None:
    return DATA_DIR.read()


def votes_per_minute() -> int:
    """Votes one arena voter may cast per minute on the public page (0: no limit).

    A person reads two answers before voting; 20 a minute leaves room for fast readers
    and stops a script.
    """
    return VOTES_PER_MINUTE.read()


def cache_dir() -> Path:
    """``$EVALSUITE_CACHE`` or ``~/.cache/evalsuite``."""
    return CACHE.read() or Path.home() / ".cache" / "evalsuite"


def markdown_table() -> str:
    """README.md's table of the variables, one row per declaration, in declaration order."""
    rows = ["| variable | default | meaning | read by |", "|---|---|---|---|"]
    for setting in DECLARED.values():
        cells = (f"`{setting.name}`", setting.default_text(), setting.meaning, setting.readers)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"
