"""`RunConfig`: one typed object that describes a run, and the defaults behind it.

The CLI parses flags into a RunConfig and nothing else; the runner takes only a
RunConfig. Its ``result_hash`` identifies runs that must give identical numbers,
which is how an interrupted run is found again and resumed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from evalsuite.backends.options import BackendOptions
from evalsuite.backends.parallelism import Parallelism
from evalsuite.backends.registry import DEFAULT_BACKEND, backend_entry
from evalsuite.errors import ConfigError, JudgeError
from evalsuite.judged import is_judged
from evalsuite.suites import suites

ENV_DB = "EVALSUITE_DB"
ENV_DATA_DIR = "EVALSUITE_DATA_DIR"
ENV_VOTES_PER_MINUTE = "EVALSUITE_VOTES_PER_MINUTE"  # the public arena's per-voter vote limit; 0 turns it off
DEFAULT_VOTES_PER_MINUTE = 20
DEFAULT_DB = Path("results") / "evalsuite.db"

# lm-eval's CLI defaults, kept so that runs without --seed match `lm_eval` exactly.
LM_EVAL_DEFAULT_SEEDS = {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234}

# Fields that do not change any number a run produces.
# (api_key_env names where the key is read from; the endpoint itself, base_url, does change numbers.)
# ("parallelism" is a record derived from backend_args, which are hashed themselves.)
_NON_RESULT_FIELDS = {
    "db", "output", "log_samples", "resume", "dry_run", "batch_size", "show_progress", "no_cache", "api_key_env", "judge_api_key_env",
    "parallelism",
}
# Judged tasks (MT-Bench) set their own sampling per category; only the length may be lowered.
JUDGED_GEN_KWARGS = ("max_gen_toks",)
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


def default_db() -> str:
    return os.environ.get(ENV_DB) or str(DEFAULT_DB)


def votes_per_minute() -> int:
    """Votes one arena voter may cast per minute on the public page (EVALSUITE_VOTES_PER_MINUTE; 0: no limit).

    A person reads two answers before voting; 20 a minute leaves room for fast readers
    and stops a script. Checked when read so that a typo fails loudly instead of silently
    turning the limit off.
    """
    raw = os.environ.get(ENV_VOTES_PER_MINUTE, "").strip()
    if not raw:
        return DEFAULT_VOTES_PER_MINUTE
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(
            f"{ENV_VOTES_PER_MINUTE}={raw!r} is not a whole number of votes", hint=f"set it to 0 (no limit) or a positive number, e.g. {DEFAULT_VOTES_PER_MINUTE}"
        )
    return value


def default_data_dir() -> Path | None:
    value = os.environ.get(ENV_DATA_DIR)
    return Path(value) if value else None


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one evaluation run."""

    model: str
    backend: str = DEFAULT_BACKEND
    tasks: tuple[str, ...] = ()
    suite: str | None = None
    limit: int | None = None
    num_fewshot: int | None = None
    batch_size: str = "auto"
    device: str = "auto"
    dtype: str = "auto"
    seed: int | None = None
    db: str = field(default_factory=default_db)
    data_dir: Path | None = field(default_factory=default_data_dir)
    text_file: Path | None = None
    include_path: tuple[Path, ...] = ()
    output: Path | None = None
    log_samples: bool = True
    revision: str | None = None
    trust_remote_code: bool = False
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool | None = None
    system_instruction: str | None = None
    backend_args: tuple[tuple[str, str], ...] = ()
    gen_kwargs: tuple[tuple[str, str], ...] = ()
    resume: int | None = None
    dry_run: bool = False
    show_progress: bool = True
    no_cache: bool = False  # recompute every request (answers are still written to the cache)
    base_url: str | None = None  # --backend openai: the endpoint's API root, e.g. http://127.0.0.1:8000/v1
    api_key_env: str | None = None  # --backend openai: the variable holding the key [default: OPENAI_API_KEY if set]
    # Judged tasks (--tasks mt_bench): the judge model and how it loads, as the model's own flags.
    judge: str | None = None
    judge_backend: str = DEFAULT_BACKEND
    judge_base_url: str | None = None
    judge_api_key_env: str | None = None
    judge_args: tuple[tuple[str, str], ...] = ()
    judge_max_tokens: int | None = None  # None: the task's (MT-Bench: FastChat's 2048)

    def __post_init__(self) -> None:
        self._apply_suite_backend_args()
        self._validate()
        if self.judged_tasks:  # judged tasks always speak through the chat template (recorded in the identity)
            object.__setattr__(self, "apply_chat_template", True)

    def _apply_suite_backend_args(self) -> None:
        """A suite's protocol settings (``backend_args`` in suites.yaml) join --backend-arg unless the user set the key."""
        spec = suites().get(self.suite) if self.suite else None  # an unknown suite is refused later, with the list
        if spec is None:
            return
        given = {key for key, _ in self.backend_args}
        added = tuple(pair for pair in spec.backend_args if pair[0] not in given)
        object.__setattr__(self, "backend_args", self.backend_args + added)

    def _validate(self) -> None:
        if self.limit is not None and self.limit < 1:
            # --limit 0 would score nothing and store empty metrics; --dry-run counts requests without a model.
            raise ConfigError(
                f"--limit must be 1 or more, got {self.limit}",
                "pass --limit N with N >= 1, omit it for every document, or use --dry-run to count requests",
            )
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}", "pass a non-negative --seed, e.g. --seed 1234")
        if self.num_fewshot is not None and self.num_fewshot < 0:
            raise ConfigError(f"--num-fewshot must be 0 or more, got {self.num_fewshot}")
        if self.fewshot_as_multiturn and not (self.apply_chat_template or self.judged_tasks):
            # Chat turns exist only inside a chat template; lm-eval's own CLI refuses the pair (evaluate_config).
            raise ConfigError("--fewshot-as-multiturn needs --apply-chat-template", "add --apply-chat-template, or drop --fewshot-as-multiturn")
        backend_entry(self.backend)
        self.backend_options().check_values()
        self.parallelism()  # a malformed tensor/pipeline/data parallel size fails here
        if self.tasks and self.suite:
            raise ConfigError("pass either --tasks or --suite, not both")
        if not self.tasks and not self.suite and not self.text_file:
            raise ConfigError("no tasks given", "pass --tasks a,b or --suite quick (see `evalsuite tasks`)")
        self.generation_kwargs()  # malformed generation settings fail here, before any model loads
        self._validate_judge()

    @property
    def judged_tasks(self) -> tuple[str, ...]:
        """The requested tasks a judge grades (MT-Bench)."""
        return tuple(name for name in self.tasks if is_judged(name))

    def _validate_judge(self) -> None:
        """Judged tasks need --judge; a judge grades judged tasks only (other tasks run without one)."""
        judged = self.judged_tasks
        if judged and self.judge is None:
            raise JudgeError(f"--tasks {','.join(judged)} needs a judge", "add --judge MODEL (e.g. --judge demo/pico-judge, or --judge NAME --judge-backend openai --judge-base-url URL)")
        if self.judge is None:
            return
        others = [name for name in self.tasks if not is_judged(name)] + ([f"--suite {self.suite}"] if self.suite else []) + (["--text-file"] if self.text_file else [])
        if not judged or others:
            raise JudgeError(
                f"--judge grades judged tasks only (mt_bench), not {', '.join(others) or 'nothing'}",
                "run judged tasks alone with --judge, and other tasks in a run without it",
            )
        unsupported = [key for key, _ in self.gen_kwargs if key not in JUDGED_GEN_KWARGS]
        if unsupported:
            raise JudgeError(
                f"--gen-kwarg {', '.join(unsupported)} cannot be set for {','.join(judged)}: it samples as FastChat does, per category",
                "drop it; only --gen-kwarg max_gen_toks=N (new tokens per turn) may be set",
            )
        if self.judge_max_tokens is not None and self.judge_max_tokens < 1:
            raise ConfigError(f"--judge-max-tokens must be 1 or more, got {self.judge_max_tokens}", "e.g. --judge-max-tokens 2048")
        backend_entry(self.judge_backend)
        self.judge_options().check_values()

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

    def backend_kwargs(self) -> dict[str, Any]:
        """--backend-arg KEY=VALUE pairs with ints, floats and booleans decoded."""
        return {key: decode_scalar(value) for key, value in self.backend_args}

    def backend_options(self) -> BackendOptions:
        """What the backend registry builds this run's model from (vLLM's seed: lm-eval's random seed)."""
        return BackendOptions(
            backend=self.backend, device=self.device, dtype=self.dtype, batch_size=self.batch_size,
            seed=self.seeds["random"], revision=self.revision, trust_remote_code=self.trust_remote_code,
            args=self.backend_kwargs(), base_url=self.base_url, api_key_env=self.api_key_env,
        )

    def parallelism(self) -> Parallelism | None:
        """How the engine spreads the model over GPUs (vLLM); None for backends that run on one device."""
        if not backend_entry(self.backend).capabilities.engine_device:
            return None
        return Parallelism.from_args(self.backend_kwargs())

    def judge_options(self) -> BackendOptions:
        """How the judge loads: its own backend, URL, key variable and --judge-arg values (device, dtype: auto).

        An endpoint judge talks through chat completions (as FastChat's judge does) unless
        ``--judge-arg api=completions`` says otherwise.
        """
        args = {key: decode_scalar(value) for key, value in self.judge_args}
        if not backend_entry(self.judge_backend).capabilities.local_model:
            args.setdefault("api", "chat")
        return BackendOptions(
            backend=self.judge_backend, seed=self.seeds["random"], revision=None, args=args,
            base_url=self.judge_base_url, api_key_env=self.judge_api_key_env,
        )

    def generation_kwargs(self) -> dict[str, Any]:
        """--gen-kwarg KEY=VALUE pairs decoded, the known keys checked for type and range."""
        decoded = {key: decode_scalar(value) for key, value in self.gen_kwargs}
        for key, value in decoded.items():
            if key in _GEN_KWARG_RULES:
                _check_gen_kwarg(key, value, *_GEN_KWARG_RULES[key])
        return decoded

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
            elif isinstance(value, tuple):
                data[key] = [list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v for v in value]
        data["seeds"] = self.seeds
        parallelism = self.parallelism()
        if parallelism is not None:  # recorded with the run: `evalsuite results show` prints it
            data["parallelism"] = parallelism.as_json()
        return data

    def result_hash(self, model_identity: str) -> str:
        """Hash of everything that determines the numbers, for finding a run to resume."""
        data = {k: v for k, v in self.to_json().items() if k not in _NON_RESULT_FIELDS}
        data["model_identity"] = model_identity
        encoded = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()[:32]

    def result_differences(self, stored: dict[str, Any]) -> list[str]:
        """The result-defining options that differ from a stored run's config, as `--limit 5 then, 10 now`.

        Why --resume refuses a run: the user sees which flag to repeat, not only "another configuration".
        """
        current = self.to_json()
        differences = []
        for key in sorted(set(current) | set(stored)):
            if key in _NON_RESULT_FIELDS or key == "seeds":  # seeds follow from --seed, which is compared itself
                continue
            before, now = stored.get(key), current.get(key)
            if json.dumps(before, sort_keys=True, default=str) != json.dumps(now, sort_keys=True, default=str):
                differences.append(f"--{key.replace('_', '-')} {_shown(before)} then, {_shown(now)} now")
        return differences

    def with_changes(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)


def _shown(value: Any) -> str:
    return "unset" if value in (None, [], {}) else json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)


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
