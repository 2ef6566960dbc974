"""One backend protocol: no module outside a backend's own names it, and the registry stays light.

Callers ask a backend for its :class:`~evalsuite.backends.protocol.Capabilities` (or its
version facts) instead of comparing ``options.backend`` with a name; a new ``== "vllm"``
anywhere else in the package is a switch that the next backend would have to find by hand.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

from evalsuite.backends.registry import REGISTRY

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("evalsuite", "leaderboard")

# Each backend's own modules: its registered object's module and the modules of its LM.
OWN_MODULES = {
    "transformers": ("evalsuite.backends.transformers_backend", "evalsuite.backends.transformers"),
    "vllm": ("evalsuite.backends.vllm_backend", "evalsuite.backends.vllm"),
    "hf": ("evalsuite.backends.hf_backend",),
    "openai": ("evalsuite.backends.openai_backend", "evalsuite.backends.openai_compat"),
}
# The same words as data, not as a backend: (module, word) -> how often, and what it is there.
DATA = {
    ("evalsuite.arena.leaks", "openai"): (1, "a vendor name that marks a leaked identity in an arena answer"),
    ("evalsuite.formats.bundle", "transformers"): (1, "the transformers package's version key in lm-eval's results file"),
    ("evalsuite.cli.app", "transformers"): (1, "the transformers library's logger"),
    ("evalsuite.cli.app", "vllm"): (1, "the vllm library's logger"),
    ("evalsuite.identity.environment", "transformers"): (1, "the transformers distribution, whose version every run records"),
    ("evalsuite.identity.model_identity", "transformers"): (1, "the transformers distribution, whose version is in the identity"),
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def backend_names_in(source: str, names: set[str]) -> Counter[str]:
    """How often each backend name appears as a whole string constant in ``source``."""
    return Counter(
        node.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    )


def _names_outside_their_modules(root: Path) -> list[str]:
    names = set(REGISTRY)
    wrong = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = _module_name(path, root)
            for name, count in backend_names_in(path.read_text(encoding="utf-8"), names).items():
                if module in OWN_MODULES[name]:
                    continue
                allowed = DATA.get((module, name), (0, ""))[0]
                if count > allowed:
                    wrong.append(f"{module} names the {name} backend {count} time(s) (allowed: {allowed})")
    return wrong


def test_every_registered_backend_says_which_modules_are_its_own() -> None:
    assert sorted(OWN_MODULES) == sorted(REGISTRY)
    for name, backend in REGISTRY.items():
        assert backend.name == name
        assert type(backend).__module__ in OWN_MODULES[name]


def test_no_backend_is_named_outside_its_own_modules() -> None:
    """The registry's defaults, help texts and switches come from the backend objects, never from a literal name."""
    assert _names_outside_their_modules(REPO_ROOT) == []


def test_the_check_notices_a_name_switch() -> None:
    switch = 'def engine(options):\n    return "fast" if options.backend == "vllm" else "torch"\n'
    assert backend_names_in(switch, set(REGISTRY)) == Counter({"vllm": 1})
    assert backend_names_in('log = "--backend vllm needs a GPU"', set(REGISTRY)) == Counter()


def test_importing_the_registry_imports_no_engine() -> None:
    """Listing backends for --help and validating a config stay quick: torch, lm-eval and vLLM load when a backend is built."""
    script = (
        "import sys, evalsuite.backends.registry as r\n"
        "assert r.backend_help() and r.ARENA_BACKENDS\n"
        "print(sorted(m for m in ('torch', 'transformers', 'lm_eval', 'vllm', 'httpx') if m in sys.modules))\n"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert child.stdout.strip() == "[]", child.stderr
