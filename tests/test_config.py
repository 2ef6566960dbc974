"""RunConfig validation and the result hash used to find a run to resume."""

from __future__ import annotations

import pytest

from evalsuite.config import LM_EVAL_DEFAULT_SEEDS, RunConfig, parse_key_values
from evalsuite.errors import ConfigError


def test_negative_limit_is_rejected_with_hint() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(model="demo/pico-s", tasks=("pubmedqa",), limit=-1)
    assert "--limit" in info.value.message and "N >= 0" in info.value.hint


def test_tasks_and_suite_together_are_rejected() -> None:
    with pytest.raises(ConfigError, match="either --tasks or --suite"):
        RunConfig(model="demo/pico-s", tasks=("pubmedqa",), suite="quick")


def test_seed_defaults_match_lm_eval_and_one_seed_sets_all() -> None:
    assert RunConfig(model="m", tasks=("t",)).seeds == LM_EVAL_DEFAULT_SEEDS == {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234}
    assert set(RunConfig(model="m", tasks=("t",), seed=7).seeds.values()) == {7}


def test_result_hash_ignores_output_settings_but_not_numbers() -> None:
    base = RunConfig(model="m", tasks=("t",), limit=5)
    assert base.result_hash("w") == base.with_changes(db="other.db", output=None, batch_size="4").result_hash("w")
    assert base.result_hash("w") != base.with_changes(limit=6).result_hash("w")
    assert base.result_hash("w") != base.result_hash("other-weights")


def test_backend_args_are_parsed_and_decoded() -> None:
    config = RunConfig(model="m", tasks=("t",), backend_args=parse_key_values(["max_model_len=2048", "enforce_eager=true", "x=0.2"], "--backend-arg"))
    assert config.backend_kwargs() == {"max_model_len": 2048, "enforce_eager": True, "x": 0.2}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_key_values(["oops"], "--backend-arg")
