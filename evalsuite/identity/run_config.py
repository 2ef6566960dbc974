"""`RunConfig`: a run described by small frozen values, and the defaults behind it.

The CLI parses flags into a RunConfig and nothing else; the runner takes only a
RunConfig. Its parts (the model request, used again for the judge; the task selection;
the prompt format; the outputs; the run controls) check only their own plain values:
nothing here reads a file or a registry, so this module imports nothing but the base
layer. Its ``to_json`` is the flat record stored with a run; ``result_hash`` identifies
runs that must give identical numbers, which is how an interrupted run is found again
and resumed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from evalsuite.backends.registry import DEFAULT_BACKEND  # the registry's own name for it (a cheap import: no engine)
from evalsuite.errors import ConfigError
from evalsuite.identity import numbers
from evalsuite.settings import default_data_dir, default_db

# lm-eval's CLI defaults, kept so that runs without --seed match `lm_eval` exactly.
LM_EVAL_DEFAULT_SEEDS = {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234}

# NumPy accepts seeds in [0, 2**32 - 1]; lm-eval hands --seed to it unchanged.
MAX_SEED = 2**32 - 1
# Generation settings checked before any model loads: (type, lowest, highest, lowest allowed?, example).
# Aliases of max_gen_toks are lm-eval's (normalize_gen_kwargs); other keys go to the backend unchecked.
_GEN_KWARG_RULES: dict[str, tuple[type, float | None, float | None, bool, str]] = {
    "max_gen_toks": (int, 1, None, True, "256"),
    "max_new_tokens": (int, 1, None, True, "256"),
    "max_tokens": (int, 1, None, True, "256"),
    "max_completion_tokens": (int, 1, None, True, "256"),
    "temperature": (float, 0, None, True, "0.7"),
    "top_p": (float, 0, 1, False, "0.9"),
    "top_k": (int, -1, None, True, "50"),
    "num_beams": (int, 1, None, True, "4"),
    "repetition_penalty": (float, 0, None, False, "1.1"),
    "do_sample": (bool, None, None, True, "false"),
    "seed": (int, 0, MAX_SEED, True, "1234"),
}


@dataclass(frozen=True)
class ModelRequest:
    """One model to load and how: the run's model (``--model``, ``--backend``, ...) and, again, its judge (``--judge*``).

    The same value for both, so a setting the model honours cannot be forgotten for the judge.
    ``batch_size`` is the backend's (vLLM: its ``max_num_seqs``); ``backend_args`` are
    ``--backend-arg`` pairs as written, decoded only when the model is built.
    """

    name: str
    backend: str = DEFAULT_BACKEND
    device: str = "auto"
    dtype: str = "auto"
    batch_size: str = "auto"
    revision: str | None = None
    trust_remote_code: bool = False
    backend_args: tuple[tuple[str, str], ...] = ()
    base_url: str | None = None  # --backend openai: the endpoint's API root, e.g. http://127.0.0.1:8000/v1
    api_key_env: str | None = None  # --backend openai: the variable holding the key [default: OPENAI_API_KEY if set]

    def decoded_args(self) -> dict[str, Any]:
        """--backend-arg KEY=VALUE pairs with ints, floats and booleans decoded."""
        return {key: decode_scalar(value) for key, value in self.backend_args}


@dataclass(frozen=True)
class TaskSelection:
    """Which documents are scored: --tasks, --suite or --text-file, where they are read from, how many and with how many shots."""

    tasks: tuple[str, ...] = ()
    suite: str | None = None
    text_file: Path | None = None
    include_path: tuple[Path, ...] = ()
    data_dir: Path | None = None
    limit: int | None = None
    num_fewshot: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            # --limit 0 would score nothing and store empty metrics; --dry-run counts requests without a model.
            raise ConfigError(
                f"--limit must be 1 or more, got {self.limit}",
                "pass --limit N with N >= 1, omit it for every document, or use --dry-run to count requests",
            )
        if self.num_fewshot is not None and self.num_fewshot < 0:
            raise ConfigError(f"--num-fewshot must be 0 or more, got {self.num_fewshot}")
        if self.tasks and self.suite:
            raise ConfigError("pass either --tasks or --suite, not both")
        if not self.tasks and not self.suite and not self.text_file:
            raise ConfigError("no tasks given", "pass --tasks a,b or --suite quick (see `evalsuite tasks`)")


@dataclass(frozen=True)
class PromptFormat:
    """How each prompt is written and sampled: chat template, system instruction, generation settings, seed."""

    apply_chat_template: bool = False
    fewshot_as_multiturn: bool | None = None
    system_instruction: str | None = None
    gen_kwargs: tuple[tuple[str, str], ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}", "pass a non-negative --seed, e.g. --seed 1234")
        self.generation_kwargs()  # malformed generation settings fail here, before any model loads

    @property
    def seeds(self) -> dict[str, int]:
        """The four seeds lm-eval uses; one --seed sets them all."""
        if self.seed is None:
            return dict(LM_EVAL_DEFAULT_SEEDS)
        return {key: self.seed for key in LM_EVAL_DEFAULT_SEEDS}

    @property
    def multiturn_fewshot(self) -> bool:
        """Few-shot examples as chat turns by default whenever a chat template is applied."""
        if self.fewshot_as_multiturn is None:
            return self.apply_chat_template
        return self.fewshot_as_multiturn

    def generation_kwargs(self) -> dict[str, Any]:
        """--gen-kwarg KEY=VALUE pairs decoded, the known keys checked for type and range."""
        decoded = {key: decode_scalar(value) for key, value in self.gen_kwargs}
        for key, value in decoded.items():
            if key in _GEN_KWARG_RULES:
                _check_gen_kwarg(key, value, *_GEN_KWARG_RULES[key])
        return decoded


@dataclass(frozen=True)
class Outputs:
    """Where the run is written: the database (required: the CLI and API resolve its default), an --output file, samples or not."""

    db: str
    output: Path | None = None
    log_samples: bool = True


# Where a run's requests are computed: in this process, or by replicas on a Ray cluster (evalsuite.execution.cluster).
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RunControls:
    """How this invocation runs, never what it measures: resume, dry run, progress bars, cache reuse, where it computes.

    ``executor``, ``ray_address`` and ``replicas`` place the work (one process, or N replicas
    of the model as Ray actors); each replica commits the same answers into the request cache,
    so they change no number (``identity/numbers.py``).
    """

    resume: int | None = None
    dry_run: bool = False
    show_progress: bool = True
    no_cache: bool = False  # recompute every request (answers are still written to the cache)
    executor: str = "local"
    ray_address: str | None = None  # --executor ray: auto or HOST:PORT of a running cluster; None starts a local Ray
    replicas: int = 1

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError(f"unknown --executor {self.executor!r}", f"choose one of: {', '.join(EXECUTORS)}")
        if isinstance(self.replicas, bool) or not isinstance(self.replicas, int) or self.replicas < 1:
            raise ConfigError(f"--replicas must be 1 or more, got {self.replicas!r}", "e.g. --replicas 2 --executor ray")
        if self.executor != "ray" and self.replicas > 1:
            raise ConfigError(
                f"--replicas {self.replicas} (or --backend-arg data_parallel_size={self.replicas}) runs the replicas as Ray actors",
                "add --executor ray (with --ray-address HOST:PORT for a running cluster; without it a local Ray starts)",
            )
        if self.executor != "ray" and self.ray_address is not None:
            raise ConfigError("--ray-address is for --executor ray", "add --executor ray, or drop --ray-address")


# The value objects of a RunConfig and the flat names their fields are stored under (runs.config,
# --output, bundles, the resume hash): a field's own name unless renamed here.
_PARTS: dict[str, dict[str, str]] = {"model": {"name": "model"}, "selection": {}, "prompt": {}, "outputs": {}, "controls": {}}
# The judge's fields are stored as judge_<field> (its name as "judge", its args as "judge_args"), except those
# it always loads with the defaults (auto device and dtype, no revision, no remote code): they are not recorded.
_JUDGE_NAMES = {"name": "judge", "backend_args": "judge_args"}
_JUDGE_FIXED = ("device", "dtype", "batch_size", "revision", "trust_remote_code")
_CLASSES: dict[str, type] = {
    "model": ModelRequest, "selection": TaskSelection, "prompt": PromptFormat, "outputs": Outputs, "controls": RunControls, "judge": ModelRequest,
}
_OWN_FIELDS = ("judge_max_tokens", "parallelism")


@functools.cache
def _flat_table() -> dict[str, tuple[str, str]]:
    """Every flat name, as (RunConfig attribute, field of its value object); the attribute is "" for RunConfig's own fields."""
    table = {renames.get(f.name, f.name): (part, f.name) for part, renames in _PARTS.items() for f in fields(_CLASSES[part])}
    table.update({_JUDGE_NAMES.get(f.name, f"judge_{f.name}"): ("judge", f.name) for f in fields(ModelRequest) if f.name not in _JUDGE_FIXED})
    table.update({name: ("", name) for name in _OWN_FIELDS})
    return table


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one evaluation run, as small values; built without reading any file or registry.

    :func:`evalsuite.execution.resolve.resolve` turns it into the run as it will run (a suite's
    backend args merged, the chat template forced for judged tasks, ``parallelism`` recorded)
    after the checks that need the suite table, the backend registry or the judged-task table.
    """

    model: ModelRequest
    selection: TaskSelection
    outputs: Outputs
    prompt: PromptFormat = PromptFormat()
    controls: RunControls = RunControls()
    judge: ModelRequest | None = None  # judged tasks (--tasks mt_bench): the judge model and how it loads
    judge_max_tokens: int | None = None  # None: the task's (MT-Bench: FastChat's 2048)
    parallelism: Mapping[str, Any] | None = None  # vLLM's layout, set by the resolution; None: one device

    def __post_init__(self) -> None:
        if self.judge is None:
            return
        fixed = [name for name in _JUDGE_FIXED if getattr(self.judge, name) != _default(ModelRequest, name)]
        if fixed:  # not recorded with the run, so it may not change what the judge says
            raise ConfigError(f"the judge loads with its backend's defaults; {', '.join(fixed)} cannot be set for it", "pass judge settings as --judge-arg KEY=VALUE")
        if self.judge_max_tokens is not None and self.judge_max_tokens < 1:
            raise ConfigError(f"--judge-max-tokens must be 1 or more, got {self.judge_max_tokens}", "e.g. --judge-max-tokens 2048")

    @classmethod
    def from_flat(cls, **values: Any) -> RunConfig:
        """A RunConfig from flat names (``model="m", tasks=("t",), limit=5``), as the Python API takes them.

        ``db`` and ``data_dir`` default to the environment's (EVALSUITE_DB, EVALSUITE_DATA_DIR);
        lists and strings are accepted where tuples and paths are meant (JSON's types). The
        ``judge_*`` settings describe a judge only when ``judge`` names one; without it they are dropped.
        """
        unknown = sorted(set(values) - set(_flat_table()))
        if unknown:
            raise TypeError(f"RunConfig has no option {', '.join(unknown)}")
        values.setdefault("db", default_db())
        values.setdefault("data_dir", default_data_dir())
        parts: dict[str, dict[str, Any]] = {part: {} for part in (*_CLASSES, "")}
        for flat, (part, name) in _flat_table().items():
            if flat in values:
                parts[part][name] = _coerce(_hints(_CLASSES[part] if part else cls)[name], values[flat])
        judge = parts.pop("judge")
        return cls(
            **{part: _CLASSES[part](**kwargs) for part, kwargs in parts.items() if part},
            judge=ModelRequest(**judge) if judge.get("name") is not None else None,
            **parts[""],
        )

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> RunConfig:
        """The RunConfig a stored config (``runs.config``, a bundle's) describes; keys it does not know are ignored.

        Old stored configs load: a missing key takes today's default.
        """
        known = set(_flat_table())
        return cls.from_flat(**{key: value for key, value in stored.items() if key in known})

    def flat(self) -> dict[str, Any]:
        """Every field under its flat name, as Python values (a missing judge: None and the judge defaults)."""
        data: dict[str, Any] = {}
        for flat, (part, name) in _flat_table().items():
            owner = self if not part else getattr(self, part)
            data[flat] = _default(ModelRequest, name) if owner is None else getattr(owner, name)
        return data

    def to_json(self) -> dict[str, Any]:
        """The flat record stored in ``runs.config``, written into --output and bundles and hashed for --resume."""
        data = {key: _jsonable(value) for key, value in self.flat().items()}
        data["seeds"] = self.prompt.seeds
        if self.parallelism is None:  # recorded for engines only: `evalsuite results show` prints it
            del data["parallelism"]
        return data

    def result_hash(self, model_identity: str) -> str:
        """Hash of everything that determines the numbers, for finding a run to resume (:mod:`evalsuite.identity.numbers`)."""
        return numbers.result_hash(self.to_json(), model_identity)

    def result_differences(self, stored: dict[str, Any]) -> list[str]:
        """The result-defining options that differ from a stored run's config (:func:`evalsuite.identity.numbers.result_differences`)."""
        return numbers.result_differences(stored, self.to_json())

    def with_changes(self, **changes: Any) -> RunConfig:
        """This config with some fields changed, named by their flat names (``model="other"``, ``limit=3``)."""
        return RunConfig.from_flat(**{**self.flat(), **changes})


def _default(cls: type, name: str) -> Any:
    """A field's default; None for one without (a missing judge's name)."""
    default = next(f.default for f in fields(cls) if f.name == name)
    return None if default is MISSING else default


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _coerce(hint: Any, value: Any) -> Any:
    """``value`` as the field typed ``hint`` holds it: JSON lists as tuples, strings as paths."""
    if value is None:
        return None
    if get_origin(hint) in (Union, UnionType):
        inner = [arg for arg in get_args(hint) if arg is not type(None)]
        return _coerce(inner[0], value) if len(inner) == 1 else value
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], item) for item in value)
        return tuple(value)
    if hint is Path:
        return Path(value)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


def check_writable_output(path: Path, flag: str) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    The file may not exist yet; its nearest existing ancestor must then be a writable
    folder (the missing folders are created when the file is written).
    """
    hint = f"pass {flag} a file path in a writable folder, e.g. {flag} results/out.json"
    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a directory", hint)
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"{flag} {path} cannot be created: {ancestor} is a file, not a folder", hint)
    target = path if path.exists() else ancestor
    if not os.access(target, os.W_OK):
        raise ConfigError(f"{flag} {path} cannot be written: {target} is not writable", hint)


def parse_key_values(pairs: list[str], flag: str) -> tuple[tuple[str, str], ...]:
    """Parse repeatable ``KEY=VALUE`` flags; the library never sees packed strings."""
    parsed: list[tuple[str, str]] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} expects KEY=VALUE, got {pair!r}", f"write it as {flag} max_model_len=2048")
        if not key.strip().isprintable():  # a newline or control character in a key would split the error line
            raise ConfigError(f"{flag} key {key.strip()!r} holds control characters", f"write it as {flag} max_model_len=2048")
        parsed.append((key.strip(), value.strip()))
    return tuple(parsed)


def _check_gen_kwarg(
    key: str, value: Any, kind: type, low: float | None, high: float | None, low_inclusive: bool, example: str
) -> None:
    if kind is bool:
        valid = isinstance(value, bool)
    elif kind is int:
        valid = isinstance(value, int) and not isinstance(value, bool)
    else:
        valid = isinstance(value, int | float) and not isinstance(value, bool)
    if valid and low is not None:
        valid = value >= low if low_inclusive else value > low
    if valid and high is not None:
        valid = value <= high
    if not valid:
        expected = {bool: "true or false", int: "an integer", float: "a number"}[kind]
        if low is not None:
            expected += f" {'>=' if low_inclusive else '>'} {low}"
        if high is not None:
            expected += f" and <= {high}"
        raise ConfigError(f"--gen-kwarg {key}={value!r} is invalid: expected {expected}", f"write e.g. --gen-kwarg {key}={example}")


def decode_scalar(value: str) -> Any:
    """A flag value as int, float, bool or None when it reads as one, else the string."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value
