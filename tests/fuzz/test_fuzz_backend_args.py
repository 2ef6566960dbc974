"""Fuzz ``--backend-arg KEY=VALUE`` parsing and checking, with --batch-size, --device and --dtype.

Flags go through ``parse_key_values`` and ``decode_scalar`` (evalsuite.identity.run_config) into
``RunConfig`` (resolved by evalsuite.execution.resolve) / ``BackendOptions`` (evalsuite.backends.options), then
``check_backend_options`` matches them against the backend class (evalsuite.backends.arg_types).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from fuzz_support import MAX_EXAMPLES, cli_fails_cleanly, succeeds_or_project_error, text, trial
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evalsuite.backends.registry import check_backend_options
from evalsuite.backends.requests import model_options
from evalsuite.execution.resolve import resolve
from evalsuite.identity.run_config import RunConfig, decode_scalar, parse_key_values

KEYS = [
    "max_length", "add_bos_token", "max_batch_tokens", "token",  # transformers options
    "device", "dtype", "batch_size", "pretrained", "revision",  # set by their own flags
    "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "max_model_len", "gpu_memory_utilization",  # vLLM
    "api", "max_lenght", "MAX_LENGTH", "", " ", "模型", "a=b",
]  # fmt: skip
VALUES = [
    "1", "0", "-1", "2048", "9" * 30, "-" + "9" * 30, "1e999", "-1e999", "nan", "inf", "-0", "0.5", "1.0", "1_000", "0x10",
    "²", "٣", "true", "false", "True", "none", "null", "", " ", "auto", "bfloat16", "é", "\x00", "1,2",
]  # fmt: skip
key = st.integers(min_value=0, max_value=3).flatmap(lambda pick: text if pick == 3 else st.sampled_from(KEYS))
value = st.sampled_from(VALUES) | text | st.integers().map(str) | st.floats().map(repr)
separator = st.integers(min_value=0, max_value=5).flatmap(lambda pick: st.sampled_from(["==", " = ", ":", ""]) if pick == 5 else st.just("="))
backend_arg = st.builds(lambda k, s, v: f"{k}{s}{v}", key, separator, value)

batch_size = st.sampled_from(["0", "-1", "1.5", "", "Auto", "9" * 40]) | st.text(st.characters(categories=("N",)), min_size=1, max_size=3) | text  # unicode numerals: ², ٣, Ⅻ
device = st.sampled_from(["cuda", "cuda:0", "cuda:x", "cuda:", "cuda:-1", "cpu:0", "cpu:x", "mps", "tpu", "", ":"]) | text
dtype = st.sampled_from(["fp8", "", "FLOAT32"]) | text
backend = st.sampled_from(["tensorrt", "", "Transformers"]) | text
VALID = {"backend_": ["transformers", "openai", "vllm"], "batch": ["auto", "1", "8"], "device_": ["auto", "cpu"], "dtype_": ["auto", "float32"]}
WRONG = {"backend_": backend, "batch": batch_size, "device_": device, "dtype_": dtype}


@st.composite
def flags(draw: st.DrawFn) -> dict[str, Any]:
    """Valid flags with at most one of them fuzzed, so the wrong one gets past the checks before it."""
    wrong = draw(st.sampled_from(["args", "args", *WRONG]))
    chosen: dict[str, Any] = {name: draw(WRONG[name] if name == wrong else st.sampled_from(values)) for name, values in VALID.items()}
    good_args = st.lists(st.sampled_from(["max_length=64", "add_bos_token=true", "max_batch_tokens=512"]), max_size=2, unique=True)
    chosen["args"] = draw(st.lists(backend_arg, min_size=1, max_size=3) if wrong == "args" else good_args)
    return chosen


def _config(backend_: str, args: list[str], batch: str, device_: str, dtype_: str) -> Any:
    config = resolve(RunConfig.from_flat(
        model="demo/pico-s", backend=backend_, tasks=("pubmedqa",), batch_size=batch, device=device_, dtype=dtype_,
        backend_args=parse_key_values(args, "--backend-arg"),
        base_url="http://127.0.0.1:9/v1" if backend_ == "openai" else None,
    ))
    if backend_ != "vllm":  # checking vLLM's options imports vLLM (seconds); its parallel sizes are checked above
        check_backend_options(model_options(config))
    return config


@pytest.fixture(scope="module", autouse=True)
def _imports_done() -> None:
    """Import torch and the backends once, outside the examples' deadline."""
    for name in ("transformers", "openai"):
        _config(name, [], "auto", "auto", "auto")


@settings(max_examples=MAX_EXAMPLES["backend_args"])
@given(chosen=flags())
@example(chosen={"backend_": "transformers", "batch": "④", "device_": "auto", "dtype_": "auto", "args": []})  # found by fuzzing: crashed
def test_any_backend_flags_are_accepted_or_refused_with_a_hint(chosen: dict[str, Any]) -> None:
    with trial("backend_args"):
        outcome = succeeds_or_project_error(lambda: _config(**chosen))
    if isinstance(outcome, RunConfig):  # an accepted flag reaches the backend as written, decoded once
        decoded = model_options(outcome).args
        for pair in chosen["args"]:
            name, _, raw = pair.partition("=")
            assert name.strip() in decoded
        assert all(isinstance(v, bool | int | float | str | type(None)) for v in decoded.values())
        assert re.fullmatch(r"auto|cpu|cuda|mps|cuda:[0-9]+", outcome.model.device), outcome.model.device  # what torch accepts
        assert outcome.model.batch_size == "auto" or int(outcome.model.batch_size) > 0


@settings(max_examples=MAX_EXAMPLES["backend_args"] // 8)
@given(number=st.integers(), flag=st.booleans(), word=st.text(st.characters(codec="ascii", categories=("L",)), min_size=1))
def test_decoded_values_match_what_was_written(number: int, flag: bool, word: str) -> None:
    """The control: integers, booleans and words decode to themselves (values written back as text)."""
    with trial("backend_args"):
        assert decode_scalar(str(number)) == number
        assert decode_scalar(str(flag).lower()) is flag
        decoded = decode_scalar(word)
    if word.lower() not in ("true", "false", "none", "null", "nan", "inf", "infinity"):
        assert decoded == word
    else:
        assert decoded is None or isinstance(decoded, bool) or math.isnan(decoded) or math.isinf(decoded)


# Flags every backend refuses: unknown keys, keys owned by another flag, values of the wrong type, no '='.
BAD_ARGS = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["max_lenght", "MAX_LENGTH", "tokenizer", "模型", "gpu_memory"]), value),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["device", "dtype", "batch_size", "pretrained", "trust_remote_code"]), value),
    st.builds(lambda v: f"max_length={v}", st.sampled_from(["abc", "1.5", "true", "nan", "inf", "1e999", "é", "0x10"])),
    st.builds(lambda v: f"add_bos_token={v}", st.sampled_from(["1", "0", "yes", "2.5", "auto"])),
    st.builds(lambda k: k, st.sampled_from(["max_length", "=5", " =1", "", "max_length:5"])),
)


@pytest.mark.parametrize("command", ["run", "arena generate"])
@settings(max_examples=MAX_EXAMPLES["backend_args"] // 16)
@given(bad=BAD_ARGS, good=st.lists(st.sampled_from(["max_length=64", "add_bos_token=true"]), max_size=1, unique=True))
def test_cli_refuses_a_bad_backend_arg(command: str, bad: str, good: list[str]) -> None:
    args = [a for pair in [*good, bad] for a in ("--backend-arg", pair)]
    with trial("backend_args"):
        if command == "run":
            output = cli_fails_cleanly(["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--dry-run", *args])
        else:
            output = cli_fails_cleanly(["arena", "generate", "--model", "demo/pico-s", "--db", "/nonexistent-dir/x.db", *args])
    assert "--backend-arg" in output
