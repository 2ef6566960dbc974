"""Matching a decoded ``--backend-arg`` against the keyword a backend class declares.

A typo'd or mistyped option is refused before any model loads (minutes of work saved),
so the accepted keywords are read from the backend classes themselves: their
``__init__`` annotations, and for vLLM the fields of ``EngineArgs``.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import sys
import types
import typing
from typing import Any


def closest_hint(key: str, accepted: dict[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(accepted), n=3)
    if close:
        return f"did you mean {', '.join(close)}?"
    if len(accepted) > 20:  # vLLM's engine has hundreds of options
        return "see the backend's documented options (for vLLM: the fields of vllm.engine.arg_utils.EngineArgs)"
    return f"accepted keys: {', '.join(sorted(accepted))}"


def init_types(cls: type) -> dict[str, Any]:
    """Named keyword parameters of ``cls.__init__`` and their types (None where unresolvable)."""
    constructor = cls.__init__  # type: ignore[misc]
    try:
        hints = typing.get_type_hints(constructor)
    except Exception:  # an annotation naming an optional dependency: check names only
        hints = {}
    parameters = inspect.signature(constructor).parameters.values()
    skip = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return {p.name: hints.get(p.name) for p in parameters if p.name != "self" and p.kind not in skip}


def engine_args_types(engine_args: type) -> dict[str, Any]:
    """vLLM's engine options (the fields of ``EngineArgs``), types resolved field by field."""
    namespace = vars(sys.modules[engine_args.__module__])
    result: dict[str, Any] = {}
    for field in dataclasses.fields(engine_args):
        kind = field.type
        if isinstance(kind, str):
            try:
                kind = eval(kind, namespace)  # noqa: S307 - vLLM's own annotation text
            except Exception:
                kind = None
        result[field.name] = kind
    return result


def value_fits(value: Any, expected: Any) -> bool:
    """Whether a decoded --backend-arg value matches an annotation; unknown shapes pass."""
    if expected is Any:
        return True
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(value_fits(value, option) for option in typing.get_args(expected))
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    return True  # dicts, dtypes, paths, configs: let the backend judge


def type_name(expected: Any) -> str:
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        return " or ".join(type_name(option) for option in typing.get_args(expected))
    if typing.get_origin(expected) is typing.Literal:
        return " or ".join(repr(option) for option in typing.get_args(expected))
    return "None" if expected is type(None) else getattr(expected, "__name__", str(expected))
