"""RunConfig: its plain-value checks, its stored flat record, the resolution, and the result hash used to find a run to resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.errors import ConfigError, JudgeError
from evalsuite.execution.resolve import resolve
from evalsuite.identity.run_config import LM_EVAL_DEFAULT_SEEDS, ModelRequest, RunConfig, check_writable_output, parse_key_values


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


# What runs.config has held since judged tasks (the flat record --resume hashes): the stored format.
STORED_KEYS = {
    "model", "backend", "tasks", "suite", "limit", "num_fewshot", "batch_size", "device", "dtype", "seed", "db", "data_dir",
    "text_file", "include_path", "output", "log_samples", "revision", "trust_remote_code", "apply_chat_template",
    "fewshot_as_multiturn", "system_instruction", "backend_args", "gen_kwargs", "resume", "dry_run", "show_progress", "no_cache", "executor", "ray_address", "replicas",
    "base_url", "api_key_env", "judge", "judge_backend", "judge_base_url", "judge_api_key_env", "judge_args", "judge_max_tokens", "seeds",
}


def test_building_a_config_reads_no_registry_and_the_resolution_applies_them() -> None:
    unknown_backend = RunConfig.from_flat(model="m", tasks=("t",), backend="no-such-backend", db="x.db")  # built: plain values only
    with pytest.raises(ConfigError, match="no-such-backend"):
        resolve(unknown_backend)
    judged = RunConfig.from_flat(model="demo/pico-s", tasks=("mt_bench",), db="x.db")
    assert judged.prompt.apply_chat_template is False
    with pytest.raises(JudgeError, match="needs a judge"):
        resolve(judged)
    forced = resolve(judged.with_changes(judge="demo/pico-judge"))
    assert forced.prompt.apply_chat_template is True and forced.judge == ModelRequest(name="demo/pico-judge")
    nous = RunConfig.from_flat(model="demo/pico-m", suite="nous", db="x.db")
    assert nous.model.backend_args == () and resolve(nous).model.backend_args == (("add_bos_token", "false"),)


def test_to_json_is_the_stored_flat_record_and_from_json_gives_the_config_back() -> None:
    config = resolve(RunConfig.from_flat(
        model="demo/pico-s", tasks=("mt_bench",), judge="demo/pico-judge", judge_backend="openai", judge_base_url="http://127.0.0.1:9/v1",
        judge_args=(("api", "completions"),), judge_max_tokens=64, seed=3, gen_kwargs=(("max_gen_toks", "8"),), db="x.db",
        include_path=(Path("tasks"),), output=Path("out.json"),
    ))
    stored = json.loads(json.dumps(config.to_json()))  # as runs.config holds it
    assert set(stored) == STORED_KEYS
    assert (stored["judge"], stored["judge_backend"], stored["judge_args"], stored["model"]) == ("demo/pico-judge", "openai", [["api", "completions"]], "demo/pico-s")
    assert stored["include_path"] == ["tasks"] and stored["seeds"] == {"random": 3, "numpy": 3, "torch": 3, "fewshot": 3}
    assert RunConfig.from_json(stored) == config and RunConfig.from_json(stored).result_hash("w") == config.result_hash("w")
    without_judge = RunConfig.from_flat(model="m", tasks=("t",), db="x.db").to_json()
    assert set(without_judge) == STORED_KEYS and (without_judge["judge"], without_judge["judge_backend"], without_judge["judge_args"]) == (None, "transformers", [])


def test_an_old_stored_config_loads_and_unknown_keys_are_ignored() -> None:
    """A config stored before --base-url, --no-cache and judges existed, with the keys a run adds beside it."""
    old = {
        "model": "demo/pico-s", "backend": "transformers", "tasks": ["pubmedqa"], "suite": None, "limit": 2, "num_fewshot": None,
        "batch_size": "auto", "device": "auto", "dtype": "auto", "seed": None, "db": "old.db", "data_dir": None, "text_file": None,
        "include_path": [], "output": "old.json", "log_samples": True, "revision": None, "trust_remote_code": False,
        "apply_chat_template": False, "fewshot_as_multiturn": None, "system_instruction": None, "backend_args": [["max_length", "128"]],
        "gen_kwargs": [], "resume": None, "dry_run": False, "seeds": {"random": 0}, "judge_key": "k",
    }
    config = RunConfig.from_json(old)
    assert config.model == ModelRequest(name="demo/pico-s", backend_args=(("max_length", "128"),))
    assert config.selection.limit == 2 and config.outputs.output == Path("old.json") and config.judge is None
    assert config.controls.no_cache is False and config.model.base_url is None


def test_with_changes_takes_flat_names_and_refuses_unknown_ones() -> None:
    base = RunConfig.from_flat(model="m", tasks=("t",), db="x.db")
    assert base.with_changes(model="other", limit=3).model.name == "other" and base.with_changes(limit=3).selection.limit == 3
    with pytest.raises(TypeError, match="no option colour"):
        base.with_changes(colour="red")
    with pytest.raises(ConfigError, match="device cannot be set"):
        RunConfig(model=base.model, selection=base.selection, outputs=base.outputs, judge=ModelRequest(name="j", device="cuda"))
