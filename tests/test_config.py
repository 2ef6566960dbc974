"""RunConfig validation and the result hash used to find a run to resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.errors import ConfigError
from evalsuite.identity.run_config import LM_EVAL_DEFAULT_SEEDS, RunConfig, check_writable_output, parse_key_values


@pytest.mark.parametrize("limit", [-1, 0])
def test_limit_below_one_is_rejected_with_hint(limit: int) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig.from_flat(model="demo/pico-s", tasks=("pubmedqa",), limit=limit)
    assert info.value.message == f"--limit must be 1 or more, got {limit}" and "N >= 1" in info.value.hint


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_outside_numpys_range_is_rejected(seed: int) -> None:
    with pytest.raises(ConfigError, match="--seed must be between 0 and 4294967295"):
        RunConfig.from_flat(model="m", tasks=("t",), seed=seed)
    assert RunConfig.from_flat(model="m", tasks=("t",), seed=2**32 - 1).prompt.seeds["numpy"] == 2**32 - 1


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (("max_gen_toks", "-5"), "expected an integer >= 1"),
        (("max_new_tokens", "0"), "expected an integer >= 1"),
        (("temperature", "-0.1"), "expected a number >= 0"),
        (("top_p", "1.5"), "expected a number > 0 and <= 1"),
        (("do_sample", "yes"), "expected true or false"),
    ],
)
def test_known_generation_settings_are_checked(pair: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        RunConfig.from_flat(model="m", tasks=("t",), gen_kwargs=(pair,))


def test_generation_settings_are_decoded_and_unknown_ones_pass_through() -> None:
    config = RunConfig.from_flat(model="m", tasks=("t",), gen_kwargs=(("max_gen_toks", "64"), ("temperature", "0"), ("do_sample", "false"), ("custom", "x")))
    assert config.prompt.generation_kwargs() == {"max_gen_toks": 64, "temperature": 0, "do_sample": False, "custom": "x"}


def test_writable_output_check(tmp_path: Path) -> None:
    check_writable_output(tmp_path / "new" / "dir" / "out.json", "--output")  # missing folders are fine
    with pytest.raises(ConfigError, match="is a directory"):
        check_writable_output(tmp_path, "--output")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_writable_output(tmp_path / "file" / "out.json", "--output")


def test_no_cache_does_not_change_the_result_hash() -> None:
    base = RunConfig.from_flat(model="m", tasks=("t",))
    assert base.with_changes(no_cache=True).result_hash("w") == base.result_hash("w")


def test_tasks_and_suite_together_are_rejected() -> None:
    with pytest.raises(ConfigError, match="either --tasks or --suite"):
        RunConfig.from_flat(model="demo/pico-s", tasks=("pubmedqa",), suite="quick")


def test_seed_defaults_match_lm_eval_and_one_seed_sets_all() -> None:
    assert RunConfig.from_flat(model="m", tasks=("t",)).prompt.seeds == LM_EVAL_DEFAULT_SEEDS == {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234}
    assert set(RunConfig.from_flat(model="m", tasks=("t",), seed=7).prompt.seeds.values()) == {7}


def test_result_hash_ignores_output_settings_but_not_numbers() -> None:
    base = RunConfig.from_flat(model="m", tasks=("t",), limit=5)
    assert base.result_hash("w") == base.with_changes(db="other.db", output=None, batch_size="4").result_hash("w")
    assert base.result_hash("w") != base.with_changes(limit=6).result_hash("w")
    assert base.result_hash("w") != base.result_hash("other-weights")


def test_backend_args_are_parsed_and_decoded() -> None:
    config = RunConfig.from_flat(model="m", tasks=("t",), backend_args=parse_key_values(["max_model_len=2048", "enforce_eager=true", "x=0.2"], "--backend-arg"))
    assert config.model.decoded_args() == {"max_model_len": 2048, "enforce_eager": True, "x": 0.2}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_key_values(["oops"], "--backend-arg")
