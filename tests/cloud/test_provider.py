"""The cloud behind one protocol: the CLI and the pod entry reach RunPod only through `provider()`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from evalsuite.cloud.provider import PROVIDERS, provider
from evalsuite.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_an_unknown_provider_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as refused:
        provider("lambda-labs")
    assert refused.value.message == "unknown cloud provider 'lambda-labs'"
    assert refused.value.hint == f"choose one of: {', '.join(PROVIDERS)}"


def test_every_registered_provider_loads_with_its_name_and_defaults() -> None:
    for name in PROVIDERS:
        loaded = provider(name)
        assert loaded.name == name
        assert loaded.defaults.gpu and loaded.defaults.disk_gb > 0 and loaded.defaults.max_hours > 0


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update({node.module, *(f"{node.module}.{alias.name}" for alias in node.names)})
    return names


def test_only_the_provider_table_names_a_provider_module() -> None:
    """A provider module is imported by the table alone: no command or pod step calls RunPod's functions directly."""
    providers = set(PROVIDERS.values())
    users = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "evalsuite").rglob("*.py"))
        if path.stem != "provider" and str(path.relative_to(REPO_ROOT)).replace("/", ".").removesuffix(".py") not in providers
        and _imports(path) & providers
    ]
    assert users == []
