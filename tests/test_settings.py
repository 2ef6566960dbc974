"""Environment variables: one declaration each (evalsuite/settings.py), read only through it, listed in README.md.

The source checks read the code, not a list: every ``EVALSUITE_*`` name written anywhere
in ``evalsuite/``, ``leaderboard/`` and the files that set them must be declared, and no
module but ``settings.py`` may spell a name as a literal or look one up in an environment
mapping (``os.environ.get(X)``, ``env[X]``, ``X in env``) where ``X`` resolves to such a name.
A key held in a function-local variable cannot be resolved statically and is not seen.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from evalsuite import settings
from evalsuite.cloud.pod_entry import PodJob
from evalsuite.devtools import settings_table
from evalsuite.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("evalsuite", "leaderboard")
OTHER_FILES = ("README.md", "Dockerfile", "docker/entrypoint.sh", ".ci/run", "tasks/local_sources.yaml", "tasks/README.md")
SETTINGS_FILE = Path("evalsuite") / "settings.py"
SCRIPTS = ("leaderboard.app", "leaderboard.views.")  # Streamlit pages draw when imported: checked without importing
NAME = re.compile(r"EVALSUITE_[A-Z0-9_]*[A-Z0-9]")
MISSING = object()


def _code_files(root: Path) -> list[Path]:
    return [path for package in PACKAGES for path in sorted((root / package).rglob("*.py"))]


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _undeclared(root: Path, files: list[Path], declared: Mapping[str, object]) -> list[str]:
    """``path:line: NAME`` for every EVALSUITE_* name in ``files`` (code, comments, docs) that is not declared."""
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{path.relative_to(root)}:{number}: {name}" for name in NAME.findall(line) if name not in declared]
    return found


def _lookup(expr: ast.expr, namespace: Mapping[str, Any]) -> Any:
    """The value of a constant, a module-level name or a dotted attribute of one, else MISSING."""
    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, ast.Name):
        return namespace.get(expr.id, MISSING)
    if isinstance(expr, ast.Attribute):
        base = _lookup(expr.value, namespace)
        return MISSING if base is MISSING else getattr(base, expr.attr, MISSING)
    return MISSING


def _lookup_keys(node: ast.AST) -> list[ast.expr]:
    """The keys ``node`` looks up in a mapping: ``m.get(k)``, ``getenv(k)``, ``m.pop(k)``, ``m[k]``, ``k in m``."""
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr in ("get", "getenv", "pop")) or (isinstance(func, ast.Name) and func.id == "getenv"):
            return [node.args[0]]
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        return [node.slice]
    if isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
        return [node.left]
    return []


def _direct_uses(tree: ast.AST, namespace: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(line, what) for each literal EVALSUITE_* name and each environment lookup of one in ``tree``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value):
            found.append((node.lineno, f"spells {node.value} as a literal (take settings.<NAME>.name)"))
        for key in _lookup_keys(node):
            value = _lookup(key, namespace)
            if isinstance(value, str) and NAME.fullmatch(value) and not isinstance(key, ast.Constant):
                found.append((key.lineno, f"reads {value} directly (read it with settings.<NAME>.read())"))
    return found


def _namespace(module: str) -> Mapping[str, Any]:
    return {} if module.startswith(SCRIPTS) else vars(importlib.import_module(module))


def test_every_name_the_code_and_docs_use_is_declared() -> None:
    files = _code_files(REPO_ROOT) + [REPO_ROOT / name for name in OTHER_FILES]
    assert _undeclared(REPO_ROOT, files, settings.DECLARED) == [], "declare these in evalsuite/settings.py"


def test_only_the_settings_module_reads_or_spells_a_variable() -> None:
    offenders = []
    for path in _code_files(REPO_ROOT):
        if path.relative_to(REPO_ROOT) == SETTINGS_FILE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(REPO_ROOT)}:{line}: {what}" for line, what in _direct_uses(tree, _namespace(_module_name(REPO_ROOT, path)))]
    assert offenders == []


def test_the_source_check_catches_a_direct_read_and_an_undeclared_name(tmp_path: Path) -> None:
    """The check finds what the code held before settings.py: literal names and lookups through constants."""
    source = (
        "import os\n"
        "from evalsuite import settings\n"
        "ENV_AT = settings.FAULT_AT.name\n"
        "def at(env):\n"
        "    return os.environ.get(ENV_AT), env[settings.DB.name], 'EVALSUITE_DB' in env, os.getenv('EVALSUITE_TYPO')\n"
        "def allowed(env):\n"
        "    return settings.FAULT_AT.read(env), {**env, settings.DB.name: 'x'}\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "<fixture>", "exec"), namespace)  # noqa: S102 (the fixture's own module namespace)
    assert sorted(_direct_uses(ast.parse(source), namespace)) == [
        (5, "reads EVALSUITE_DB directly (read it with settings.<NAME>.read())"),
        (5, "reads EVALSUITE_FAULT_AT directly (read it with settings.<NAME>.read())"),
        (5, "spells EVALSUITE_DB as a literal (take settings.<NAME>.name)"),
        (5, "spells EVALSUITE_TYPO as a literal (take settings.<NAME>.name)"),
    ]
    (tmp_path / "evalsuite").mkdir()
    (tmp_path / "evalsuite" / "x.py").write_text(source)
    assert _undeclared(tmp_path, [tmp_path / "evalsuite" / "x.py"], settings.DECLARED) == ["evalsuite/x.py:5: EVALSUITE_TYPO"]


def test_the_readme_table_is_written_from_the_declarations() -> None:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table.with_current_table(text) == text, "README.md's table of variables is stale: run `python -m evalsuite.devtools.settings_table`"
    for setting in settings.DECLARED.values():
        assert f"| `{setting.name}` | {setting.default_text()} | {setting.meaning} |" in text


def test_each_variable_is_read_when_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(settings.DB.name, raising=False)
    assert settings.default_db() == str(Path("results") / "evalsuite.db")
    monkeypatch.setenv(settings.DB.name, "")
    assert settings.default_db() == "results/evalsuite.db"
    monkeypatch.setenv(settings.DB.name, str(tmp_path / "x.db"))
    assert settings.default_db() == str(tmp_path / "x.db")
    monkeypatch.setenv(settings.CACHE.name, str(tmp_path / "cache"))
    assert settings.cache_dir() == tmp_path / "cache"
    monkeypatch.setenv(settings.CACHE_FLUSH_S.name, "0.5")
    assert settings.CACHE_FLUSH_S.read() == 0.5


@pytest.mark.parametrize(
    ("setting", "raw", "message", "hint"),
    [
        (settings.CACHE_CHUNK, "12x", "EVALSUITE_CACHE_CHUNK='12x' is not a number", "unset EVALSUITE_CACHE_CHUNK or set it to e.g. 256"),
        (settings.CACHE_FLUSH_S, "soon", "EVALSUITE_CACHE_FLUSH_S='soon' is not a number", "unset EVALSUITE_CACHE_FLUSH_S or set it to e.g. 30.0"),
        (settings.VOTES_PER_MINUTE, " -3 ", "EVALSUITE_VOTES_PER_MINUTE='-3' is not a whole number of votes", "set it to 0 (no limit) or a positive number, e.g. 20"),
        (settings.MAX_HOURS, "0", "EVALSUITE_MAX_HOURS must be positive, got 0", None),
        (settings.DEADLINE_MARGIN_S, "ten", "EVALSUITE_DEADLINE_MARGIN_S='ten' is not a number of seconds", "unset it for the default, 600 s"),
        (settings.LOG_PORT, "80a", "EVALSUITE_LOG_PORT='80a' is not a port number", "unset EVALSUITE_LOG_PORT or set it to e.g. 8000"),
    ],
)
def test_a_malformed_value_names_its_variable(setting: settings.Setting[Any], raw: str, message: str, hint: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        setting.read({setting.name: raw})
    assert caught.value.message == message
    assert caught.value.hint == (hint or ConfigError.default_hint)


def test_a_pod_with_a_malformed_log_port_stops_with_a_config_error() -> None:
    """Before settings.py the pod's ``int(EVALSUITE_LOG_PORT)`` ended in a bare ValueError and a traceback."""
    env = {settings.RUN_ARGS.name: "--model demo/pico-s", settings.RESULTS_DB.name: "sqlite:///x.db", settings.LOG_PORT.name: "80a"}
    with pytest.raises(ConfigError, match="EVALSUITE_LOG_PORT='80a' is not a port number"):
        PodJob.from_env(env)
    job = PodJob.from_env({**env, settings.LOG_PORT.name: "8123", settings.GIST.name: " Yes ", settings.KEEP_POD.name: "0"})
    assert (job.log_port, job.gist, job.keep_pod, job.log_host, job.deadline_margin_s) == (8123, True, False, "0.0.0.0", 600.0)


def test_a_heartbeat_typo_falls_back_to_the_default(caplog: pytest.LogCaptureFixture) -> None:
    """The heartbeat thread reads these; a typo there must not kill it (the one lenient parse)."""
    assert settings.HEARTBEAT_S.read({settings.HEARTBEAT_S.name: "fast"}) == 30.0
    assert "ignoring EVALSUITE_HEARTBEAT_S='fast' (not a number of seconds)" in caplog.text
    assert settings.HEARTBEAT_TIMEOUT_S.read({settings.HEARTBEAT_TIMEOUT_S.name: "-1"}) == 180.0
    assert settings.HEARTBEAT_S.read({settings.HEARTBEAT_S.name: "0.25"}) == 0.25
