"""The models people can meet in the live arena, read from the operator's file (``arena.yaml``).

::

    arena:                      # optional; these are the defaults
      turn_limit: 50            # turns per battle (FastChat's cap)
      prompt_chars: 12000       # characters per prompt (FastChat's input limit)
      stall_timeout_s: 30       # no piece of an answer for this long: the contestant failed
      down_for_s: 60            # a contestant that failed is skipped this long
      moderation:               # optional: refuse prompts before any model sees them
        words: blocked.txt      #   a word list (one word or phrase a line), or
        # url: http://127.0.0.1:9000/v1   an OpenAI-compatible /v1/moderations endpoint
    contestants:
      - name: pico-s            # in this process, through the backend registry
        model: demo/pico-s
        backend: transformers   # optional: the default backend
        weight: 1.0
        temperature: 0.7
        max_new_tokens: 128
      - name: pico-m            # an OpenAI-compatible server (vLLM's, or any)
        backend: openai
        base_url: http://127.0.0.1:8001/v1
        served_name: pico-m
        api_key_env: PICO_KEY   # optional: the variable that holds the key

Each contestant resolves to a model identity as stored arena answers do
(:func:`evalsuite.arena.contestant.answer_model_key` over the resolved
:class:`~evalsuite.identity.models.ModelSpec`: files for a local model, the endpoint's
fingerprint for a server), so its live votes and its generated answers meet in one rating.
A malformed file is a :class:`~evalsuite.errors.ConfigError` naming the entry and the fix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from evalsuite.arena.contestant import answer_identity, answer_model_key
from evalsuite.arena.live.moderation import Moderation, moderation_from
from evalsuite.arena.live.streaming import AnswerSource, EndpointSource, InProcessSource, Messages, Sampling
from evalsuite.backends import BackendOptions, resolve
from evalsuite.backends.registry import DEFAULT_BACKEND, ENDPOINT_BACKENDS, backend_entry
from evalsuite.errors import ArenaError, ConfigError, EvalsuiteError
from evalsuite.redact import mask_secrets

DEFAULT_TURN_LIMIT = 50  # FastChat's CONVERSATION_TURN_LIMIT
DEFAULT_PROMPT_CHARS = 12000  # FastChat's INPUT_CHAR_LEN_LIMIT
DEFAULT_STALL_S = 30.0
DEFAULT_DOWN_S = 60.0
CONTESTANT_KEYS = {"name", "model", "backend", "weight", "temperature", "max_new_tokens", "base_url", "served_name", "api_key_env"}
ARENA_KEYS = {"turn_limit", "prompt_chars", "stall_timeout_s", "down_for_s", "moderation"}
FILE_HINT = "see `evalsuite arena serve --help` for the contestants file's format"


@dataclass(frozen=True)
class LiveLimits:
    """Arena-wide limits a battle enforces."""

    turn_limit: int = DEFAULT_TURN_LIMIT
    prompt_chars: int = DEFAULT_PROMPT_CHARS
    stall_timeout_s: float = DEFAULT_STALL_S
    down_for_s: float = DEFAULT_DOWN_S


@dataclass
class Contestant:
    """One model people can meet: its name, how it is drawn and sampled, where its answers come from."""

    name: str
    model: str
    backend: str
    weight: float
    sampling: Sampling
    source: AnswerSource
    model_key: str
    settings: dict[str, Any] = field(default_factory=dict)

    def stream(self, messages: Messages) -> Iterator[str]:
        """The answer to ``messages`` as pieces (a :class:`StreamedAnswer`); ContestantFailed when it fails."""
        return iter(self.source.stream(messages, self.sampling))


class ContestantPool:
    """The contestants, their draw weights, the arena's limits, and who is down right now."""

    def __init__(self, contestants: Sequence[Contestant], limits: LiveLimits, moderation: Moderation | None = None) -> None:
        self.contestants = {c.name: c for c in contestants}
        self.limits = limits
        self.moderation = moderation
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Contestant:
        if name not in self.contestants:
            raise ArenaError(f"no contestant named {name!r}", hint=f"pick one of: {', '.join(self.contestants)}")
        return self.contestants[name]

    def names(self) -> list[str]:
        return list(self.contestants)

    def mark_down(self, name: str) -> None:
        """Skip ``name`` in draws for ``limits.down_for_s`` seconds (it just failed)."""
        with self._lock:
            self._down_until[name] = time.monotonic() + self.limits.down_for_s

    def is_down(self, name: str) -> bool:
        with self._lock:
            return self._down_until.get(name, 0.0) > time.monotonic()

    def up(self, exclude_down: bool = True) -> list[Contestant]:
        """Contestants that may be drawn now: not failed recently, and answering a health check."""
        if not exclude_down:
            return list(self.contestants.values())
        found = []
        for contestant in self.contestants.values():
            if self.is_down(contestant.name):
                continue
            if not contestant.source.healthy():
                self.mark_down(contestant.name)
                continue
            found.append(contestant)
        return found

    def draw_pair(self, rng: np.random.Generator, exclude_down: bool = True) -> tuple[Contestant, Contestant]:
        """Two different contestants drawn by weight (without replacement), in random order."""
        up = self.up(exclude_down)
        if len(up) < 2:
            down = sorted(set(self.contestants) - {c.name for c in up})
            raise ArenaError(
                f"fewer than two contestants can answer now ({len(up)} up; down: {', '.join(down) or 'none'})",
                hint="start the contestants' servers (see the operator's outage list), or add contestants to the file",
            )
        weights = np.array([c.weight for c in up], dtype=float)
        first, second = rng.choice(len(up), size=2, replace=False, p=weights / weights.sum())
        pair = (up[int(first)], up[int(second)])
        return pair if rng.random() < 0.5 else (pair[1], pair[0])

    def warm(self) -> None:
        """Load every in-process model now, so the first visitor does not wait for it."""
        for contestant in self.contestants.values():
            warm = getattr(contestant.source, "warm", None)
            if callable(warm):
                warm()

    def close(self) -> None:
        for contestant in self.contestants.values():
            contestant.source.close()


def load_contestants(path: str | Path) -> ContestantPool:
    """Read the contestants file, resolve every contestant's identity, and build their sources."""
    data = _read_yaml(Path(path))
    limits, moderation_config = _limits(data.get("arena") or {}, Path(path))
    entries = data.get("contestants")
    if not isinstance(entries, list) or len(entries) < 2:
        raise ConfigError(f"{path}: `contestants` must list at least two models", FILE_HINT)
    contestants = [_contestant(entry, index, limits) for index, entry in enumerate(entries)]
    names = [c.name for c in contestants]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{path}: contestant names must be unique; repeated: {', '.join(repeated)}", FILE_HINT)
    _check_identities(contestants, Path(path))
    return ContestantPool(contestants, limits, moderation_from(moderation_config, Path(path).parent))


def _check_identities(contestants: Sequence[Contestant], path: Path) -> None:
    """Two names for one model would battle itself (and split its votes): refused."""
    seen: dict[str, str] = {}
    for contestant in contestants:
        other = seen.setdefault(contestant.model_key, contestant.name)
        if other != contestant.name:
            raise ConfigError(
                f"{path}: contestants {other} and {contestant.name} are the same model (one identity)",
                "list each model once; give one contestant the sampling settings you want",
            )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read the contestants file {path}: {error.strerror or error}", "pass an existing arena.yaml") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {str(error).splitlines()[0]}", FILE_HINT) from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping with a `contestants` list", FILE_HINT)
    unknown = sorted(set(data) - {"arena", "contestants"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys {', '.join(unknown)}", "the file has `arena:` and `contestants:` only")
    return data


def _limits(arena: Any, path: Path) -> tuple[LiveLimits, Any]:
    if not isinstance(arena, dict) or set(arena) - ARENA_KEYS:
        extra = sorted(set(arena) - ARENA_KEYS) if isinstance(arena, dict) else ["(not a mapping)"]
        raise ConfigError(f"{path}: `arena` has unknown keys {', '.join(map(str, extra))}", f"known keys: {', '.join(sorted(ARENA_KEYS))}")
    limits = LiveLimits(
        turn_limit=_number(arena, "turn_limit", DEFAULT_TURN_LIMIT, int, "arena"),
        prompt_chars=_number(arena, "prompt_chars", DEFAULT_PROMPT_CHARS, int, "arena"),
        stall_timeout_s=_number(arena, "stall_timeout_s", DEFAULT_STALL_S, float, "arena"),
        down_for_s=_number(arena, "down_for_s", DEFAULT_DOWN_S, float, "arena", strict=False),
    )
    return limits, arena.get("moderation")


def _number(entry: dict[str, Any], key: str, default: Any, kind: type, where: str, minimum: float = 0, strict: bool = True) -> Any:
    """``entry[key]`` as ``kind`` (default when absent), above ``minimum`` (or equal, when not ``strict``)."""
    value = entry.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (kind is float or float(value).is_integer())
    if not ok or (value <= minimum if strict else value < minimum):
        raise ConfigError(f"{where}: `{key}` must be a {'whole ' if kind is int else ''}number above {minimum:g}, got {value!r}", FILE_HINT)
    return kind(value)


def _contestant(entry: Any, index: int, limits: LiveLimits) -> Contestant:
    where = f"contestant {index + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise ConfigError(f"{where}: each contestant is a mapping with a `name`", FILE_HINT)
    where = f"contestant {entry['name']!r}"
    unknown = sorted(set(entry) - CONTESTANT_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(unknown)}", f"known keys: {', '.join(sorted(CONTESTANT_KEYS))}")
    backend = str(entry.get("backend", DEFAULT_BACKEND))
    try:
        backend_entry(backend, for_arena=backend not in ENDPOINT_BACKENDS)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error.message}", error.hint) from error
    sampling = Sampling(
        temperature=_number(entry, "temperature", Sampling.temperature, float, where, minimum=0, strict=False),
        max_new_tokens=_number(entry, "max_new_tokens", Sampling.max_new_tokens, int, where),
    )
    weight = _number(entry, "weight", 1.0, float, where)
    build = _endpoint if backend in ENDPOINT_BACKENDS else _local
    return build(entry, where, backend, weight, sampling, limits)


def _endpoint(entry: dict[str, Any], where: str, backend: str, weight: float, sampling: Sampling, limits: LiveLimits) -> Contestant:
    base_url, served = entry.get("base_url"), entry.get("served_name", entry.get("model"))
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: backend {backend} needs `base_url`, an http(s) URL ending in /v1", "e.g. base_url: http://127.0.0.1:8000/v1")
    if not isinstance(served, str) or not served:
        raise ConfigError(f"{where}: backend {backend} needs `served_name`, the model's name on the server", "e.g. served_name: pico-m")
    options = BackendOptions(backend=backend, base_url=base_url, api_key_env=entry.get("api_key_env"))
    spec = _resolved(served, options, where)
    source = EndpointSource(entry["name"], base_url, served, options.api_key_env, limits.stall_timeout_s)
    settings = {"backend": backend, "base_url": mask_secrets(base_url), "served_name": served}
    return _made(entry["name"], served, backend, weight, sampling, source, spec, settings)


def _local(entry: dict[str, Any], where: str, backend: str, weight: float, sampling: Sampling, limits: LiveLimits) -> Contestant:
    model = entry.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{where}: a local contestant needs `model` (a Hub id, a folder, or demo/pico-s)", "e.g. model: demo/pico-s")
    options = BackendOptions(backend=backend)
    spec = _resolved(model, options, where)
    source = InProcessSource(entry["name"], spec, options, limits.stall_timeout_s)
    return _made(entry["name"], model, backend, weight, sampling, source, spec, {"backend": backend, "model": model})


def _resolved(model: str, options: BackendOptions, where: str) -> Any:
    try:
        return resolve(model, options)
    except EvalsuiteError as error:
        raise type(error)(f"{where}: {error.message}", error.hint) from error


def _made(
    name: str, model: str, backend: str, weight: float, sampling: Sampling, source: AnswerSource, spec: Any, settings: dict[str, Any],
) -> Contestant:
    settings = {**settings, **answer_identity(spec), "temperature": sampling.temperature, "max_new_tokens": sampling.max_new_tokens, "chat_template": True}
    return Contestant(name, model, backend, weight, sampling, source, answer_model_key(spec), settings)
