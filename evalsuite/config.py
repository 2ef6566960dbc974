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

from evalsuite.errors import ConfigError

ENV_DB = "EVALSUITE_DB"
ENV_DATA_DIR = "EVALSUITE_DATA_DIR"
DEFAULT_DB = Path("results") / "evalsuite.db"
BACKENDS = ("transformers", "vllm", "hf")
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda", "mps")

# lm-eval's CLI defaults, kept so that runs without --seed match `lm_eval` exactly.
LM_EVAL_DEFAULT_SEEDS = {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234}

# Fields that do not change any number a run produces.
_NON_RESULT_FIELDS = {"db", "output", "log_samples", "resume", "dry_run", "batch_size", "show_progress"}


def default_db() -> str:
    return os.environ.get(ENV_DB) or str(DEFAULT_DB)


def default_data_dir() -> Path | None:
    value = os.environ.get(ENV_DATA_DIR)
    return Path(value) if value else None


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one evaluation run."""

    model: str
    backend: str = "transformers"
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

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ConfigError(f"--limit must be 0 or more, got {self.limit}", "pass --limit N with N >= 0, or omit it")
        if self.num_fewshot is not None and self.num_fewshot < 0:
            raise ConfigError(f"--num-fewshot must be 0 or more, got {self.num_fewshot}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}", f"choose one of: {', '.join(BACKENDS)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}", f"choose one of: {', '.join(DTYPES)}")
        if self.device.split(":")[0] not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}", "use cpu, cuda, cuda:N or auto")
        if self.batch_size != "auto" and not (self.batch_size.isdigit() and int(self.batch_size) > 0):
            raise ConfigError(f"--batch-size must be a positive integer or 'auto', got {self.batch_size!r}")
        if self.tasks and self.suite:
            raise ConfigError("pass either --tasks or --suite, not both")
        if not self.tasks and not self.suite and not self.text_file:
            raise ConfigError("no tasks given", "pass --tasks a,b or --suite quick (see `evalsuite tasks`)")

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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
            elif isinstance(value, tuple):
                data[key] = [list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v for v in value]
        data["seeds"] = self.seeds
        return data

    def result_hash(self, model_identity: str) -> str:
        """Hash of everything that determines the numbers, for finding a run to resume."""
        data = {k: v for k, v in self.to_json().items() if k not in _NON_RESULT_FIELDS}
        data["model_identity"] = model_identity
        encoded = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()[:32]

    def with_changes(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)


def parse_key_values(pairs: list[str], flag: str) -> tuple[tuple[str, str], ...]:
    """Parse repeatable ``KEY=VALUE`` flags; the library never sees packed strings."""
    parsed: list[tuple[str, str]] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} expects KEY=VALUE, got {pair!r}", f"write it as {flag} max_model_len=2048")
        parsed.append((key.strip(), value.strip()))
    return tuple(parsed)


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
