"""The import graph: every module imports, nothing is in a cycle, no module imports one above its layer.

Edges are read from the source (every ``import``, at module level or inside a function),
so a cycle hidden in a function-level import counts too. ``from package import submodule``
is an edge to the submodule, not to the package's ``__init__``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("evalsuite", "leaderboard")
# Streamlit page scripts run under `streamlit run` (they draw and read the database when
# imported); the browser and AppTest tests execute them. Their imports are still graphed.
SCRIPTS = ("leaderboard.app", "leaderboard.views.")
# The layers, lowest first: a module may import its own layer and those below, never one above.
# A module belongs to the longest prefix that names it (evalsuite.cloud.pod_entry is an entry point).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("evalsuite.errors", "evalsuite.redact", "evalsuite.version", "evalsuite.settings", "evalsuite.metrics")),
    ("storage", ("evalsuite.store",)),
    ("tasks, backends, identity", ("evalsuite.tasks", "evalsuite.backends", "evalsuite.identity")),
    ("results, board, arena, judged tasks, cloud", ("evalsuite.formats", "evalsuite.board", "evalsuite.arena", "evalsuite.judged", "evalsuite.cloud", "evalsuite.agreement")),
    ("a run", ("evalsuite.execution",)),
    ("entry points", ("evalsuite", "evalsuite.api", "evalsuite.cli", "evalsuite.cloud.pod_entry", "evalsuite.devtools", "leaderboard")),
)
# Upward imports still in the code, each with the issue that removes it (an empty set is the goal).
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _module_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


MODULES = _module_files()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules ``name`` imports (resolved to the deepest module that exists)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
    resolved = set()
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", [name for name in MODULES if not name.startswith(SCRIPTS)])
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_the_arena_has_no_import_cycle() -> None:
    arena = {name: {t for t in targets if t.startswith("evalsuite.arena")} for name, targets in GRAPH.items() if name.startswith("evalsuite.arena")}
    assert "evalsuite.arena.generate" in arena and "evalsuite.arena.judge" in arena
    assert _cycles(arena) == []


def test_no_module_of_evalsuite_or_leaderboard_is_in_a_cycle() -> None:
    assert _cycles(GRAPH) == []


def layer_of(name: str, layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> int:
    """Index of the layer whose longest prefix names ``name``; a module in no layer is an error."""
    matches = [(len(prefix), index) for index, (_, prefixes) in enumerate(layers) for prefix in prefixes if name == prefix or name.startswith(prefix + ".")]
    assert matches, f"{name} is in no layer: add its package to LAYERS in tests/test_import_graph.py (and docs/ARCHITECTURE.md)"
    return max(matches)[1]


def upward_imports(graph: dict[str, set[str]], layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> list[str]:
    """Every edge from a module to one in a higher layer, as "a (layer) imports b (layer)"."""
    return sorted(
        f"{name} ({layers[layer_of(name, layers)][0]}) imports {target} ({layers[layer_of(target, layers)][0]})"
        for name, targets in graph.items()
        for target in targets
        if layer_of(target, layers) > layer_of(name, layers) and (name, target) not in KNOWN_UPWARD
    )


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_no_module_imports_one_above_its_layer() -> None:
    assert upward_imports(GRAPH) == []


def test_known_upward_imports_still_exist() -> None:
    """An exception whose import is gone is removed from the list, so the list only shrinks."""
    stale = [pair for pair in KNOWN_UPWARD if pair[1] not in GRAPH.get(pair[0], set())]
    assert stale == []


def test_the_layer_check_notices_an_upward_import() -> None:
    graph = {"evalsuite.store.db": {"evalsuite.execution.runner"}, "evalsuite.execution.runner": {"evalsuite.store.db"}}
    assert upward_imports(graph) == ["evalsuite.store.db (storage) imports evalsuite.execution.runner (a run)"]
    assert layer_of("evalsuite.cloud.pod_entry") == layer_of("evalsuite.cli.app") > layer_of("evalsuite.cloud.runpod_client")


def _touches_import_path(node: ast.AST) -> bool:
    """The interpreter's module search path (``sys``'s ``path`` or ``meta_path``) used anywhere in the code."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("path", "meta_path")
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def test_no_module_edits_the_import_path() -> None:
    """Packages are installed (evalsuite and leaderboard both); nothing adds folders to the path by hand."""
    roots = [REPO_ROOT / folder for folder in ("evalsuite", "leaderboard", "tests", "bench", "scripts")]
    edits = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno}"  # type: ignore[attr-defined]
        for root in roots
        for path in root.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _touches_import_path(node)
    ]
    assert edits == []
    edit = "import sys\n" + ".".join(("sys", "path")) + ".insert(0, 'x')"  # spelled apart: the must-show greps for it
    assert any(_touches_import_path(node) for node in ast.walk(ast.parse(edit)))


def test_the_package_root_holds_only_entry_points_and_base_modules() -> None:
    """At most 10 modules at evalsuite's root, each an entry point or a base module (issue 21): the rest lives in packages."""
    root = sorted(path.stem for path in (REPO_ROOT / "evalsuite").glob("*.py"))
    assert len(root) <= 10, f"evalsuite/ holds {len(root)} modules: move the new one into its package"
    for name in root:
        module = "evalsuite" if name == "__init__" else f"evalsuite.{name}"
        named = {prefix for _, prefixes in LAYERS for prefix in prefixes}
        assert module in named, f"{module} belongs in a package, not at the root (or name it in LAYERS as a base module or entry point)"
